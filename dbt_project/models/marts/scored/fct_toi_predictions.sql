-- The TOI champion's predictions for the TOIs of fct_toi_features: one row per TOI of that
-- (the latest) TOI batch, with the features people filter on and the TFOPWG label. Empty until
-- the champion (task toi_classifier) has scored the batch the feature mart holds. The TESS
-- sibling of fct_koi_predictions: one P(planet) (CP+KP vs FP+FA), no three-class view and no
-- explanations (the TOI classifier writes neither). The size class and the habitable zone use
-- the KOIs' formulas (macros/features.sql, as int_kois_classified), for display and filters:
-- neither is a feature of the TOI model.

with

models as (

    select * from {{ ref('stg_ml__model_registry') }}

),

predictions as (

    select * from {{ ref('stg_ml__toi_predictions') }}

),

features as (

    select * from {{ ref('fct_toi_features') }}

),

stars as (

    select * from {{ ref('dim_tess_star') }}

),

champion as (

    select
        model_version,
        algorithm,
        created_at

    from models

    where
        model_task = 'toi_classifier'
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

stellar as (

    select
        toi,
        planet_radius_earth,
        insolation_earth_flux,
        {{ hz_teff_offset_k('stellar_teff_k') }} as teff_offset_k

    from features

),

classes as (

    select
        toi,
        {{ radius_class('planet_radius_earth') }} as radius_class,
        insolation_earth_flux
        between {{ hz_outer_flux_earth('teff_offset_k') }}
        and {{ hz_inner_flux_earth('teff_offset_k') }} as is_in_habitable_zone

    from stellar

),

final as (

    select

        ---------- keys
        features.toi,
        features.tic_id,
        features.load_batch_id,
        features.snapshot_at,

        ---------- archive label (TFOPWG)
        features.label_disposition,

        ---------- scores
        champion_predictions.p_planet,
        champion_predictions.planet_log_odds,
        champion_predictions.candidate_rank,

        ---------- planet
        features.orbital_period_days,
        features.planet_radius_earth,
        classes.radius_class,
        features.equilibrium_temp_k,
        features.insolation_earth_flux,
        classes.is_in_habitable_zone,

        ---------- signal
        features.transit_depth_ppm,
        features.transit_duration_hours,
        features.n_kois_on_star as n_tois_on_star,

        ---------- star
        features.stellar_teff_k,
        features.stellar_radius_solar,
        features.tess_magnitude,
        features.stellar_distance_pc,
        stars.ra_deg,
        stars.dec_deg,

        ---------- provenance
        champion_predictions.model_version,
        champion_predictions.model_algorithm,
        champion_predictions.model_created_at,
        champion_predictions.scored_at

    from champion_predictions

    inner join features
        on
            champion_predictions.toi = features.toi
            and champion_predictions.load_batch_id = features.load_batch_id

    inner join classes
        on features.toi = classes.toi

    left join stars
        on features.tic_id = stars.tic_id

)

select * from final
