with

source as (

    select * from {{ source('dq', 'validation_runs') }}

),

renamed as (

    select

        ---------- ids
        validation_run_id,
        suite_name,
        stage as pipeline_stage,
        data_asset,
        load_batch_id,
        model_version,

        ---------- context
        parameters as suite_parameters,
        triggered_by,

        ---------- verdict
        success as is_success,
        critical_success as is_critical_success,

        ---------- timestamps
        started_at,
        finished_at,
        extract(epoch from finished_at - started_at) as run_seconds

    from source

)

select * from renamed
