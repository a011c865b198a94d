with

source as (

    select * from {{ source('lightcurve_results', 'lightcurve_signals') }}

),

renamed as (

    select

        ---------- ids
        upload_id,
        signal_number,

        ---------- the transit fit
        period_days,
        epoch,
        duration_hours,
        depth_ppm,
        depth_err_ppm,
        n_transits,

        ---------- significance
        snr,
        sde,
        fap,
        significant,

        ---------- the light curve's checks
        odd_depth_ppm,
        even_depth_ppm,
        odd_even_sigma,
        secondary_depth_ppm,
        secondary_snr,
        half_period_depth_ppm,
        sinusoid_preferred,
        period_check,
        flags,

        ---------- the classifier
        p_planet,
        model_variant,
        likely_planet,
        reasons,

        ---------- the CNN (scoring/cnn/): its score and the three views it saw; not in the verdict
        cnn_model_version,
        cnn_p_pc,
        cnn_likely_pc,
        cnn_global_view,
        cnn_local_view,
        cnn_secondary_view,
        cnn_secondary_days,
        cnn_note

    from source

)

select * from renamed
