-- System multiplicity: how many KOIs share the star, and this KOI's place by orbital period.
-- Counts every KOI of the star in the batch, whatever its disposition (no label leaks in).

with

kois as (

    select * from {{ ref('stg_kepler__koi') }}

),

final as (

    select
        kepoi_name,
        kepid,
        cast(count(*) over (partition by kepid) as integer) as n_kois_on_star,
        cast(
            row_number() over (
                partition by kepid
                order by orbital_period_days, kepoi_name
            ) as integer
        ) as period_rank_on_star

    from kois

)

select * from final
