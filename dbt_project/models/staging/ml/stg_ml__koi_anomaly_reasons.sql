with

source as (

    select * from {{ source('ml', 'koi_anomaly_reasons') }}

),

renamed as (

    select

        ---------- ids
        model_version,
        load_batch_id,
        kepoi_name,
        feature,

        ---------- reason
        feature_value,
        deviation,
        rank as deviation_rank

    from source

)

select * from renamed
