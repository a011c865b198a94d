-- The feature table every model reads: one row per KOI of the latest KOI batch.
-- The label sits apart in label_disposition; vetting outputs (koi_score, koi_pdisposition,
-- koi_fpflag_*), kepler_name and the TCE delivery are deliberately absent (see fct_koi_vetting).

with

kois as (

    select * from {{ ref('stg_kepler__koi') }}

),

transit_geometry as (

    select * from {{ ref('int_kois_transit_geometry_derived') }}

),

signal as (

    select * from {{ ref('int_kois_signal_derived') }}

),

classes as (

    select * from {{ ref('int_kois_classified') }}

),

ranks as (

    select * from {{ ref('int_kois_ranked_on_star') }}

),

ephemeris_matches as (

    select * from {{ ref('int_kois_ephemeris_matched') }}

),

final as (

    select

        ---------- keys
        kois.kepoi_name,
        kois.kepid,
        kois.load_batch_id,
        kois.snapshot_at,

        ---------- label (never a feature)
        kois.koi_disposition as label_disposition,

        ---------- archive transit fit
        kois.orbital_period_days,
        kois.orbital_period_days_err1,
        kois.orbital_period_days_err2,
        kois.transit_epoch_bkjd,
        kois.transit_epoch_bkjd_err1,
        kois.transit_epoch_bkjd_err2,
        kois.impact_parameter,
        kois.impact_parameter_err1,
        kois.impact_parameter_err2,
        kois.transit_duration_hours,
        kois.transit_duration_hours_err1,
        kois.transit_duration_hours_err2,
        kois.transit_depth_ppm,
        kois.transit_depth_ppm_err1,
        kois.transit_depth_ppm_err2,
        kois.transit_model_snr,
        kois.tce_planet_number,

        ---------- archive planet
        kois.planet_radius_earth,
        kois.planet_radius_earth_err1,
        kois.planet_radius_earth_err2,
        kois.equilibrium_temp_k,
        kois.equilibrium_temp_k_err1,
        kois.equilibrium_temp_k_err2,
        kois.insolation_earth_flux,
        kois.insolation_earth_flux_err1,
        kois.insolation_earth_flux_err2,

        ---------- archive star
        kois.stellar_teff_k,
        kois.stellar_teff_k_err1,
        kois.stellar_teff_k_err2,
        kois.stellar_logg_cgs,
        kois.stellar_logg_cgs_err1,
        kois.stellar_logg_cgs_err2,
        kois.stellar_radius_solar,
        kois.stellar_radius_solar_err1,
        kois.stellar_radius_solar_err2,
        kois.ra_deg,
        kois.dec_deg,
        kois.kepler_magnitude,

        ---------- scale-free transforms
        signal.log10_orbital_period,
        signal.log10_transit_depth,
        signal.log10_planet_radius,
        signal.log10_transit_model_snr,

        ---------- transit geometry and density consistency
        transit_geometry.radius_ratio,
        transit_geometry.stellar_density_catalogue_gcc,
        transit_geometry.a_over_rstar_transit,
        transit_geometry.stellar_density_transit_gcc,
        transit_geometry.log10_density_ratio,
        transit_geometry.a_over_rstar_kepler,
        transit_geometry.expected_duration_hours,
        transit_geometry.duration_ratio,
        transit_geometry.planet_radius_consistency,
        transit_geometry.is_grazing,

        ---------- measurement quality
        signal.orbital_period_rel_unc,
        signal.transit_depth_rel_unc,
        signal.transit_duration_rel_unc,
        signal.impact_parameter_rel_unc,
        signal.planet_radius_rel_unc,

        ---------- signal strength
        signal.n_transits_kepler,
        signal.snr_per_transit,

        ---------- system multiplicity
        ranks.n_kois_on_star,
        ranks.period_rank_on_star,
        ranks.nearest_period_ratio_on_star,
        ranks.period_ratio_integer_offset,

        ---------- ephemeris matches across stars (contamination)
        ephemeris_matches.ephemeris_match_brighter_significance,
        ephemeris_matches.ephemeris_match_fainter_significance,

        ---------- classes and flags
        classes.radius_class,
        classes.is_giant_radius,
        classes.hz_inner_flux_earth,
        classes.hz_outer_flux_earth,
        classes.is_in_habitable_zone

    from kois

    inner join transit_geometry
        on kois.kepoi_name = transit_geometry.kepoi_name

    inner join signal
        on kois.kepoi_name = signal.kepoi_name

    inner join classes
        on kois.kepoi_name = classes.kepoi_name

    inner join ranks
        on kois.kepoi_name = ranks.kepoi_name

    inner join ephemeris_matches
        on kois.kepoi_name = ephemeris_matches.kepoi_name

)

select * from final
