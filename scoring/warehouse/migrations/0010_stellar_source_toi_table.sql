-- A light-curve analysis can take its stellar parameters from the TOI table: a TESS upload of a
-- TOI host gets the TIC parameters of the latest TOI batch (scoring/lightcurves/stars.py), and
-- its ml.lightcurve_analyses row says stellar_source = 'toi_table'. 0007's check allowed only
-- 'user', 'koi_table' and 'none'; 0007 is applied and never edited, so the check is replaced.
alter table ml.lightcurve_analyses
    drop constraint lightcurve_analyses_stellar_source_check,
    add constraint lightcurve_analyses_stellar_source_check
        check (stellar_source in ('user', 'koi_table', 'toi_table', 'none'));
