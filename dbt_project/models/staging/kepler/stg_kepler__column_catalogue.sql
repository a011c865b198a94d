with

source as (

    select * from {{ source('kepler', 'column_catalogue') }}

),

renamed as (

    select

        ---------- ids
        load_batch_id,
        column_name,

        ---------- text
        description as column_description,
        unit as column_unit

    from source

)

select * from renamed
