-- System multiplicity: how many KOIs share the star, this KOI's place by orbital period, and how
-- its period relates to its neighbours' (a ratio near 1 or a small integer hints at an eclipsing
-- binary's primary/secondary or a harmonic, rather than a second planet).
-- Counts every KOI of the star in the batch, whatever its disposition (no label leaks in).

with

kois as (

    select * from {{ ref('stg_kepler__koi') }}

),

period_pairs as (

    select
        this.kepoi_name,
        greatest(
            this.orbital_period_days / other.orbital_period_days,
            other.orbital_period_days / this.orbital_period_days
        ) as period_ratio

    from kois as this
    inner join kois as other
        on this.kepid = other.kepid
        and this.kepoi_name <> other.kepoi_name
    where this.orbital_period_days > 0
        and other.orbital_period_days > 0

),

neighbours as (

    select
        kepoi_name,
        min(period_ratio) as nearest_period_ratio_on_star,
        -- distance of the closest period ratio (below 10.5) to an integer; 0.5 when none is
        coalesce(
            min(abs(period_ratio - round(period_ratio))) filter (where period_ratio < 10.5),
            0.5
        ) as period_ratio_integer_offset

    from period_pairs
    group by kepoi_name

),

final as (

    select
        kois.kepoi_name,
        kois.kepid,
        cast(count(*) over (partition by kois.kepid) as integer) as n_kois_on_star,
        cast(
            row_number() over (
                partition by kois.kepid
                order by kois.orbital_period_days, kois.kepoi_name
            ) as integer
        ) as period_rank_on_star,
        {{ round_sig('neighbours.nearest_period_ratio_on_star') }} as nearest_period_ratio_on_star,
        {{ round_sig('neighbours.period_ratio_integer_offset') }} as period_ratio_integer_offset

    from kois
    left join neighbours
        on kois.kepoi_name = neighbours.kepoi_name

)

select * from final
