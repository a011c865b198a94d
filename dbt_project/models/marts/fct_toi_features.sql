-- The TESS feature table: one row per TOI of the latest TOI batch, with the column names of
-- fct_koi_features wherever TESS measures the same thing, so one model can read both missions.
-- The label sits apart in label_disposition (tfopwg_disp). Absent on purpose: the bookkeeping
-- dates (toi_created, rowupdate), the transit epoch, the limit flags and the stellar
-- uncertainties (data/README.md, "Leakage"); the TOI table has no impact parameter and no SNR.

with

tois as (

    select * from {{ ref('stg_tess__toi') }}

),

transit_geometry as (

    select * from {{ ref('int_tois_transit_geometry_derived') }}

),

signal as (

    select * from {{ ref('int_tois_signal_derived') }}

),

ranks as (

    select * from {{ ref('int_tois_ranked_on_star') }}

),

ephemeris_matches as (

    select * from {{ ref('int_tois_ephemeris_matched') }}

),

final as (

    select

        ---------- keys
        tois.toi,
        tois.tic_id,
        tois.load_batch_id,
        tois.snapshot_at,

        ---------- label (never a feature)
        nullif(tois.tfopwg_disp, '') as label_disposition,

        ---------- archive transit fit
        tois.orbital_period_days,
        tois.orbital_period_days_err1,
        tois.orbital_period_days_err2,
        tois.transit_duration_hours,
        tois.transit_duration_hours_err1,
        tois.transit_duration_hours_err2,
        tois.transit_depth_ppm,
        tois.transit_depth_ppm_err1,
        tois.transit_depth_ppm_err2,

        ---------- archive planet
        tois.planet_radius_earth,
        tois.planet_radius_earth_err1,
        tois.planet_radius_earth_err2,
        tois.equilibrium_temp_k,
        tois.insolation_earth_flux,

        ---------- TIC star (values only: the stellar error bars are never features)
        tois.stellar_teff_k,
        tois.stellar_logg_cgs,
        tois.stellar_radius_solar,
        tois.tess_magnitude,
        tois.stellar_distance_pc,
        tois.proper_motion_ra_mas_per_yr,
        tois.proper_motion_dec_mas_per_yr,

        ---------- scale-free transforms
        signal.log10_orbital_period,
        signal.log10_transit_depth,
        signal.log10_planet_radius,

        ---------- transit geometry and density consistency (b = 0 assumed)
        transit_geometry.radius_ratio,
        transit_geometry.stellar_density_catalogue_gcc,
        transit_geometry.a_over_rstar_transit,
        transit_geometry.stellar_density_transit_gcc,
        transit_geometry.log10_density_ratio,
        transit_geometry.a_over_rstar_kepler,
        transit_geometry.expected_duration_hours,
        transit_geometry.duration_ratio,
        transit_geometry.planet_radius_consistency,

        ---------- measurement quality
        signal.orbital_period_rel_unc,
        signal.transit_depth_rel_unc,
        signal.transit_duration_rel_unc,
        signal.planet_radius_rel_unc,

        ---------- system multiplicity
        ranks.n_kois_on_star,
        ranks.period_rank_on_star,
        ranks.nearest_period_ratio_on_star,
        ranks.period_ratio_integer_offset,

        ---------- ephemeris matches across stars (contamination)
        ephemeris_matches.ephemeris_match_brighter_significance,
        ephemeris_matches.ephemeris_match_fainter_significance

    from tois

    inner join transit_geometry
        on tois.toi = transit_geometry.toi

    inner join signal
        on tois.toi = signal.toi

    inner join ranks
        on tois.toi = ranks.toi

    inner join ephemeris_matches
        on tois.toi = ephemeris_matches.toi

)

select * from final
