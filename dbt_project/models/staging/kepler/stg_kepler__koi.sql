-- One row per KOI from the latest KOI batch that passed the raw gate (status 'loaded'): the
-- latest archive snapshot, ties broken by the later load_batch_id. Older, failed and unchecked
-- batches stay in raw.

with

source as (

    select * from {{ source('kepler', 'koi_cumulative') }}

),

load_batches as (

    select * from {{ source('kepler', 'load_batches') }}

),

latest_batch as (

    select
        load_batch_id,
        snapshot_at

    from load_batches

    where
        source_table = 'koi_cumulative'
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
        kepoi_name,
        kepid,
        load_batch_id,
        snapshot_at,
        source_line,
        loc_rowid,
        kepler_name,

        ---------- label
        koi_disposition,

        ---------- vetting outputs (never features: see fct_koi_vetting)
        koi_pdisposition,
        koi_score,
        koi_fpflag_nt,
        koi_fpflag_ss,
        koi_fpflag_co,
        koi_fpflag_ec,

        ---------- transit fit
        koi_period as orbital_period_days,
        koi_period_err1 as orbital_period_days_err1,
        koi_period_err2 as orbital_period_days_err2,
        koi_time0bk as transit_epoch_bkjd,
        koi_time0bk_err1 as transit_epoch_bkjd_err1,
        koi_time0bk_err2 as transit_epoch_bkjd_err2,
        koi_impact as impact_parameter,
        koi_impact_err1 as impact_parameter_err1,
        koi_impact_err2 as impact_parameter_err2,
        koi_duration as transit_duration_hours,
        koi_duration_err1 as transit_duration_hours_err1,
        koi_duration_err2 as transit_duration_hours_err2,
        koi_depth as transit_depth_ppm,
        koi_depth_err1 as transit_depth_ppm_err1,
        koi_depth_err2 as transit_depth_ppm_err2,
        koi_model_snr as transit_model_snr,

        ---------- planet
        koi_prad as planet_radius_earth,
        koi_prad_err1 as planet_radius_earth_err1,
        koi_prad_err2 as planet_radius_earth_err2,
        koi_teq as equilibrium_temp_k,
        koi_teq_err1 as equilibrium_temp_k_err1,
        koi_teq_err2 as equilibrium_temp_k_err2,
        koi_insol as insolation_earth_flux,
        koi_insol_err1 as insolation_earth_flux_err1,
        koi_insol_err2 as insolation_earth_flux_err2,

        ---------- pipeline
        koi_tce_plnt_num as tce_planet_number,
        koi_tce_delivname as tce_delivery_name,

        ---------- star
        koi_steff as stellar_teff_k,
        koi_steff_err1 as stellar_teff_k_err1,
        koi_steff_err2 as stellar_teff_k_err2,
        koi_slogg as stellar_logg_cgs,
        koi_slogg_err1 as stellar_logg_cgs_err1,
        koi_slogg_err2 as stellar_logg_cgs_err2,
        koi_srad as stellar_radius_solar,
        koi_srad_err1 as stellar_radius_solar_err1,
        koi_srad_err2 as stellar_radius_solar_err2,
        ra as ra_deg,
        dec as dec_deg,
        koi_kepmag as kepler_magnitude,

        ---------- unknown columns of newer exports
        extra_columns

    from latest_rows

)

select * from renamed
