-- The champion's predictions for the KOIs of fct_koi_features: one row per KOI of that batch,
-- with the features people filter on, the archive label and the top three reasons. Empty until
-- the champion (task koi_classifier) has scored the batch the feature mart holds.

with

models as (

    select * from {{ ref('stg_ml__model_registry') }}

),

predictions as (

    select * from {{ ref('stg_ml__koi_predictions') }}

),

explanations as (

    select * from {{ ref('int_koi_explanations_labelled') }}

),

features as (

    select * from {{ ref('fct_koi_features') }}

),

vetting as (

    select * from {{ ref('fct_koi_vetting') }}

),

champion as (

    select
        model_version,
        algorithm,
        created_at

    from models

    where
        model_task = 'koi_classifier'
        and is_champion

),

champion_predictions as (

    select
        predictions.*,
        champion.algorithm as model_algorithm,
        champion.created_at as model_created_at

    from predictions

    inner join champion
        on predictions.model_version = champion.model_version

),

top_reasons as (

    select
        model_version,
        load_batch_id,
        kepoi_name,
        string_agg(reason, ', ' order by contribution_rank) as top_reasons

    from explanations

    where contribution_rank <= 3

    group by model_version, load_batch_id, kepoi_name

),

final as (

    select

        ---------- keys
        features.kepoi_name,
        features.kepid,
        vetting.kepler_name,
        features.load_batch_id,
        features.snapshot_at,

        ---------- archive label
        features.label_disposition,

        ---------- scores
        champion_predictions.p_planet,
        champion_predictions.planet_log_odds,
        champion_predictions.p_confirmed,
        champion_predictions.p_candidate,
        champion_predictions.p_false_positive,
        champion_predictions.predicted_class,
        champion_predictions.predicted_class = features.label_disposition
            as is_predicted_class_archive_label,
        champion_predictions.candidate_rank,
        top_reasons.top_reasons,

        ---------- planet
        features.orbital_period_days,
        features.planet_radius_earth,
        features.radius_class,
        features.equilibrium_temp_k,
        features.insolation_earth_flux,
        features.is_in_habitable_zone,

        ---------- signal
        features.transit_depth_ppm,
        features.transit_duration_hours,
        features.transit_model_snr,
        features.n_kois_on_star,

        ---------- star
        features.stellar_teff_k,
        features.stellar_radius_solar,
        features.kepler_magnitude,
        features.ra_deg,
        features.dec_deg,

        ---------- provenance
        champion_predictions.model_version,
        champion_predictions.model_algorithm,
        champion_predictions.model_created_at,
        champion_predictions.scored_at

    from champion_predictions

    inner join features
        on
            champion_predictions.kepoi_name = features.kepoi_name
            and champion_predictions.load_batch_id = features.load_batch_id

    left join vetting
        on features.kepoi_name = vetting.kepoi_name

    left join top_reasons
        on
            champion_predictions.model_version = top_reasons.model_version
            and champion_predictions.load_batch_id = top_reasons.load_batch_id
            and champion_predictions.kepoi_name = top_reasons.kepoi_name

)

select * from final
