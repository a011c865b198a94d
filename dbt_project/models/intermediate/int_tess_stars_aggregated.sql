-- One row per TIC host star of the latest TOI batch. Stellar parameters come from the star's
-- first TOI by toi number: the TOIs of a star carry the same TIC parameters except where the
-- archive updated one row and not the others.

with

tois as (

    select * from {{ ref('stg_tess__toi') }}

),

ordered as (

    select
        *,
        row_number() over (
            partition by tic_id order by cast(toi as numeric), toi
        ) as toi_order_on_star

    from tois

),

first_toi as (

    select
        tic_id,
        load_batch_id,
        toi as stellar_values_from_toi,
        stellar_teff_k,
        stellar_logg_cgs,
        stellar_radius_solar,
        tess_magnitude,
        stellar_distance_pc,
        proper_motion_ra_mas_per_yr,
        proper_motion_dec_mas_per_yr,
        ra_deg,
        dec_deg,
        {{ round_sig(stellar_density_catalogue_gcc('stellar_logg_cgs', 'stellar_radius_solar')) }}
            as stellar_density_catalogue_gcc

    from ordered

    where toi_order_on_star = 1

),

counts as (

    select
        tic_id,
        cast(count(*) as integer) as n_tois,
        cast(sum(case when tfopwg_disp in ('CP', 'KP') then 1 else 0 end) as integer)
            as n_planets,
        cast(sum(case when tfopwg_disp in ('PC', 'APC') then 1 else 0 end) as integer)
            as n_candidates,
        cast(sum(case when tfopwg_disp in ('FP', 'FA') then 1 else 0 end) as integer)
            as n_false_positives,
        cast(sum(case when tfopwg_disp is null then 1 else 0 end) as integer)
            as n_undispositioned

    from tois

    group by tic_id

),

final as (

    select
        first_toi.*,
        counts.n_tois,
        counts.n_planets,
        counts.n_candidates,
        counts.n_false_positives,
        counts.n_undispositioned

    from first_toi

    inner join counts
        on first_toi.tic_id = counts.tic_id

)

select * from final
