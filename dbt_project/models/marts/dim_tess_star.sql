-- One row per TIC host star of the latest TOI batch (the Kepler hosts are in dim_star).

with

stars as (

    select * from {{ ref('int_tess_stars_aggregated') }}

),

final as (

    select

        ---------- keys
        tic_id,
        load_batch_id,

        ---------- stellar parameters (TIC, from the star's first TOI)
        stellar_values_from_toi,
        stellar_teff_k,
        stellar_logg_cgs,
        stellar_radius_solar,
        stellar_density_catalogue_gcc,
        tess_magnitude,
        stellar_distance_pc,
        proper_motion_ra_mas_per_yr,
        proper_motion_dec_mas_per_yr,
        ra_deg,
        dec_deg,

        ---------- TOI counts by TFOPWG disposition
        n_tois,
        n_planets,
        n_candidates,
        n_false_positives,
        n_undispositioned

    from stars

)

select * from final
