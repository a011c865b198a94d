-- The TOI classifier (task 'toi_classifier', scoring/classifier/toi_training.py): P(planet) for
-- every TOI of a TOI load batch, trained on CP+KP vs FP+FA and grouped by TIC. PC and APC are
-- scored, never trained on; the PCs are ranked on the calibrated log-odds (a strict order, as
-- for the KOI CANDIDATEs). A model version's scores of one batch are replaced together, in one
-- transaction.
create table ml.toi_predictions (
    model_version   text             not null references ml.model_registry on delete cascade,
    load_batch_id   bigint           not null references raw.load_batches,
    toi             text             not null,
    tic_id          bigint           not null,
    p_planet        double precision not null check (p_planet between 0 and 1),
    planet_log_odds double precision not null,
    candidate_rank  integer check (candidate_rank >= 1),  -- among the batch's PCs, 1 = best
    scored_at       timestamptz      not null,
    primary key (model_version, load_batch_id, toi)
);

comment on column ml.toi_predictions.planet_log_odds is
    'Calibrated log-odds of P(planet): p_planet = 1 / (1 + exp(-planet_log_odds)); the ranking score';
