with

source as (

    select * from {{ source('dq', 'validation_results') }}

),

renamed as (

    select

        ---------- ids
        validation_run_id,
        expectation_key,
        expectation_type,
        column_name,

        ---------- severity and verdict
        is_critical,
        case when is_critical then 'critical' else 'warning' end as severity,
        success as is_success,

        ---------- what was found (jsonb kept as text for display)
        observed_value #>> '{}' as observed_value,
        element_count,
        unexpected_count,
        unexpected_percent,
        unexpected_values::text as unexpected_values,
        exception_message,

        ---------- what was expected
        arguments::text as expectation_arguments,
        description as expectation_description

    from source

)

select * from renamed
