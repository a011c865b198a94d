-- ROC, PR and calibration curve points per model version, evaluation task and estimator, with
-- the axis names spelled out for charts.

with

curves as (

    select * from {{ ref('stg_ml__model_curves') }}

),

performance as (

    select * from {{ ref('fct_model_performance') }}

),

final as (

    select

        ---------- keys
        curves.model_version,
        performance.model_task,
        curves.evaluation_task,
        curves.estimator,
        curves.curve,
        curves.point_index,

        ---------- point
        curves.x,
        curves.y,
        curves.threshold,
        curves.n_kois_in_bin,
        case curves.curve
            when 'roc' then 'false positive rate'
            when 'pr' then 'recall'
            when 'calibration' then 'mean predicted P(planet)'
        end as x_axis,
        case curves.curve
            when 'roc' then 'true positive rate'
            when 'pr' then 'precision'
            when 'calibration' then 'observed CONFIRMED fraction'
        end as y_axis,

        ---------- the evaluation
        performance.is_honest,
        performance.is_champion,
        performance.created_at

    from curves

    inner join performance
        on
            curves.model_version = performance.model_version
            and curves.evaluation_task = performance.evaluation_task
            and curves.estimator = performance.estimator

)

select * from final
