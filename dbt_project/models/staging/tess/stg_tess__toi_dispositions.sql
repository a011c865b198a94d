-- One row per TOI of every TOI batch that passed the raw gate (status 'loaded'), with the
-- archive snapshot time of its batch: the disposition of each TOI in each snapshot, the input
-- of the disposition history (int_dispositions_snapshotted). Unlike stg_tess__toi, every loaded
-- batch, not only the latest; only the columns a history needs.

with

source as (

    select * from {{ source('tess', 'toi') }}

),

load_batches as (

    select * from {{ source('tess', 'load_batches') }}

),

loaded_batches as (

    select
        load_batch_id,
        snapshot_at

    from load_batches

    where
        source_table = 'toi'
        and status = 'loaded'

),

renamed as (

    select

        ---------- ids
        source.toi,
        source.tid as tic_id,
        source.load_batch_id,

        ---------- snapshot
        loaded_batches.snapshot_at,

        ---------- disposition (TFOPWG; NULL where an older export leaves it blank)
        source.tfopwg_disp

    from source

    inner join loaded_batches
        on source.load_batch_id = loaded_batches.load_batch_id

)

select * from renamed
