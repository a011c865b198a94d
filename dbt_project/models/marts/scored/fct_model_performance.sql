-- Out-of-fold performance per model version, evaluation task and estimator, one row each, the
-- headline metrics side by side. Comparison rows that read vetting outputs have is_honest = false.

with

metrics as (

    select * from {{ ref('stg_ml__model_metrics') }}

),

models as (

    select * from {{ ref('stg_ml__model_registry') }}

),

evaluations as (

    select

        model_version,
        evaluation_task,
        estimator,

        ---------- how it was measured
        bool_and(is_honest) as is_honest,
        max(protocol) as protocol,

        ---------- size
        cast(
            coalesce(
                max(case when metric = 'n' then metric_value end),
                sum(case when metric = 'support' then metric_value end)
            ) as integer
        ) as n_kois,

        ---------- ranking and probability quality
        max(case when metric = 'roc_auc' then metric_value end) as roc_auc,
        max(case when metric = 'pr_auc' then metric_value end) as pr_auc,
        max(case when metric = 'brier' then metric_value end) as brier,
        max(case when metric = 'log_loss' then metric_value end) as log_loss,

        ---------- recall at fixed precision
        max(case when metric = 'recall_at_precision_0.90' then metric_value end)
            as recall_at_precision_0_90,
        max(case when metric = 'recall_at_precision_0.95' then metric_value end)
            as recall_at_precision_0_95,
        max(case when metric = 'recall_at_precision_0.99' then metric_value end)
            as recall_at_precision_0_99,

        ---------- at the decision threshold
        max(case when metric = 'threshold' then metric_value end) as threshold,
        max(case when metric = 'precision_at_threshold' then metric_value end)
            as precision_at_threshold,
        max(case when metric = 'recall_at_threshold' then metric_value end) as recall_at_threshold,
        max(case when metric = 'f1_at_threshold' then metric_value end) as f1_at_threshold,

        ---------- three classes
        max(case when metric = 'accuracy' then metric_value end) as accuracy,
        max(case when metric = 'macro_f1' then metric_value end) as macro_f1,
        max(case when metric = 'recall' and class_label = 'CONFIRMED' then metric_value end)
            as recall_confirmed,
        max(case when metric = 'recall' and class_label = 'CANDIDATE' then metric_value end)
            as recall_candidate,
        max(case when metric = 'recall' and class_label = 'FALSE POSITIVE' then metric_value end)
            as recall_false_positive,
        max(case when metric = 'precision' and class_label = 'CONFIRMED' then metric_value end)
            as precision_confirmed,
        max(case when metric = 'precision' and class_label = 'CANDIDATE' then metric_value end)
            as precision_candidate,
        max(
            case when metric = 'precision' and class_label = 'FALSE POSITIVE' then metric_value end
        ) as precision_false_positive

    from metrics

    group by model_version, evaluation_task, estimator

),

final as (

    select

        ---------- keys
        evaluations.model_version,
        evaluations.evaluation_task,
        evaluations.estimator,

        ---------- how it was measured
        evaluations.is_honest,
        evaluations.protocol,
        evaluations.n_kois,

        ---------- figures
        evaluations.roc_auc,
        evaluations.pr_auc,
        evaluations.brier,
        evaluations.log_loss,
        evaluations.recall_at_precision_0_90,
        evaluations.recall_at_precision_0_95,
        evaluations.recall_at_precision_0_99,
        evaluations.threshold,
        evaluations.precision_at_threshold,
        evaluations.recall_at_threshold,
        evaluations.f1_at_threshold,
        evaluations.accuracy,
        evaluations.macro_f1,
        evaluations.recall_confirmed,
        evaluations.recall_candidate,
        evaluations.recall_false_positive,
        evaluations.precision_confirmed,
        evaluations.precision_candidate,
        evaluations.precision_false_positive,

        ---------- the model version
        models.model_task,
        models.algorithm,
        models.is_champion,
        models.created_at,
        models.training_load_batch_id,
        models.training_snapshot_at,
        models.n_training_kois,
        models.n_features

    from evaluations

    inner join models
        on evaluations.model_version = models.model_version

)

select * from final
