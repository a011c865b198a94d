-- Every anomaly reason row with the feature's readable label and the direction of the deviation,
-- and the short reason text the marts show, e.g. "transit depth unusually high".

with

reasons as (

    select * from {{ ref('stg_ml__koi_anomaly_reasons') }}

),

feature_labels as (

    select * from {{ ref('feature_labels') }}

),

labelled as (

    select

        ---------- ids
        reasons.model_version,
        reasons.load_batch_id,
        reasons.kepoi_name,
        reasons.feature,

        ---------- the feature, readable
        coalesce(feature_labels.feature_label, reasons.feature) as feature_label,
        feature_labels.feature_unit,
        reasons.feature_value,

        ---------- how far from the typical KOI
        reasons.deviation,
        reasons.deviation_rank,
        case
            when reasons.deviation > 0 then 'unusually high'
            when reasons.deviation < 0 then 'unusually low'
            else 'missing'
        end as direction

    from reasons

    left join feature_labels
        on reasons.feature = feature_labels.feature

),

final as (

    select
        *,
        feature_label || ' ' || direction as reason

    from labelled

)

select * from final
