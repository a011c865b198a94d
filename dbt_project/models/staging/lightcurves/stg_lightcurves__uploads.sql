with

source as (

    select * from {{ source('lightcurves', 'lightcurve_uploads') }}

),

renamed as (

    select

        ---------- ids
        upload_id,
        lightcurve_id,

        ---------- the upload
        submitted_via,
        uploaded_at,

        ---------- what the user said about the star
        star_id as user_star_id,
        star_kepid as user_kepid,
        stellar_teff_k as user_stellar_teff_k,
        stellar_logg_cgs as user_stellar_logg_cgs,
        stellar_radius_solar as user_stellar_radius_solar

    from source

)

select * from renamed
