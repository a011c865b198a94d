-- Every P(planet) a classifier wrote, KOIs and TOIs in one shape: one row per (model version,
-- scored load batch, signal), all versions and batches (a newer batch's scores sit beside the
-- older ones), with the snapshot the model was trained on. The input of the track record.
-- KOI predictions written before the classifier stored its log-odds (migration 0014) get the
-- log-odds of their P(planet), infinite at 0 and 1: the same order, so the same track record.

with

models as (

    select * from {{ ref('stg_ml__model_registry') }}

),

koi_predictions as (

    select * from {{ ref('stg_ml__koi_predictions') }}

),

toi_predictions as (

    select * from {{ ref('stg_ml__toi_predictions') }}

),

unioned as (

    select
        'Kepler' as mission,
        model_version,
        load_batch_id,
        kepoi_name as signal_name,
        p_planet,
        coalesce(
            planet_log_odds,
            case
                when p_planet >= 1 then 'Infinity'::double precision
                when p_planet <= 0 then '-Infinity'::double precision
                else ln(p_planet / (1 - p_planet))
            end
        ) as planet_log_odds,
        candidate_rank

    from koi_predictions

    union all

    select
        'TESS' as mission,
        model_version,
        load_batch_id,
        'TOI-' || toi as signal_name,
        p_planet,
        planet_log_odds,
        candidate_rank

    from toi_predictions

),

final as (

    select

        ---------- keys
        unioned.mission,
        unioned.model_version,
        unioned.load_batch_id,
        unioned.signal_name,

        ---------- the model and what it was trained on
        models.model_task,
        models.training_load_batch_id,
        models.training_snapshot_at,

        ---------- the score
        unioned.p_planet,
        unioned.planet_log_odds,
        unioned.candidate_rank

    from unioned

    inner join models
        on unioned.model_version = models.model_version

)

select * from final
