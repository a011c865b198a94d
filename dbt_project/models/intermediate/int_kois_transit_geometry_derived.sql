-- Transit geometry and stellar-density consistency per KOI.
-- A planet transiting its own star implies a stellar density (Seager & Mallen-Ornelas 2003)
-- that must agree with the catalogue density; a background eclipsing binary usually does not.

with

kois as (

    select * from {{ ref('stg_kepler__koi') }}

),

inputs as (

    select
        kepoi_name,
        orbital_period_days,
        orbital_period_days * 86400.0 as orbital_period_s,
        transit_duration_hours,
        impact_parameter,
        planet_radius_earth,
        stellar_radius_solar,
        power(10.0, stellar_logg_cgs) as surface_gravity_cgs,
        case
            when transit_depth_ppm >= 0 then sqrt(transit_depth_ppm / 1e6)
        end as radius_ratio,
        -- sin^2(pi T / P), only for 0 < T < P (T in hours, P in days)
        case
            when transit_duration_hours > 0
                and transit_duration_hours < orbital_period_days * 24.0
                then power(sin(pi() * transit_duration_hours / (orbital_period_days * 24.0)), 2)
        end as sin2_half_transit_phase,
        {{ stellar_density_catalogue_gcc('stellar_logg_cgs', 'stellar_radius_solar') }}
            as stellar_density_catalogue_gcc

    from kois

),

transit_shape as (

    select
        *,
        -- numerator of (a/R*)^2 for a circular orbit; defined only when the chord exists
        case
            when impact_parameter <= 1.0 + radius_ratio
                and sin2_half_transit_phase > 0
                then power(1.0 + radius_ratio, 2)
                    - power(impact_parameter, 2) * (1.0 - sin2_half_transit_phase)
        end as a_over_rstar_sq_numerator,
        -- Kepler's third law with M* = g R*^2 / G:  a / R* = (g P^2 / (4 pi^2 R*))^(1/3)
        power(
            surface_gravity_cgs * power(orbital_period_s, 2)
            / (
                4.0 * power(pi(), 2)
                * nullif(stellar_radius_solar, 0) * {{ var('solar_radius_cm') }}
            ),
            1.0 / 3.0
        ) as a_over_rstar_kepler

    from inputs

),

orbits as (

    select
        *,
        case
            when a_over_rstar_sq_numerator > 0
                then sqrt(a_over_rstar_sq_numerator / sin2_half_transit_phase)
        end as a_over_rstar_transit

    from transit_shape

),

densities as (

    select
        *,
        -- rho* = 3 pi (a/R*)^3 / (G P^2)   [g cm^-3]
        3.0 * pi() * power(a_over_rstar_transit, 3)
            / ({{ var('gravitational_constant_cgs') }} * power(nullif(orbital_period_s, 0), 2))
            as stellar_density_transit_gcc,
        -- central transit of a point planet: T0 = (P / pi) arcsin(R* / a)   [hours]
        case
            when a_over_rstar_kepler >= 1
                then orbital_period_days * 24.0 / pi() * asin(1.0 / a_over_rstar_kepler)
        end as expected_duration_hours

    from orbits

),

derived as (

    select
        kepoi_name,
        radius_ratio,
        stellar_density_catalogue_gcc,
        a_over_rstar_transit,
        stellar_density_transit_gcc,
        {{ safe_log10('stellar_density_transit_gcc / nullif(stellar_density_catalogue_gcc, 0)') }}
            as log10_density_ratio,
        a_over_rstar_kepler,
        expected_duration_hours,
        transit_duration_hours / nullif(expected_duration_hours, 0) as duration_ratio,
        planet_radius_earth
            / nullif(
                radius_ratio * stellar_radius_solar * {{ var('earth_radii_per_solar_radius') }}, 0
            ) as planet_radius_consistency,
        impact_parameter > 1.0 - radius_ratio as is_grazing

    from densities

),

final as (

    select
        kepoi_name,
        {{ round_sig('radius_ratio') }} as radius_ratio,
        {{ round_sig('stellar_density_catalogue_gcc') }} as stellar_density_catalogue_gcc,
        {{ round_sig('a_over_rstar_transit') }} as a_over_rstar_transit,
        {{ round_sig('stellar_density_transit_gcc') }} as stellar_density_transit_gcc,
        {{ round_sig('log10_density_ratio') }} as log10_density_ratio,
        {{ round_sig('a_over_rstar_kepler') }} as a_over_rstar_kepler,
        {{ round_sig('expected_duration_hours') }} as expected_duration_hours,
        {{ round_sig('duration_ratio') }} as duration_ratio,
        {{ round_sig('planet_radius_consistency') }} as planet_radius_consistency,
        is_grazing

    from derived

)

select * from final
