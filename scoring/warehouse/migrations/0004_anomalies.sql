-- Anomaly results: one row per (anomaly model version, load batch, KOI) with every detector's
-- score, the ensemble's score and rank, and the Bayesian outlier model's probability; the reasons
-- of each flagged KOI in long format, like the classifier's explanations. The fit diagnostics of
-- the Bayesian model (R-hat, ESS, divergences) go to ml.model_metrics with the model version.

create table ml.koi_anomalies (
    model_version       text        not null references ml.model_registry on delete cascade,
    load_batch_id       bigint      not null references raw.load_batches,
    kepoi_name          text        not null,
    score_iforest       double precision not null,  -- each detector's score as a percentile in
    score_ecod          double precision not null,  -- the batch (0 = most ordinary, 1 = rarest)
    score_copod         double precision not null,
    score_knn           double precision not null,
    ensemble_score      double precision not null check (ensemble_score between 0 and 1),
    anomaly_rank        integer     not null check (anomaly_rank >= 1),  -- 1 = most unusual
    is_anomaly          boolean     not null,       -- inside the contamination budget
    density_log_ratio   double precision,           -- log10(rho_transit / rho_catalogue)
    p_outlier           double precision check (p_outlier between 0 and 1),
    p_outlier_low       double precision check (p_outlier_low between 0 and 1),   -- 90 % credible
    p_outlier_high      double precision check (p_outlier_high between 0 and 1),  -- interval
    is_bayes_outlier    boolean,
    scored_at           timestamptz not null,
    primary key (model_version, load_batch_id, kepoi_name)
);

create table ml.koi_anomaly_reasons (
    model_version  text    not null references ml.model_registry on delete cascade,
    load_batch_id  bigint  not null references raw.load_batches,
    kepoi_name     text    not null,
    feature        text    not null,
    feature_value  double precision,
    deviation      double precision not null,  -- as the detectors see it: (x - median) / (p99 - p1),
                                               -- x in log10 for the scale-free features
    rank           integer not null,           -- 1 = largest |deviation|
    primary key (model_version, load_batch_id, kepoi_name, feature)
);
