-- Stitched light curves (issue 13): several files of one star (Kepler quarters, K2 campaigns,
-- TESS sectors) uploaded together are ONE light curve and ONE upload. The light curve's row in
-- raw.lightcurves has series_key 'stitched', the sha256 of its set of files (sorted, so the same
-- files in any order are the same light curve) and n_segments > 1; its points in
-- raw.lightcurve_points are the segments end to end in time order, each segment's flux and flux
-- error divided by that segment's median flux (lightkurve's LightCurveCollection.stitch()). Each
-- file is one row here, with its own sha256 and the median it was divided by: the file's flux is
-- the stored flux times median_flux. A light curve from one file has no rows here.

alter table raw.lightcurves
    add column n_segments integer not null default 1 check (n_segments >= 1);

comment on column raw.lightcurves.n_segments is
    'Files stitched into this light curve (1: a single file; see raw.lightcurve_segments).';

create table raw.lightcurve_segments (
    lightcurve_id       bigint  not null references raw.lightcurves on delete cascade,
    segment_number      integer not null check (segment_number >= 1),  -- 1 = earliest
    file_name           text    not null,
    file_sha256         text    not null,
    file_bytes          bigint  not null,
    file_format         text    not null check (file_format in ('fits', 'csv', 'jsonl')),
    section             text,                    -- 'Q16', 'C4', 'S1'
    flux_column         text    not null,
    n_cadences          integer not null,        -- rows in the file
    n_points            integer not null check (n_points > 0),  -- kept
    n_dropped_quality   integer not null,
    n_dropped_nonfinite integer not null,
    first_point_index   integer not null,        -- its first point in raw.lightcurve_points
    time_start          double precision not null,
    time_end            double precision not null,
    median_flux         double precision not null check (median_flux > 0),  -- the normalisation
    primary key (lightcurve_id, segment_number),
    unique (lightcurve_id, file_sha256)
);

comment on table raw.lightcurve_segments is
    'The files of a stitched light curve, in time order, each with the median it was divided by.';
