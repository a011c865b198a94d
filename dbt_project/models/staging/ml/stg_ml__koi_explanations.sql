with

source as (

    select * from {{ source('ml', 'koi_explanations') }}

),

renamed as (

    select

        ---------- ids
        model_version,
        load_batch_id,
        kepoi_name,
        feature,

        ---------- explanation
        feature_value,
        contribution,
        rank as contribution_rank

    from source

)

select * from renamed
