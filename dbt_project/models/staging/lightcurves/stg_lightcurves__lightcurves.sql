with

source as (

    select * from {{ source('lightcurves', 'lightcurves') }}

),

renamed as (

    select

        ---------- ids
        lightcurve_id,
        file_sha256,
        series_key,

        ---------- the file
        file_name,
        file_bytes,
        file_format,
        loaded_at,

        ---------- what it observes
        mission,
        target_id,
        kepid,
        section,
        label as shipped_label,

        ---------- the series
        time_system,
        flux_column,
        n_cadences,
        n_points,
        n_dropped_quality,
        n_dropped_nonfinite,
        time_start,
        time_end,
        time_span_days,
        cadence_minutes,

        ---------- stitched from several files (1: one file; migration 0008)
        n_segments

    from source

)

select * from renamed
