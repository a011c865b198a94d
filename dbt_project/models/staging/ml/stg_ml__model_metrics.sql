with

source as (

    select * from {{ source('ml', 'model_metrics') }}

),

renamed as (

    select

        ---------- ids
        model_version,
        task as evaluation_task,
        estimator,
        metric,
        class_label,

        ---------- figure
        value as metric_value,

        ---------- how it was measured
        protocol,
        honest as is_honest

    from source

)

select * from renamed
