with

source as (

    select * from {{ source('kepler', 'load_batches') }}

),

renamed as (

    select

        ---------- ids
        load_batch_id,
        source_table,

        ---------- provenance
        source_uri,
        file_sha256,
        file_bytes,
        snapshot_at,
        snapshot_source,
        columns_missing,
        columns_extra,

        ---------- counts
        rows_loaded,
        rows_rejected,

        ---------- status
        status,
        status_reason,
        status = 'loaded' as is_loaded,

        ---------- timestamps
        started_at,
        finished_at

    from source

)

select * from renamed
