-- Every explanation row (all model versions and batches) with the feature's readable label and
-- unit, the direction of its effect on P(planet), and the short reason text the marts show,
-- e.g. "planet radius ↑". A feature without a label keeps its column name.

with

explanations as (

    select * from {{ ref('stg_ml__koi_explanations') }}

),

feature_labels as (

    select * from {{ ref('feature_labels') }}

),

labelled as (

    select

        ---------- ids
        explanations.model_version,
        explanations.load_batch_id,
        explanations.kepoi_name,
        explanations.feature,

        ---------- the feature, readable
        coalesce(feature_labels.feature_label, explanations.feature) as feature_label,
        feature_labels.feature_unit,
        feature_labels.feature_group,
        explanations.feature_value,

        ---------- its effect on P(planet)
        explanations.contribution,
        explanations.contribution_rank,
        case
            when explanations.contribution > 0 then '↑'
            when explanations.contribution < 0 then '↓'
            else '·'
        end as direction

    from explanations

    left join feature_labels
        on explanations.feature = feature_labels.feature

),

final as (

    select
        *,
        feature_label || ' ' || direction as reason

    from labelled

)

select * from final
