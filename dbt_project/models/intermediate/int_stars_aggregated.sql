-- One row per star (kepid). Stellar parameters come from the star's first KOI by kepoi_name:
-- the KOIs of a star carry the same stellar fit except for a few stars refit between deliveries.

with

kois as (

    select * from {{ ref('stg_kepler__koi') }}

),

ordered as (

    select
        *,
        row_number() over (partition by kepid order by kepoi_name) as koi_order_on_star

    from kois

),

first_koi as (

    select
        kepid,
        load_batch_id,
        kepoi_name as stellar_values_from_kepoi_name,
        stellar_teff_k,
        stellar_logg_cgs,
        stellar_radius_solar,
        ra_deg,
        dec_deg,
        kepler_magnitude,
        {{ round_sig(stellar_density_catalogue_gcc('stellar_logg_cgs', 'stellar_radius_solar')) }}
            as stellar_density_catalogue_gcc

    from ordered

    where koi_order_on_star = 1

),

counts as (

    select
        kepid,
        cast(count(*) as integer) as n_kois,
        cast(sum(case when koi_disposition = 'CONFIRMED' then 1 else 0 end) as integer)
            as n_confirmed,
        cast(sum(case when koi_disposition = 'CANDIDATE' then 1 else 0 end) as integer)
            as n_candidate,
        cast(sum(case when koi_disposition = 'FALSE POSITIVE' then 1 else 0 end) as integer)
            as n_false_positive

    from kois

    group by kepid

),

final as (

    select
        first_koi.*,
        counts.n_kois,
        counts.n_confirmed,
        counts.n_candidate,
        counts.n_false_positive

    from first_koi

    inner join counts
        on first_koi.kepid = counts.kepid

)

select * from final
