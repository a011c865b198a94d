with

source as (

    select * from {{ source('kepler', 'koi_rejects') }}

),

renamed as (

    select

        ---------- ids
        load_batch_id,
        source_line,

        ---------- text
        raw_line,
        reason as reject_reason

    from source

)

select * from renamed
