-- The KOI classifier ranks by its calibrated log-odds of P(planet) (Platt scaling of the mean
-- log-odds of the refit and the inner-fold models, scoring/ml/nested_cv.py): strictly in the
-- order of p_planet, but without the rounding of a probability near 1, so the CANDIDATEs get a
-- strict order. NULL for predictions written before the classifier stored it.
alter table ml.koi_predictions
    add column planet_log_odds double precision;

comment on column ml.koi_predictions.planet_log_odds is
    'Calibrated log-odds of P(planet): p_planet = 1 / (1 + exp(-planet_log_odds)); the candidate ranking score';
comment on column ml.koi_predictions.candidate_rank is
    'Rank by planet_log_odds among the batch''s CANDIDATE KOIs, 1 = most likely a planet';
