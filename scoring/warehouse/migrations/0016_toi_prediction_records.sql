-- What the TOI prediction gate validates (suite toi_predictions, scoring/quality/suites.py): one
-- model version's scores of one TOI batch, beside what its checks compare them with — the TOI's
-- record in the batch that was scored (raw.toi: its TIC and its TFOPWG disposition, the label
-- the mart copies unchanged) and the model's registry row. Each check that finds a bad row
-- names the TOI (a column that is NULL unless the row is wrong), so that the gate's message and
-- dq.validation_results show which TOIs, not only how many. The marts are not read here: dbt
-- rebuilds them, and a view over them would be dropped with them.
create view dq.toi_prediction_records as
select
    p.model_version, p.load_batch_id, p.toi, p.tic_id,
    p.p_planet, p.planet_log_odds, p.candidate_rank,
    r.tfopwg_disp,
    m.task as model_task,
    m.is_champion::integer as model_is_champion,
    -- |p_planet - 1 / (1 + exp(-planet_log_odds))|, evaluated without overflow or underflow
    -- (PostgreSQL raises on both; beyond |700| the logistic is 0 or 1 to 1e-304) and NaN kept
    case
        when p.planet_log_odds = 'NaN'::double precision then 'NaN'::double precision
        when p.planet_log_odds >= 0
            then abs(p.p_planet - 1 / (1 + exp(-least(p.planet_log_odds, 700))))
        else abs(p.p_planet - exp(greatest(p.planet_log_odds, -700))
                              / (1 + exp(greatest(p.planet_log_odds, -700))))
    end as p_planet_log_odds_gap,
    case when r.toi is null then p.toi end as toi_not_in_batch,
    case when r.toi is not null and r.tid is distinct from p.tic_id
        then p.toi || ' (TIC ' || p.tic_id || ', the batch: ' || coalesce(r.tid::text, 'none') || ')'
    end as tic_id_mismatch,
    -- a rank exactly for the PCs (PC: planet candidate, the TOIs the ranking is for)
    case when (p.candidate_rank is not null) <> (r.tfopwg_disp is not distinct from 'PC')
        then p.toi || ' (' || coalesce(r.tfopwg_disp, 'no disposition') || ', rank '
             || coalesce(p.candidate_rank::text, 'none') || ')'
    end as rank_disposition_conflict,
    -- in rank order the log-odds never rise (ties, which the model cannot tell apart, may
    -- come in either order)
    case when p.candidate_rank is not null
              and p.planet_log_odds > lag(p.planet_log_odds) over by_rank
        then p.toi || ' (rank ' || p.candidate_rank || ')'
    end as rank_against_log_odds,
    case when r.tfopwg_disp = 'PC' then p.planet_log_odds end as pc_planet_log_odds,
    case when r.tfopwg_disp = 'PC' then (p.p_planet >= 0.5)::integer end as pc_predicted_planet,
    case when r.tfopwg_disp in ('CP', 'KP') then p.p_planet end as known_planet_p_planet,
    case when r.tfopwg_disp in ('FP', 'FA') then p.p_planet end as false_positive_p_planet
from ml.toi_predictions as p
left join raw.toi as r
    on r.load_batch_id = p.load_batch_id and r.toi = p.toi
left join ml.model_registry as m
    on m.model_version = p.model_version
window by_rank as (partition by p.model_version, p.load_batch_id order by p.candidate_rank);
