with

source as (

    select * from {{ source('ml', 'koi_anomalies') }}

),

renamed as (

    select

        ---------- ids
        model_version,
        load_batch_id,
        kepoi_name,

        ---------- the ensemble ("unlike the others")
        score_iforest,
        score_ecod,
        score_copod,
        score_knn,
        ensemble_score,
        anomaly_rank,
        is_anomaly,

        ---------- the Bayesian outlier model ("inconsistent with its star")
        density_log_ratio,
        p_outlier,
        p_outlier_low,
        p_outlier_high,
        is_bayes_outlier,

        ---------- timestamps
        scored_at

    from source

)

select * from renamed
