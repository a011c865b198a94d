-- Planet-size class and habitable-zone membership per KOI (formulas in macros/features.sql,
-- shared with the TOIs: fct_toi_predictions).
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
        {{ hz_teff_offset_k('stellar_teff_k') }} as teff_offset_k

    from kois

),

hz_edges as (

    select
        *,
        {{ hz_inner_flux_earth('teff_offset_k') }} as hz_inner_flux_earth,
        {{ hz_outer_flux_earth('teff_offset_k') }} as hz_outer_flux_earth

    from stellar

),

final as (

    select
        kepoi_name,
        {{ radius_class('planet_radius_earth') }} as radius_class,
        planet_radius_earth > 15.0 as is_giant_radius,
        {{ round_sig('hz_inner_flux_earth') }} as hz_inner_flux_earth,
        {{ round_sig('hz_outer_flux_earth') }} as hz_outer_flux_earth,
        insolation_earth_flux between hz_outer_flux_earth and hz_inner_flux_earth
            as is_in_habitable_zone

    from hz_edges

)

select * from final
