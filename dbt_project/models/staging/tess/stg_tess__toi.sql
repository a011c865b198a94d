-- One row per TOI from the latest TOI batch that passed the raw gate (status 'loaded'): the
-- latest archive snapshot, ties broken by the later load_batch_id. Older, failed and unchecked
-- batches stay in raw.
-- Uncertainties follow the KOI convention: _err1 the upper (+), _err2 the lower (-) error. The
-- 2020 exports give the lower error as a positive magnitude, later ones as a negative number:
-- -abs() makes every snapshot read the same.

with

source as (

    select * from {{ source('tess', 'toi') }}

),

load_batches as (

    select * from {{ source('tess', 'load_batches') }}

),

latest_batch as (

    select
        load_batch_id,
        snapshot_at

    from load_batches

    where
        source_table = 'toi'
        and status = 'loaded'

    order by snapshot_at desc, load_batch_id desc

    limit 1

),

latest_rows as (

    select
        source.*,
        latest_batch.snapshot_at

    from source

    inner join latest_batch
        on source.load_batch_id = latest_batch.load_batch_id

),

renamed as (

    select

        ---------- ids
        toi,
        tid as tic_id,
        load_batch_id,
        snapshot_at,
        source_line,

        ---------- label
        tfopwg_disp,

        ---------- bookkeeping dates (never features: rowupdate moves when a disposition does)
        toi_created as toi_created_at,
        rowupdate as row_updated_at,

        ---------- transit fit
        pl_orbper as orbital_period_days,
        pl_orbpererr1 as orbital_period_days_err1,
        -abs(pl_orbpererr2) as orbital_period_days_err2,
        pl_orbperlim as orbital_period_days_limit_flag,
        pl_tranmid as transit_epoch_bjd,
        pl_tranmiderr1 as transit_epoch_bjd_err1,
        -abs(pl_tranmiderr2) as transit_epoch_bjd_err2,
        pl_tranmidlim as transit_epoch_bjd_limit_flag,
        pl_trandurh as transit_duration_hours,
        pl_trandurherr1 as transit_duration_hours_err1,
        -abs(pl_trandurherr2) as transit_duration_hours_err2,
        pl_trandurhlim as transit_duration_hours_limit_flag,
        pl_trandep as transit_depth_ppm,
        pl_trandeperr1 as transit_depth_ppm_err1,
        -abs(pl_trandeperr2) as transit_depth_ppm_err2,
        pl_trandeplim as transit_depth_ppm_limit_flag,

        ---------- planet
        pl_rade as planet_radius_earth,
        pl_radeerr1 as planet_radius_earth_err1,
        -abs(pl_radeerr2) as planet_radius_earth_err2,
        pl_radelim as planet_radius_earth_limit_flag,
        pl_insol as insolation_earth_flux,
        pl_insolerr1 as insolation_earth_flux_err1,
        -abs(pl_insolerr2) as insolation_earth_flux_err2,
        pl_insollim as insolation_earth_flux_limit_flag,
        pl_eqt as equilibrium_temp_k,
        pl_eqterr1 as equilibrium_temp_k_err1,
        -abs(pl_eqterr2) as equilibrium_temp_k_err2,
        pl_eqtlim as equilibrium_temp_k_limit_flag,

        ---------- star (TIC parameters)
        st_teff as stellar_teff_k,
        st_tefferr1 as stellar_teff_k_err1,
        -abs(st_tefferr2) as stellar_teff_k_err2,
        st_tefflim as stellar_teff_k_limit_flag,
        st_logg as stellar_logg_cgs,
        st_loggerr1 as stellar_logg_cgs_err1,
        -abs(st_loggerr2) as stellar_logg_cgs_err2,
        st_logglim as stellar_logg_cgs_limit_flag,
        st_rad as stellar_radius_solar,
        st_raderr1 as stellar_radius_solar_err1,
        -abs(st_raderr2) as stellar_radius_solar_err2,
        st_radlim as stellar_radius_solar_limit_flag,
        st_tmag as tess_magnitude,
        st_tmagerr1 as tess_magnitude_err1,
        -abs(st_tmagerr2) as tess_magnitude_err2,
        st_tmaglim as tess_magnitude_limit_flag,
        st_dist as stellar_distance_pc,
        st_disterr1 as stellar_distance_pc_err1,
        -abs(st_disterr2) as stellar_distance_pc_err2,
        st_distlim as stellar_distance_pc_limit_flag,

        ---------- position and motion
        ra as ra_deg,
        dec as dec_deg,
        rastr as ra_sexagesimal,
        decstr as dec_sexagesimal,
        st_pmra as proper_motion_ra_mas_per_yr,
        st_pmraerr1 as proper_motion_ra_mas_per_yr_err1,
        -abs(st_pmraerr2) as proper_motion_ra_mas_per_yr_err2,
        st_pmralim as proper_motion_ra_mas_per_yr_limit_flag,
        st_pmdec as proper_motion_dec_mas_per_yr,
        st_pmdecerr1 as proper_motion_dec_mas_per_yr_err1,
        -abs(st_pmdecerr2) as proper_motion_dec_mas_per_yr_err2,
        st_pmdeclim as proper_motion_dec_mas_per_yr_limit_flag,

        ---------- unknown columns of newer exports
        extra_columns

    from latest_rows

)

select * from renamed
