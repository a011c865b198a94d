-- The disposition of every KOI and TOI in every loaded snapshot of its table, both missions in
-- one shape: one row per (mission, archive snapshot, signal). Snapshots are ordered by the
-- archive's export time (snapshot_at, from the file header), never by load order, so loading an
-- older export after a newer one gives the same rows. Two loaded batches of one table with the
-- same snapshot time are one snapshot: the later load_batch_id, as staging chooses.
-- disposition_class says what the disposition means for the models: planet and false_positive
-- are the labels they train on; unresolved (CANDIDATE, PC, APC, or blank: not yet
-- dispositioned) is what they score and never train on.

with

koi_dispositions as (

    select * from {{ ref('stg_kepler__koi_dispositions') }}

),

toi_dispositions as (

    select * from {{ ref('stg_tess__toi_dispositions') }}

),

unioned as (

    select
        'Kepler' as mission,
        kepoi_name as signal_name,
        kepid as host_star_id,
        load_batch_id,
        snapshot_at,
        koi_disposition as disposition,
        case
            when koi_disposition = 'CONFIRMED' then 'planet'
            when koi_disposition = 'FALSE POSITIVE' then 'false_positive'
            else 'unresolved'
        end as disposition_class

    from koi_dispositions

    union all

    select
        'TESS' as mission,
        'TOI-' || toi as signal_name,
        tic_id as host_star_id,
        load_batch_id,
        snapshot_at,
        tfopwg_disp as disposition,
        case
            when tfopwg_disp in ('CP', 'KP') then 'planet'
            when tfopwg_disp in ('FP', 'FA') then 'false_positive'
            else 'unresolved'
        end as disposition_class

    from toi_dispositions

),

---------- one batch per (mission, snapshot time): the later load, as staging reads it
snapshot_batches as (

    select
        mission,
        snapshot_at,
        max(load_batch_id) as load_batch_id

    from unioned

    group by mission, snapshot_at

),

sequenced as (

    select
        mission,
        snapshot_at,
        load_batch_id,
        row_number() over (partition by mission order by snapshot_at) as snapshot_number,
        lead(snapshot_at) over (partition by mission order by snapshot_at) as next_snapshot_at

    from snapshot_batches

),

final as (

    select

        ---------- keys
        unioned.mission,
        unioned.signal_name,
        unioned.host_star_id,

        ---------- snapshot
        unioned.load_batch_id,
        unioned.snapshot_at,
        sequenced.snapshot_number,
        sequenced.next_snapshot_at,

        ---------- disposition
        unioned.disposition,
        unioned.disposition_class

    from unioned

    inner join sequenced
        on
            unioned.mission = sequenced.mission
            and unioned.load_batch_id = sequenced.load_batch_id

)

select * from final
