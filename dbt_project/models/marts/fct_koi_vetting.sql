-- Vetting outputs of the Kepler pipeline, one row per KOI of the latest KOI batch.
-- For the leaky-ceiling comparison and ablations only: never features.

with

kois as (

    select * from {{ ref('stg_kepler__koi') }}

),

final as (

    select

        ---------- keys
        kepoi_name,
        load_batch_id,

        ---------- vetting outputs
        koi_score,
        koi_pdisposition,
        koi_fpflag_nt,
        koi_fpflag_ss,
        koi_fpflag_co,
        koi_fpflag_ec,

        ---------- names given by the vetting and the pipeline (display only)
        kepler_name,
        tce_delivery_name

    from kois

)

select * from final
