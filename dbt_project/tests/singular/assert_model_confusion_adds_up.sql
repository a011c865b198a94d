-- Each confusion matrix in fct_model_confusion holds exactly the KOIs its evaluation measured
-- (fct_model_performance.n_kois). Returns the matrices that do not add up.

with

matrices as (

    select
        model_version,
        evaluation_task,
        estimator,
        sum(n_kois) as n_kois_in_cells

    from {{ ref('fct_model_confusion') }}

    group by model_version, evaluation_task, estimator

),

performance as (

    select * from {{ ref('fct_model_performance') }}

)

select
    matrices.model_version,
    matrices.evaluation_task,
    matrices.estimator,
    matrices.n_kois_in_cells,
    performance.n_kois

from matrices

inner join performance
    on
        matrices.model_version = performance.model_version
        and matrices.evaluation_task = performance.evaluation_task
        and matrices.estimator = performance.estimator

where matrices.n_kois_in_cells != performance.n_kois
