with

source as (

    select * from {{ source('ml', 'model_registry') }}

),

renamed as (

    select

        ---------- ids
        model_version,
        task as model_task,

        ---------- model
        algorithm,
        hyperparameters,
        feature_list,
        cardinality(feature_list) as n_features,

        ---------- training data
        training_load_batch_id,
        training_data,
        training_snapshot_at,
        training_rows as n_training_kois,

        ---------- artifacts
        artifact_path,
        artifact_sha256,
        model_card_path,

        ---------- status
        is_champion,

        ---------- timestamps
        created_at

    from source

)

select * from renamed
