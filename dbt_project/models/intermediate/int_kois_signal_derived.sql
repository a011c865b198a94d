-- Signal strength, scale-free transforms and measurement quality per KOI.

with

kois as (

    select * from {{ ref('stg_kepler__koi') }}

),

transits as (

    select
        *,
        -- transits that fit in the Kepler baseline (an upper bound: data gaps lose some);
        -- 0 when the period exceeds the baseline (single-transit candidates)
        cast(
            floor({{ var('kepler_baseline_days') }} / nullif(orbital_period_days, 0)) as integer
        ) as n_transits_kepler

    from kois

),

derived as (

    select
        kepoi_name,

        ---------- log10 transforms (NULL for values <= 0)
        {{ safe_log10('orbital_period_days') }} as log10_orbital_period,
        {{ safe_log10('transit_depth_ppm') }} as log10_transit_depth,
        {{ safe_log10('planet_radius_earth') }} as log10_planet_radius,
        {{ safe_log10('transit_model_snr') }} as log10_transit_model_snr,

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
            'impact_parameter', 'impact_parameter_err1', 'impact_parameter_err2'
        ) }} as impact_parameter_rel_unc,
        {{ relative_uncertainty(
            'planet_radius_earth', 'planet_radius_earth_err1', 'planet_radius_earth_err2'
        ) }} as planet_radius_rel_unc,

        ---------- transit count and per-transit signal
        n_transits_kepler,
        -- at least one transit was seen, so a single-transit KOI keeps its full SNR
        -- (case, not greatest(): greatest() skips NULLs and would invent one transit)
        transit_model_snr / sqrt(
            case
                when n_transits_kepler >= 1 then n_transits_kepler
                when n_transits_kepler = 0 then 1
            end
        ) as snr_per_transit

    from transits

),

final as (

    select
        kepoi_name,
        {{ round_sig('log10_orbital_period') }} as log10_orbital_period,
        {{ round_sig('log10_transit_depth') }} as log10_transit_depth,
        {{ round_sig('log10_planet_radius') }} as log10_planet_radius,
        {{ round_sig('log10_transit_model_snr') }} as log10_transit_model_snr,
        {{ round_sig('orbital_period_rel_unc') }} as orbital_period_rel_unc,
        {{ round_sig('transit_depth_rel_unc') }} as transit_depth_rel_unc,
        {{ round_sig('transit_duration_rel_unc') }} as transit_duration_rel_unc,
        {{ round_sig('impact_parameter_rel_unc') }} as impact_parameter_rel_unc,
        {{ round_sig('planet_radius_rel_unc') }} as planet_radius_rel_unc,
        n_transits_kepler,
        {{ round_sig('snr_per_transit') }} as snr_per_transit

    from derived

)

select * from final
