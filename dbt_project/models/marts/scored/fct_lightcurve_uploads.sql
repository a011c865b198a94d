-- One row per light curve upload: what was given, what the search found, P(planet) and the CNN's
-- P(PC) of the best signal, the anomaly score and its rank. A view, not a table: uploads arrive through the web
-- app between pipeline runs and must show at once on the Discoveries dashboard ("Uploads").
{{ config(materialized='view') }}

with

uploads as (

    select * from {{ ref('stg_lightcurves__uploads') }}

),

lightcurves as (

    select * from {{ ref('stg_lightcurves__lightcurves') }}

),

analyses as (

    select * from {{ ref('stg_lightcurves__analyses') }}

),

signals as (

    select * from {{ ref('stg_lightcurves__signals') }}

),

kois as (

    select * from {{ ref('fct_koi_features') }}

),

best_signal as (

    -- the likeliest planet among the significant signals, else the first signal found
    select distinct on (upload_id) *
    from signals
    order by upload_id, significant desc, p_planet desc nulls last, signal_number

),

kois_on_star as (

    select
        kepid,
        string_agg(kepoi_name || ' (' || label_disposition || ')', ', ' order by kepoi_name)
            as kois
    from kois
    group by kepid

),

final as (

    select

        ---------- ids
        uploads.upload_id,
        uploads.lightcurve_id,

        ---------- the upload
        uploads.uploaded_at,
        uploads.submitted_via,
        lightcurves.file_name,
        lightcurves.series_key,
        lightcurves.file_sha256,

        ---------- the star
        lightcurves.mission,
        coalesce(lightcurves.target_id, uploads.user_star_id) as target_id,
        coalesce(uploads.user_kepid, lightcurves.kepid) as kepid,
        kois_on_star.kois as kois_on_star,
        lightcurves.section,

        ---------- the series (n_segments > 1: several files stitched into one light curve)
        lightcurves.n_segments,
        lightcurves.n_points,
        lightcurves.n_dropped_quality,
        lightcurves.time_span_days,
        lightcurves.cadence_minutes,

        ---------- the analysis
        analyses.upload_id is not null as is_analysed,
        analyses.analysed_at,
        analyses.search_seconds,
        analyses.n_signals,
        analyses.n_likely_planets,
        analyses.stellar_source,

        ---------- the best signal
        best_signal.period_days as best_period_days,
        best_signal.depth_ppm as best_depth_ppm,
        best_signal.duration_hours as best_duration_hours,
        best_signal.snr as best_snr,
        best_signal.p_planet as best_p_planet,
        best_signal.likely_planet as best_is_likely_planet,
        array_to_string(best_signal.flags, '; ') as best_signal_flags,

        ---------- the CNN's view of the best signal (shown beside P(planet), not in the verdict)
        analyses.cnn_model_version,
        best_signal.cnn_p_pc as best_cnn_p_pc,
        best_signal.cnn_likely_pc as best_is_cnn_likely_pc,

        ---------- the anomaly score
        analyses.anomaly_score,
        rank() over (order by analyses.anomaly_score desc nulls last) as anomaly_rank,
        array_to_string(analyses.anomaly_reasons, '; ') as anomaly_reasons

    from uploads

    inner join lightcurves
        on uploads.lightcurve_id = lightcurves.lightcurve_id

    left join analyses
        on uploads.upload_id = analyses.upload_id

    left join best_signal
        on uploads.upload_id = best_signal.upload_id

    left join kois_on_star
        on coalesce(uploads.user_kepid, lightcurves.kepid) = kois_on_star.kepid

)

select * from final
