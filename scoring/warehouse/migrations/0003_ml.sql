-- Results schema for the scoring service (after dssg/triage's results_schema): a registry keyed
-- by a deterministic model version, metrics and curves per version, predictions keyed by
-- (model version, load batch, KOI), explanations in long format.

create table ml.model_registry (
    model_version          text primary key,       -- sha256 of (config, feature list, training batch), 16 hex
    task                   text        not null,   -- 'koi_classifier', 'koi_anomaly', ...
    algorithm              text        not null,
    hyperparameters        jsonb       not null,
    feature_list           text[]      not null,
    training_load_batch_id bigint      not null references raw.load_batches,
    training_snapshot_at   timestamptz not null,
    training_rows          integer     not null,
    artifact_path          text        not null,   -- relative to $EXOHUNTER_HOME
    artifact_sha256        text        not null,
    model_card_path        text,
    is_champion            boolean     not null default false,
    created_at             timestamptz not null default now()
);

-- At most one champion per task.
create unique index model_registry_one_champion on ml.model_registry (task) where is_champion;

create table ml.model_metrics (
    model_version text not null references ml.model_registry on delete cascade,
    task          text not null,   -- 'p_planet', 'three_class', 'ablation_with_vetting', 'leaky_ceiling'
    estimator     text not null,   -- which candidate the figure belongs to
    metric        text not null,   -- 'roc_auc', 'recall_at_precision_0.90', ...
    class_label   text not null default '',  -- '' for overall figures
    value         double precision not null,
    protocol      text not null,   -- how it was measured, in words
    honest        boolean not null default true,  -- false: reads vetting outputs, comparison only
    primary key (model_version, task, estimator, metric, class_label)
);

create table ml.model_curves (
    model_version text    not null references ml.model_registry on delete cascade,
    task          text    not null,
    estimator     text    not null,
    curve         text    not null check (curve in ('roc', 'pr', 'calibration')),
    point_index   integer not null,
    x             double precision not null,  -- fpr / recall / mean predicted probability
    y             double precision not null,  -- tpr / precision / observed frequency
    threshold     double precision,
    n             integer,                    -- calibration: KOIs in the bin
    primary key (model_version, task, estimator, curve, point_index)
);

create table ml.koi_predictions (
    model_version    text        not null references ml.model_registry on delete cascade,
    load_batch_id    bigint      not null references raw.load_batches,
    kepoi_name       text        not null,
    p_planet         double precision not null check (p_planet between 0 and 1),
    p_confirmed      double precision not null check (p_confirmed between 0 and 1),
    p_candidate      double precision not null check (p_candidate between 0 and 1),
    p_false_positive double precision not null check (p_false_positive between 0 and 1),
    predicted_class  text        not null check (predicted_class in ('CONFIRMED', 'CANDIDATE', 'FALSE POSITIVE')),
    candidate_rank   integer,    -- rank by p_planet among the batch's CANDIDATE KOIs (1 = best)
    scored_at        timestamptz not null,
    primary key (model_version, load_batch_id, kepoi_name)
);

create table ml.koi_explanations (
    model_version  text    not null references ml.model_registry on delete cascade,
    load_batch_id  bigint  not null references raw.load_batches,
    kepoi_name     text    not null,
    feature        text    not null,
    feature_value  double precision,
    contribution   double precision not null,  -- TreeSHAP contribution to the P(planet) log-odds
    rank           integer not null,           -- 1 = largest |contribution|
    primary key (model_version, load_batch_id, kepoi_name, feature)
);
