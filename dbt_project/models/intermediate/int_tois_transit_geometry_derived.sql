-- Transit geometry and stellar-density consistency per TOI, with the KOIs' formulas
-- (macros/transit_signals.sql). The TOI table fits no impact parameter: b = 0 (a central
-- transit) is assumed, which makes a/R* from the transit shape, and so the transit density, an
-- upper bound (exact for b = 0, too high by up to ~(1 - b^2)^(-3/2) otherwise); is_grazing is
-- not defined.

with

tois as (

    select * from {{ ref('stg_tess__toi') }}

),

{{ transit_geometry_ctes('tois', 'toi', impact_parameter='cast(0 as double precision)') }},

final as (

    select
        toi,
        {{ round_sig('radius_ratio') }} as radius_ratio,
        {{ round_sig('stellar_density_catalogue_gcc') }} as stellar_density_catalogue_gcc,
        {{ round_sig('a_over_rstar_transit') }} as a_over_rstar_transit,
        {{ round_sig('stellar_density_transit_gcc') }} as stellar_density_transit_gcc,
        {{ round_sig('log10_density_ratio') }} as log10_density_ratio,
        {{ round_sig('a_over_rstar_kepler') }} as a_over_rstar_kepler,
        {{ round_sig('expected_duration_hours') }} as expected_duration_hours,
        {{ round_sig('duration_ratio') }} as duration_ratio,
        {{ round_sig('planet_radius_consistency') }} as planet_radius_consistency

    from derived

)

select * from final
