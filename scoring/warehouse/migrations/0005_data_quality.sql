-- Data quality (scoring/quality.py, Great Expectations): one row per validation run and one per
-- expectation result, written together in one transaction by `exohunter check` and by the
-- gates of `exohunter run`, so Superset shows the data's health beside the discoveries. The
-- views below are what the suites validate: each exposes one batch per load batch (or per model
-- version and batch), so a run checks the batch being gated, never the whole history.

create table dq.validation_runs (
    validation_run_id uuid        primary key,
    stage             text        not null check (stage in ('raw', 'features', 'predictions', 'anomalies')),
    suite_name        text        not null,
    data_asset        text        not null,   -- the relation validated, e.g. dq.koi_batch_records
    load_batch_id     bigint      references raw.load_batches,  -- the batch validated (or scored)
    model_version     text,                   -- the model whose outputs were validated
    parameters        jsonb       not null default '{}'::jsonb,  -- runtime values of the suite's
                                              -- parameters (previous batch, reference model ...)
    triggered_by      text        not null check (triggered_by in ('run', 'check')),
    started_at        timestamptz not null,
    finished_at       timestamptz not null,
    success           boolean     not null,   -- every expectation passed
    critical_success  boolean     not null    -- no critical expectation failed: the gate's verdict
);

create index validation_runs_suite_started on dq.validation_runs (suite_name, started_at desc);

create table dq.validation_results (
    validation_run_id  uuid    not null references dq.validation_runs on delete cascade,
    expectation_key    text    not null,  -- stable name within the suite, e.g. koi_period_positive
    expectation_type   text    not null,  -- e.g. expect_column_values_to_be_between
    column_name        text,              -- NULL for table-level expectations
    is_critical        boolean not null,  -- a critical failure stops the pipeline; else a warning
    success            boolean not null,
    observed_value     jsonb,             -- aggregate expectations: the value measured
    element_count      bigint,            -- column expectations: rows looked at
    unexpected_count   bigint,            -- column expectations: values that failed
    unexpected_percent double precision,  -- of the non-NULL values
    unexpected_values  jsonb,             -- a few of them (at most five)
    arguments          jsonb   not null,  -- the expectation's arguments, parameters resolved
    description        text    not null,  -- what is checked and why
    exception_message  text,              -- set when the expectation could not be evaluated
    primary key (validation_run_id, expectation_key)
);

-- Every record of each KOI file as the export had it: the rows ingest loaded, plus the records it
-- set aside in raw.koi_rejects (their values are NULL; a duplicate keeps its kepoi_name, parsed
-- from ingest's reason 'duplicate kepoi_name K00752.01 (first on line 5)'), so that a duplicated
-- KOI or a pile of unreadable lines shows in the batch being validated. UNION ALL keeps a filter
-- on load_batch_id pushed down to the batch's partition.
create view dq.koi_batch_records as
select
    load_batch_id, source_line, kepoi_name, kepid, koi_disposition, koi_pdisposition,
    koi_score, koi_fpflag_nt, koi_fpflag_ss, koi_fpflag_co, koi_fpflag_ec,
    koi_period, koi_period_err1, koi_period_err2, koi_time0bk,
    koi_impact, koi_impact_err1, koi_impact_err2,
    koi_duration, koi_duration_err1, koi_duration_err2,
    koi_depth, koi_depth_err1, koi_depth_err2,
    koi_model_snr, koi_tce_plnt_num, koi_prad, koi_teq, koi_insol,
    koi_steff, koi_slogg, koi_srad, ra, dec, koi_kepmag,
    null::text as reject_reason
from raw.koi_cumulative
union all
select
    load_batch_id, source_line,
    substring(reason from '^duplicate kepoi_name (\S+) \(first on line'), null, null, null,
    null, null, null, null, null,
    null, null, null, null,
    null, null, null,
    null, null, null,
    null, null, null,
    null, null, null, null, null,
    null, null, null, null, null, null,
    reason
from raw.koi_rejects;

-- Predictions with what their checks need: the sum of the three class probabilities and, for
-- the archive's CANDIDATE KOIs (those with a candidate_rank), whether P(planet) reaches the
-- decision threshold 0.5 (scoring.training.THRESHOLD) — its mean is the share of candidates
-- predicted to be planets.
create view dq.koi_prediction_records as
select
    model_version, load_batch_id, kepoi_name,
    p_planet, p_confirmed, p_candidate, p_false_positive,
    p_confirmed + p_candidate + p_false_positive as class_probability_sum,
    predicted_class, candidate_rank,
    case when candidate_rank is not null then (p_planet >= 0.5)::integer end
        as candidate_predicted_planet
from ml.koi_predictions;

-- Anomaly scores with the flag as 0/1, so that its mean is the flagged share.
create view dq.koi_anomaly_records as
select
    model_version, load_batch_id, kepoi_name,
    score_iforest, score_ecod, score_copod, score_knn, ensemble_score, anomaly_rank,
    is_anomaly::integer as anomaly_flag,
    density_log_ratio, p_outlier, p_outlier_low, p_outlier_high
from ml.koi_anomalies;
