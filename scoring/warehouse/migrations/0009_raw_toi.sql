-- The NASA Exoplanet Archive's TESS Objects of Interest table, landed exactly as the KOI table is
-- (0002_raw_koi.sql): one load batch per file in raw.load_batches (source_table = 'toi'), the
-- rows in a partition raw.toi_batch_<id> created, filled, keyed and attached in the load's
-- transaction, the lines that could not be loaded in raw.toi_rejects, the header's column
-- descriptions in raw.column_catalogue. Rows are never updated.
--
-- Typed as the archive documents it, archive column names. The NOT NULL columns are the values
-- a row cannot be loaded without: tfopwg_disp is the label but stays nullable, because older
-- exports leave undispositioned TOIs blank (1,263 of the 2,041 in the 2020-06-30 export).
-- toi is kept as the export spells it ('1000.01'), text like kepoi_name, so that the key is
-- exact; each _err1/_err2 pair is the upper/lower uncertainty in the value's unit and each
-- _lim the archive's limit flag (0: a measurement).
create table raw.toi (
    load_batch_id   bigint not null references raw.load_batches on delete cascade,
    source_line     integer not null,               -- 1-based line number in the file
    toi             text   collate "C" not null,    -- '1000.01', as the export spells it
    tid             bigint not null,                -- TESS Input Catalog id of the host star
    tfopwg_disp     text,                           -- TFOPWG disposition (CP KP PC APC FP FA); the label
    rastr           text,                           -- RA, sexagesimal
    ra              double precision,               -- degrees
    decstr          text,                           -- Dec, sexagesimal
    dec             double precision,               -- degrees
    st_pmra         double precision,               -- mas/yr
    st_pmraerr1     double precision,
    st_pmraerr2     double precision,
    st_pmralim      smallint,
    st_pmdec        double precision,               -- mas/yr
    st_pmdecerr1    double precision,
    st_pmdecerr2    double precision,
    st_pmdeclim     smallint,
    pl_tranmid      double precision,               -- BJD (TDB)
    pl_tranmiderr1  double precision,
    pl_tranmiderr2  double precision,
    pl_tranmidlim   smallint,
    pl_orbper       double precision,               -- days
    pl_orbpererr1   double precision,
    pl_orbpererr2   double precision,
    pl_orbperlim    smallint,
    pl_trandurh     double precision,               -- hours
    pl_trandurherr1 double precision,
    pl_trandurherr2 double precision,
    pl_trandurhlim  smallint,
    pl_trandep      double precision,               -- ppm
    pl_trandeperr1  double precision,
    pl_trandeperr2  double precision,
    pl_trandeplim   smallint,
    pl_rade         double precision,               -- Earth radii
    pl_radeerr1     double precision,
    pl_radeerr2     double precision,
    pl_radelim      smallint,
    pl_insol        double precision,               -- Earth flux
    pl_insolerr1    double precision,
    pl_insolerr2    double precision,
    pl_insollim     smallint,
    pl_eqt          double precision,               -- K
    pl_eqterr1      double precision,
    pl_eqterr2      double precision,
    pl_eqtlim       smallint,
    st_tmag         double precision,               -- TESS magnitude
    st_tmagerr1     double precision,
    st_tmagerr2     double precision,
    st_tmaglim      smallint,
    st_dist         double precision,               -- pc
    st_disterr1     double precision,
    st_disterr2     double precision,
    st_distlim      smallint,
    st_teff         double precision,               -- K
    st_tefferr1     double precision,
    st_tefferr2     double precision,
    st_tefflim      smallint,
    st_logg         double precision,               -- log10(cm s^-2)
    st_loggerr1     double precision,
    st_loggerr2     double precision,
    st_logglim      smallint,
    st_rad          double precision,               -- solar radii
    st_raderr1      double precision,
    st_raderr2      double precision,
    st_radlim       smallint,
    toi_created     timestamp,                      -- when the TOI was alerted (no zone in the export)
    rowupdate       timestamp,                      -- last change (a disposition, a note)
    extra_columns   jsonb  not null default '{}'::jsonb,  -- columns this schema does not know
    primary key (load_batch_id, toi)
) partition by list (load_batch_id);

comment on table raw.toi is
    'NASA Exoplanet Archive TESS Objects of Interest table, one row per TOI per load batch.';

-- Rows of a TOI file that could not be loaded, with the reason; the rest of their file loads.
create table raw.toi_rejects (
    load_batch_id bigint  not null references raw.load_batches on delete cascade,
    source_line   integer not null,
    raw_line      text    not null,
    reason        text    not null,
    primary key (load_batch_id, source_line)
);
