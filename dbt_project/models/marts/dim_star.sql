-- One row per host star (kepid) of the latest KOI batch.

with

stars as (

    select * from {{ ref('int_stars_aggregated') }}

),

final as (

    select

        ---------- keys
        kepid,
        load_batch_id,

        ---------- stellar parameters (from the star's first KOI)
        stellar_values_from_kepoi_name,
        stellar_teff_k,
        stellar_logg_cgs,
        stellar_radius_solar,
        stellar_density_catalogue_gcc,
        ra_deg,
        dec_deg,
        kepler_magnitude,

        ---------- KOI counts
        n_kois,
        n_confirmed,
        n_candidate,
        n_false_positive

    from stars

)

select * from final
