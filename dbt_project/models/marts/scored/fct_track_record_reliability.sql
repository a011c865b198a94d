-- The reliability of the old scores: per (model version, scored snapshot, later snapshot) and
-- bin of old P(planet) (tenths: [0, 0.1) ... [0.9, 1]), the share confirmed among the signals
-- of the bin the archive has resolved since. A calibrated 0.9 means nine in ten of them. Only
-- the signals the track record counts (fct_track_record_signals, its honesty guard).

with

signals as (

    select * from {{ ref('fct_track_record_signals') }}

),

binned as (

    select
        *,
        least(floor(old_p_planet * 10), 9)::integer as p_planet_bin

    from signals

),

final as (

    select

        ---------- keys
        model_version,
        scored_load_batch_id,
        later_load_batch_id,
        p_planet_bin,

        ---------- the bin
        max(mission) as mission,
        p_planet_bin / 10.0::double precision as p_planet_from,
        (p_planet_bin + 1) / 10.0::double precision as p_planet_to,

        ---------- what became of its signals
        count(*) as n_signals,
        count(*) filter (where is_resolved) as n_resolved,
        count(*) filter (where is_confirmed) as n_confirmed,
        avg(old_p_planet) filter (where is_resolved) as mean_old_p_planet_resolved,
        count(*) filter (where is_confirmed)::double precision
        / nullif(count(*) filter (where is_resolved), 0) as share_confirmed

    from binned

    group by model_version, scored_load_batch_id, later_load_batch_id, p_planet_bin

)

select * from final
