-- One row per validation run with its failure counts, its status (passed / warnings / failed)
-- and its place in its suite's history (1 = the latest run of the suite).

with

runs as (

    select * from {{ ref('stg_dq__validation_runs') }}

),

results as (

    select * from {{ ref('stg_dq__validation_results') }}

),

counts as (

    select

        validation_run_id,
        count(*) as n_expectations,
        count(*) filter (where not is_success) as n_failed,
        count(*) filter (where not is_success and is_critical) as n_critical_failed,
        count(*) filter (where not is_success and not is_critical) as n_warnings

    from results

    group by validation_run_id

),

final as (

    select

        runs.*,

        ---------- failures
        coalesce(counts.n_expectations, 0) as n_expectations,
        coalesce(counts.n_failed, 0) as n_failed,
        coalesce(counts.n_critical_failed, 0) as n_critical_failed,
        coalesce(counts.n_warnings, 0) as n_warnings,
        case
            when not runs.is_critical_success then 'failed'
            when not runs.is_success then 'warnings'
            else 'passed'
        end as run_status,

        ---------- history
        row_number() over (
            partition by runs.suite_name
            order by runs.started_at desc, runs.validation_run_id
        ) as run_recency

    from runs

    left join counts
        on runs.validation_run_id = counts.validation_run_id

)

select * from final
