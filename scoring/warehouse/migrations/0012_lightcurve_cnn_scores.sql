-- The light-curve CNN (task 'lightcurve_cnn', scoring/cnn/) scores every signal the search finds,
-- from the three views of ExoHunter's own fold; the views are kept so the result page can draw
-- what the network saw. Written with the signal rows, in the analysis's one transaction.
-- NULL score: no CNN trained (cnn_model_version NULL) or no view could be made of this fold
-- (cnn_note says why). The analysis row names the CNN it ran with, so a new CNN champion makes
-- the upload pending again, as a new light-curve classifier does.
alter table ml.lightcurve_analyses
    add column cnn_model_version text references ml.model_registry on delete set null;

alter table ml.lightcurve_signals
    add column cnn_model_version  text references ml.model_registry on delete set null,
    add column cnn_p_pc           double precision check (cnn_p_pc between 0 and 1),
    add column cnn_likely_pc      boolean,   -- cnn_p_pc at or above the CNN's threshold
    add column cnn_global_view    real[] check (cardinality(cnn_global_view) = 201),
    add column cnn_local_view     real[] check (cardinality(cnn_local_view) = 61),
    add column cnn_secondary_view real[] check (cardinality(cnn_secondary_view) = 61),
    add column cnn_secondary_days double precision,  -- the secondary view's centre after the transit
    add column cnn_note           text,      -- why there is no score, when there is none
    add constraint lightcurve_signals_cnn_score_check
        check ((cnn_p_pc is null) = (cnn_likely_pc is null)
               and (cnn_p_pc is null or cnn_model_version is not null));

comment on column ml.lightcurve_signals.cnn_p_pc is
    'P(planet candidate) by the light-curve CNN (trained on TESS QLP FFI views, Yu et al. 2019); not used in the verdict';
