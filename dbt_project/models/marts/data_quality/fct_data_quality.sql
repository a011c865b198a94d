-- The data's health for the Superset data-quality dashboard: one row per expectation result of
-- every validation run, with its run's verdict, failure counts and place in the suite's history.
-- Latest state: where is_latest_run. Failures: where not is_success (unexpected counts and
-- sample values beside them). History: every run, by started_at.

with

runs as (

    select * from {{ ref('int_validation_runs_summarised') }}

),

results as (

    select * from {{ ref('stg_dq__validation_results') }}

),

load_batches as (

    select * from {{ ref('stg_kepler__load_batches') }}

),

final as (

    select

        ---------- keys
        results.validation_run_id,
        results.expectation_key,

        ---------- the run
        runs.suite_name,
        runs.pipeline_stage,
        runs.data_asset,
        runs.load_batch_id,
        runs.model_version,
        runs.triggered_by,
        runs.suite_parameters::text as suite_parameters,
        runs.started_at,
        runs.finished_at,
        cast(runs.run_seconds as double precision) as run_seconds,
        runs.run_status,
        runs.run_recency = 1 as is_latest_run,
        cast(runs.run_recency as integer) as run_recency,
        cast(runs.n_expectations as integer) as run_n_expectations,
        cast(runs.n_critical_failed as integer) as run_n_critical_failed,
        cast(runs.n_warnings as integer) as run_n_warnings,

        ---------- the batch validated
        load_batches.source_uri as batch_source_uri,
        load_batches.snapshot_at as batch_snapshot_at,
        load_batches.status as batch_status,

        ---------- the expectation
        results.expectation_type,
        results.column_name,
        results.severity,
        results.is_critical,
        results.expectation_description,
        results.expectation_arguments,

        ---------- what was found
        results.is_success,
        case
            when results.is_success then 'passed'
            when results.is_critical then 'failed'
            else 'warning'
        end as result_status,
        results.observed_value,
        results.element_count,
        results.unexpected_count,
        results.unexpected_percent,
        results.unexpected_values,
        results.exception_message

    from results

    inner join runs
        on results.validation_run_id = runs.validation_run_id

    left join load_batches
        on runs.load_batch_id = load_batches.load_batch_id

)

select * from final
