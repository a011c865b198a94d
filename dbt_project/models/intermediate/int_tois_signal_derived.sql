-- Scale-free transforms and measurement quality per TOI, with the KOIs' formulas (macros/
-- features.sql). The TOI table has no transit SNR, so there is no per-transit signal.

with

tois as (

    select * from {{ ref('stg_tess__toi') }}

),

derived as (

    select
        toi,

        ---------- log10 transforms (NULL for values <= 0)
        {{ safe_log10('orbital_period_days') }} as log10_orbital_period,
        {{ safe_log10('transit_depth_ppm') }} as log10_transit_depth,
        {{ safe_log10('planet_radius_earth') }} as log10_planet_radius,

        ---------- relative uncertainties ((err1 - err2) / 2 / |value|)
        {{ relative_uncertainty(
            'orbital_period_days', 'orbital_period_days_err1', 'orbital_period_days_err2'
        ) }} as orbital_period_rel_unc,
        {{ relative_uncertainty(
            'transit_depth_ppm', 'transit_depth_ppm_err1', 'transit_depth_ppm_err2'
        ) }} as transit_depth_rel_unc,
        {{ relative_uncertainty(
            'transit_duration_hours', 'transit_duration_hours_err1', 'transit_duration_hours_err2'
        ) }} as transit_duration_rel_unc,
        {{ relative_uncertainty(
            'planet_radius_earth', 'planet_radius_earth_err1', 'planet_radius_earth_err2'
        ) }} as planet_radius_rel_unc

    from tois

),

final as (

    select
        toi,
        {{ round_sig('log10_orbital_period') }} as log10_orbital_period,
        {{ round_sig('log10_transit_depth') }} as log10_transit_depth,
        {{ round_sig('log10_planet_radius') }} as log10_planet_radius,
        {{ round_sig('orbital_period_rel_unc') }} as orbital_period_rel_unc,
        {{ round_sig('transit_depth_rel_unc') }} as transit_depth_rel_unc,
        {{ round_sig('transit_duration_rel_unc') }} as transit_duration_rel_unc,
        {{ round_sig('planet_radius_rel_unc') }} as planet_radius_rel_unc

    from derived

)

select * from final
