-- Raw landing tables for NASA Exoplanet Archive exports. Rows are never updated: every file is a
-- load batch, and a new snapshot adds a batch beside the old ones.

create table raw.load_batches (
    load_batch_id   bigint generated always as identity primary key,
    source_table    text        not null,               -- e.g. 'koi_cumulative'
    source_uri      text        not null,               -- path or URL the file came from
    file_sha256     text        not null,
    file_bytes      bigint      not null,
    snapshot_at     timestamptz not null,               -- export time from the '#' header, else load time
    snapshot_source text        not null check (snapshot_source in ('header', 'load_time')),
    rows_loaded     integer     not null,
    rows_rejected   integer     not null,
    columns_missing text[]      not null default '{}',  -- known columns absent from the file
    columns_extra   text[]      not null default '{}',  -- unknown columns kept in extra_columns
    status          text        not null check (status in ('loaded', 'failed_quality')),
    status_reason   text,
    started_at      timestamptz not null,
    finished_at     timestamptz not null,
    unique (source_table, file_sha256)
);

comment on table raw.load_batches is 'One row per loaded archive file: provenance, counts, timings.';

-- Column descriptions and units from the archive's "# COLUMN name: description [unit]" header.
create table raw.column_catalogue (
    load_batch_id bigint not null references raw.load_batches on delete cascade,
    column_name   text   not null,
    description   text   not null,
    unit          text,
    primary key (load_batch_id, column_name)
);

-- The KOI cumulative table, typed as the archive documents it. Column names are the archive's.
-- Partitioned by load batch: ingest COPYs a file into a new table raw.koi_cumulative_batch_<id>
-- (no indexes, no foreign-key trigger) and attaches it when complete, in the same transaction.
-- Attaching builds the primary key index in one sort and checks the foreign key with one query,
-- instead of per row (a row-by-row FK check doubled the time of the COPY), and nobody ever sees
-- half a batch. The NOT NULL columns are the values a row cannot be loaded without.
create table raw.koi_cumulative (
    load_batch_id     bigint not null references raw.load_batches on delete cascade,
    source_line       integer not null,          -- 1-based line number in the file
    loc_rowid         integer,
    kepid             bigint not null,
    kepoi_name        text   collate "C" not null,  -- 'K00752.01': ASCII ids, byte order
    kepler_name       text,
    koi_disposition   text   not null,
    koi_pdisposition  text,
    koi_score         double precision,
    koi_fpflag_nt     smallint,
    koi_fpflag_ss     smallint,
    koi_fpflag_co     smallint,
    koi_fpflag_ec     smallint,
    koi_period        double precision,          -- days
    koi_period_err1   double precision,
    koi_period_err2   double precision,
    koi_time0bk       double precision,          -- BKJD (BJD - 2454833.0)
    koi_time0bk_err1  double precision,
    koi_time0bk_err2  double precision,
    koi_impact        double precision,
    koi_impact_err1   double precision,
    koi_impact_err2   double precision,
    koi_duration      double precision,          -- hours
    koi_duration_err1 double precision,
    koi_duration_err2 double precision,
    koi_depth         double precision,          -- ppm
    koi_depth_err1    double precision,
    koi_depth_err2    double precision,
    koi_prad          double precision,          -- Earth radii
    koi_prad_err1     double precision,
    koi_prad_err2     double precision,
    koi_teq           double precision,          -- K
    koi_teq_err1      double precision,
    koi_teq_err2      double precision,
    koi_insol         double precision,          -- Earth flux
    koi_insol_err1    double precision,
    koi_insol_err2    double precision,
    koi_model_snr     double precision,
    koi_tce_plnt_num  integer,
    koi_tce_delivname text,
    koi_steff         double precision,          -- K
    koi_steff_err1    double precision,
    koi_steff_err2    double precision,
    koi_slogg         double precision,          -- log10(cm s^-2)
    koi_slogg_err1    double precision,
    koi_slogg_err2    double precision,
    koi_srad          double precision,          -- solar radii
    koi_srad_err1     double precision,
    koi_srad_err2     double precision,
    ra                double precision,          -- degrees
    dec               double precision,          -- degrees
    koi_kepmag        double precision,          -- Kepler-band magnitude
    extra_columns     jsonb  not null default '{}'::jsonb,  -- columns this schema does not know
    primary key (load_batch_id, kepoi_name)
) partition by list (load_batch_id);

comment on table raw.koi_cumulative is
    'NASA Exoplanet Archive KOI cumulative table, one row per KOI per load batch.';

-- Rows that could not be loaded, with the reason; the rest of their file loads.
create table raw.koi_rejects (
    load_batch_id bigint  not null references raw.load_batches on delete cascade,
    source_line   integer not null,
    raw_line      text    not null,
    reason        text    not null,
    primary key (load_batch_id, source_line)
);
