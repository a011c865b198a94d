-- Why the champion scored each KOI as it did: every feature's TreeSHAP contribution to the
-- P(planet) log-odds, long format, for the KOIs and scoring run of fct_koi_predictions.

with

explanations as (

    select * from {{ ref('int_koi_explanations_labelled') }}

),

predictions as (

    select * from {{ ref('fct_koi_predictions') }}

),

final as (

    select

        ---------- keys
        explanations.kepoi_name,
        explanations.feature,

        ---------- the feature
        explanations.feature_label,
        explanations.feature_unit,
        explanations.feature_group,
        explanations.feature_value,

        ---------- its effect on P(planet)
        explanations.contribution,
        explanations.contribution_rank,
        explanations.direction,
        explanations.reason,

        ---------- the KOI's score
        predictions.p_planet,
        predictions.label_disposition,

        ---------- provenance
        explanations.model_version,
        explanations.load_batch_id

    from explanations

    inner join predictions
        on
            explanations.model_version = predictions.model_version
            and explanations.load_batch_id = predictions.load_batch_id
            and explanations.kepoi_name = predictions.kepoi_name

)

select * from final
