with

source as (

    select * from {{ source('ml', 'model_curves') }}

),

renamed as (

    select

        ---------- ids
        model_version,
        task as evaluation_task,
        estimator,
        curve,
        point_index,

        ---------- point
        x,
        y,
        threshold,
        n as n_kois_in_bin

    from source

)

select * from renamed
