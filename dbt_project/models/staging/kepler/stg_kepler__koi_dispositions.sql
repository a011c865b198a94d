-- One row per KOI of every KOI batch that passed the raw gate (status 'loaded'), with the
-- archive snapshot time of its batch: the disposition of each KOI in each snapshot, the input
-- of the disposition history (int_dispositions_snapshotted). Unlike stg_kepler__koi, every
-- loaded batch, not only the latest; only the columns a history needs.

with

source as (

    select * from {{ source('kepler', 'koi_cumulative') }}

),

load_batches as (

    select * from {{ source('kepler', 'load_batches') }}

),

loaded_batches as (

    select
        load_batch_id,
        snapshot_at

    from load_batches

    where
        source_table = 'koi_cumulative'
        and status = 'loaded'

),

renamed as (

    select

        ---------- ids
        source.kepoi_name,
        source.kepid,
        source.load_batch_id,

        ---------- snapshot
        loaded_batches.snapshot_at,

        ---------- disposition (Exoplanet Archive)
        source.koi_disposition

    from source

    inner join loaded_batches
        on source.load_batch_id = loaded_batches.load_batch_id

)

select * from renamed
