with

source as (

    select * from {{ source('lightcurves', 'lightcurve_segments') }}

),

renamed as (

    select

        ---------- ids
        lightcurve_id,
        segment_number,
        file_sha256,

        ---------- the file
        file_name,
        file_bytes,
        file_format,
        section,
        flux_column,

        ---------- the series it gave
        n_cadences,
        n_points,
        n_dropped_quality,
        n_dropped_nonfinite,
        first_point_index,
        time_start,
        time_end,
        time_end - time_start as time_span_days,

        ---------- the normalisation: the file's flux = the stitched flux x median_flux
        median_flux

    from source

)

select * from renamed
