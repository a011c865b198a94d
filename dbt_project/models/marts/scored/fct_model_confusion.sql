-- Confusion matrices as (true class, predicted class, count) rows per model version, evaluation
-- task and estimator. Binary tasks (CONFIRMED positive vs FALSE POSITIVE, at the stored threshold)
-- give four cells; three_class (argmax) gives nine, from 'TRUE → PREDICTED' class labels.

with

metrics as (

    select * from {{ ref('stg_ml__model_metrics') }}

),

performance as (

    select * from {{ ref('fct_model_performance') }}

),

binary_cells as (

    select
        model_version,
        evaluation_task,
        estimator,
        'binary' as matrix_kind,
        case
            when metric in ('true_positives', 'false_negatives') then 'CONFIRMED'
            else 'FALSE POSITIVE'
        end as true_class,
        case
            when metric in ('true_positives', 'false_positives') then 'CONFIRMED'
            else 'FALSE POSITIVE'
        end as predicted_class,
        metric_value

    from metrics

    where metric in ('true_positives', 'false_positives', 'true_negatives', 'false_negatives')

),

three_class_cells as (

    select
        model_version,
        evaluation_task,
        estimator,
        'three_class' as matrix_kind,
        split_part(class_label, ' → ', 1) as true_class,
        split_part(class_label, ' → ', 2) as predicted_class,
        metric_value

    from metrics

    where metric = 'confusion_count'

),

cells as (

    select * from binary_cells

    union all

    select * from three_class_cells

),

counted as (

    select
        *,
        cast(round(metric_value) as integer) as n_kois

    from cells

),

final as (

    select

        ---------- keys
        counted.model_version,
        counted.evaluation_task,
        counted.estimator,
        counted.matrix_kind,
        counted.true_class,
        counted.predicted_class,

        ---------- counts
        counted.n_kois,
        cast(counted.n_kois as double precision)
        / nullif(
            sum(counted.n_kois) over (
                partition by
                    counted.model_version,
                    counted.evaluation_task,
                    counted.estimator,
                    counted.true_class
            ),
            0
        ) as share_of_true_class,
        counted.true_class = counted.predicted_class as is_correct,

        ---------- the evaluation
        performance.is_honest,
        performance.is_champion,
        performance.created_at

    from counted

    inner join performance
        on
            counted.model_version = performance.model_version
            and counted.evaluation_task = performance.evaluation_task
            and counted.estimator = performance.estimator

)

select * from final
