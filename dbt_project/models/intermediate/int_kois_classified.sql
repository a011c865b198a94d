-- Planet-size class and habitable-zone membership per KOI.
-- Habitable zone: the conservative HZ of Kopparapu et al. 2013 (ApJ 765, 131; erratum
-- coefficients): inner edge = moist greenhouse, outer edge = maximum greenhouse, each
-- S_eff(T) = S_sun + a t + b t^2 + c t^3 + d t^4 with t = Teff - 5780 K, fitted for
-- 2600 K <= Teff <= 7200 K (Teff is clamped to that range).

with

kois as (

    select * from {{ ref('stg_kepler__koi') }}

),

stellar as (

    select
        kepoi_name,
        planet_radius_earth,
        insolation_earth_flux,
        -- explicit NULL: greatest()/least() skip NULLs and would turn a missing Teff into 2600 K
        case
            when stellar_teff_k is not null
                then least(greatest(stellar_teff_k, 2600.0), 7200.0) - 5780.0
        end as teff_offset_k

    from kois

),

hz_edges as (

    select
        *,
        1.0146
            + 8.1884e-5 * teff_offset_k
            + 1.9394e-9 * power(teff_offset_k, 2)
            - 4.3618e-12 * power(teff_offset_k, 3)
            - 6.8260e-16 * power(teff_offset_k, 4)
            as hz_inner_flux_earth,
        0.3507
            + 5.9578e-5 * teff_offset_k
            + 1.6707e-9 * power(teff_offset_k, 2)
            - 3.0058e-12 * power(teff_offset_k, 3)
            - 5.1925e-16 * power(teff_offset_k, 4)
            as hz_outer_flux_earth

    from stellar

),

final as (

    select
        kepoi_name,
        case
            when planet_radius_earth < 1.25 then 'earth_size'
            when planet_radius_earth < 2.0 then 'super_earth'
            when planet_radius_earth < 4.0 then 'sub_neptune'
            when planet_radius_earth < 6.0 then 'neptune'
            when planet_radius_earth <= 15.0 then 'giant'
            when planet_radius_earth > 15.0 then 'very_large'
        end as radius_class,
        planet_radius_earth > 15.0 as is_giant_radius,
        {{ round_sig('hz_inner_flux_earth') }} as hz_inner_flux_earth,
        {{ round_sig('hz_outer_flux_earth') }} as hz_outer_flux_earth,
        insolation_earth_flux between hz_outer_flux_earth and hz_inner_flux_earth
            as is_in_habitable_zone

    from hz_edges

)

select * from final
