-- Light curves (issue 7). raw: what was given — one row per light curve (deduplicated by file
-- sha256 and, for multi-series files, the series), its points, and one row per upload (the same
-- file uploaded twice is one light curve and two uploads, each with its own stellar parameters).
-- ml: what ExoHunter made of an upload — the search's signals with P(planet) and the checks,
-- and one analysis row with the anomaly score. Re-analysing an upload replaces its ml rows.

create table raw.lightcurves (
    lightcurve_id       bigint generated always as identity primary key,
    file_sha256         text        not null,
    series_key          text        not null default '',  -- which series of a multi-series file
    file_name           text        not null,
    file_bytes          bigint      not null,
    file_format         text        not null check (file_format in ('fits', 'csv', 'jsonl')),
    mission             text        not null check (mission in ('Kepler', 'K2', 'TESS', 'unknown')),
    target_id           text,                    -- 'KIC 10874614', 'EPIC 211117077', 'TIC ...'
    kepid               bigint,                  -- links to the KOI table's kepid
    section             text,                    -- 'Q16', 'C4', 'S1'
    label               text,                    -- a label shipped with the series; never a feature
    time_system         text        not null,    -- 'BKJD', 'BTJD', 'BJD', 'MJD', 'relative days'
    flux_column         text        not null,    -- 'PDCSAP_FLUX', 'SAP_FLUX', a CSV column
    n_cadences          integer     not null,    -- rows in the file
    n_points            integer     not null check (n_points > 0),  -- kept
    n_dropped_quality   integer     not null,    -- QUALITY-flagged cadences
    n_dropped_nonfinite integer     not null,    -- NaN time or flux
    time_start          double precision not null,
    time_end            double precision not null,
    time_span_days      double precision not null,
    cadence_minutes     double precision not null,
    loaded_at           timestamptz not null default now(),
    unique (file_sha256, series_key)
);

comment on table raw.lightcurves is 'One row per light curve given to ExoHunter, with provenance.';

create table raw.lightcurve_points (
    lightcurve_id bigint  not null references raw.lightcurves on delete cascade,
    point_index   integer not null,
    time          double precision not null,  -- in the light curve's time_system [days]
    flux          double precision not null,  -- as in the file (not normalised)
    flux_err      double precision,
    primary key (lightcurve_id, point_index)
);

create table raw.lightcurve_uploads (
    upload_id            bigint generated always as identity primary key,
    lightcurve_id        bigint      not null references raw.lightcurves on delete cascade,
    submitted_via        text        not null check (submitted_via in ('cli', 'web', 'api')),
    star_id              text,                -- as the user gave it
    star_kepid           bigint,              -- the KIC id it names, if any
    stellar_teff_k       double precision,    -- as the user gave them
    stellar_logg_cgs     double precision,
    stellar_radius_solar double precision,
    uploaded_at          timestamptz not null default now()
);

create index lightcurve_uploads_lightcurve on raw.lightcurve_uploads (lightcurve_id);

create table ml.lightcurve_analyses (
    upload_id              bigint primary key references raw.lightcurve_uploads on delete cascade,
    lightcurve_id          bigint      not null references raw.lightcurves on delete cascade,
    search_version         text        not null,  -- hash of the search configuration
    model_version          text references ml.model_registry on delete set null,
    search_mode            text        not null check (search_mode in ('coherent', 'semi-coherent')),
    trial_periods          integer     not null,
    search_seconds         double precision not null,
    stopped_by             text        not null,
    stellar_source         text        not null check (stellar_source in ('user', 'koi_table', 'none')),
    stellar_teff_k         double precision,  -- the values the model used
    stellar_logg_cgs       double precision,
    stellar_radius_solar   double precision,
    n_signals              integer     not null,  -- significant detections
    n_likely_planets       integer     not null,
    best_p_planet          double precision check (best_p_planet between 0 and 1),
    anomaly_score          double precision not null check (anomaly_score between 0 and 1),
    anomaly_dip_depth      double precision not null,
    anomaly_dip_count      double precision not null,
    anomaly_dip_asymmetry  double precision not null,
    anomaly_dip_depth_variation double precision not null,
    n_dips                 integer     not null,
    anomaly_reasons        text[]      not null,
    analysed_at            timestamptz not null
);

create table ml.lightcurve_signals (
    upload_id             bigint  not null references ml.lightcurve_analyses on delete cascade,
    signal_number         integer not null,         -- 1 = first found
    period_days           double precision not null,
    epoch                 double precision not null,  -- mid-transit, light curve's time system
    duration_hours        double precision not null,
    depth_ppm             double precision not null,
    depth_err_ppm         double precision not null,
    snr                   double precision not null,
    sde                   double precision not null,
    fap                   double precision not null,
    n_transits            integer not null,
    odd_depth_ppm         double precision,
    even_depth_ppm        double precision,
    odd_even_sigma        double precision not null,
    secondary_depth_ppm   double precision not null,
    secondary_snr         double precision not null,
    half_period_depth_ppm double precision not null,
    sinusoid_preferred    boolean not null,
    period_check          text    not null,
    significant           boolean not null,
    p_planet              double precision check (p_planet between 0 and 1),
    model_variant         text,                     -- 'light_curve_only' or 'with_star'
    likely_planet         boolean not null,
    reasons               text[]  not null,         -- the model's largest contributions
    flags                 text[]  not null,         -- failed light-curve checks
    primary key (upload_id, signal_number)
);
