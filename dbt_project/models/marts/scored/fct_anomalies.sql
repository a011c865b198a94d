-- The anomaly leaderboard: every KOI of fct_koi_features scored by the champion anomaly model
-- (task koi_anomaly), in rank order (rank 1 = most unusual), with each detector's percentile, the
-- Bayesian outlier probability, the reasons of the flagged KOIs and the context people filter on
-- (archive label, P(planet), period, radius). Empty until the anomaly model has scored the batch
-- the feature mart holds.

with

models as (

    select * from {{ ref('stg_ml__model_registry') }}

),

anomalies as (

    select * from {{ ref('stg_ml__koi_anomalies') }}

),

reasons as (

    select * from {{ ref('int_koi_anomaly_reasons_labelled') }}

),

features as (

    select * from {{ ref('fct_koi_features') }}

),

predictions as (

    select * from {{ ref('fct_koi_predictions') }}

),

champion as (

    select model_version

    from models

    where
        model_task = 'koi_anomaly'
        and is_champion

),

champion_anomalies as (

    select anomalies.*

    from anomalies

    inner join champion
        on anomalies.model_version = champion.model_version

),

top_reasons as (

    select
        model_version,
        load_batch_id,
        kepoi_name,
        string_agg(reason, ', ' order by deviation_rank) as anomaly_reasons

    from reasons

    group by model_version, load_batch_id, kepoi_name

),

final as (

    select

        ---------- rank and verdict
        champion_anomalies.anomaly_rank,
        features.kepoi_name,
        champion_anomalies.is_anomaly,
        champion_anomalies.is_bayes_outlier,
        case
            when champion_anomalies.is_anomaly and champion_anomalies.is_bayes_outlier
                then 'both lenses'
            when champion_anomalies.is_anomaly then 'unlike the others'
            when champion_anomalies.is_bayes_outlier then 'inconsistent with its star'
            else 'ordinary'
        end as anomaly_kind,
        top_reasons.anomaly_reasons,

        ---------- the ensemble
        champion_anomalies.ensemble_score,
        champion_anomalies.score_iforest,
        champion_anomalies.score_ecod,
        champion_anomalies.score_copod,
        champion_anomalies.score_knn,

        ---------- the Bayesian outlier model
        champion_anomalies.density_log_ratio,
        champion_anomalies.p_outlier,
        champion_anomalies.p_outlier_low,
        champion_anomalies.p_outlier_high,

        ---------- context
        features.label_disposition,
        predictions.p_planet,
        features.orbital_period_days,
        features.planet_radius_earth,
        features.radius_class,
        features.transit_depth_ppm,
        features.transit_duration_hours,
        features.stellar_radius_solar,
        features.stellar_teff_k,
        features.kepid,

        ---------- provenance
        features.load_batch_id,
        features.snapshot_at,
        champion_anomalies.model_version,
        champion_anomalies.scored_at

    from champion_anomalies

    inner join features
        on
            champion_anomalies.kepoi_name = features.kepoi_name
            and champion_anomalies.load_batch_id = features.load_batch_id

    left join predictions
        on features.kepoi_name = predictions.kepoi_name

    left join top_reasons
        on
            champion_anomalies.model_version = top_reasons.model_version
            and champion_anomalies.load_batch_id = top_reasons.load_batch_id
            and champion_anomalies.kepoi_name = top_reasons.kepoi_name

)

select * from final

order by anomaly_rank
