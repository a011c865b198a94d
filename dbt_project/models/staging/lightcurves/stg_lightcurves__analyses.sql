with

source as (

    select * from {{ source('lightcurve_results', 'lightcurve_analyses') }}

),

renamed as (

    select

        ---------- ids
        upload_id,
        lightcurve_id,
        search_version,
        model_version,
        cnn_model_version,
        analysed_at,

        ---------- the search
        search_mode,
        trial_periods,
        search_seconds,
        stopped_by,
        n_signals,
        n_likely_planets,
        best_p_planet,

        ---------- the stellar parameters the model used, and their source
        stellar_source,
        stellar_teff_k,
        stellar_logg_cgs,
        stellar_radius_solar,

        ---------- the anomaly score and its terms (each in [0, 1])
        anomaly_score,
        anomaly_dip_depth,
        anomaly_dip_count,
        anomaly_dip_asymmetry,
        anomaly_dip_depth_variation,
        n_dips,
        anomaly_reasons

    from source

)

select * from renamed
