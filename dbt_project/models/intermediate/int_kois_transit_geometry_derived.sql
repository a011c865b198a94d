-- Transit geometry and stellar-density consistency per KOI.
-- A planet transiting its own star implies a stellar density (Seager & Mallen-Ornelas 2003)
-- that must agree with the catalogue density; a background eclipsing binary usually does not.
-- The formulas are shared with the TOIs (macros/transit_signals.sql).

with

kois as (

    select * from {{ ref('stg_kepler__koi') }}

),

{{ transit_geometry_ctes('kois', 'kepoi_name') }},

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
