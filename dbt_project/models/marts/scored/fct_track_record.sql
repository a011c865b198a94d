-- The track record: per (model version, scored snapshot, later snapshot), how the old scores of
-- the signals the model could not have seen (fct_track_record_signals, its honesty guard) fared
-- once the archive resolved them. ROC AUC is the Mann-Whitney rank sum of the old log-odds over
-- the resolved signals (mid-ranks for ties), average precision the mean, over the confirmed
-- ones, of the precision at their score (ties as one threshold): sklearn's definitions.
-- Precision among the old top K two ways: among the resolved of the top K, and with the
-- unresolved counted as not confirmed (over min(K, signals counted)).

with

signals as (

    select * from {{ ref('fct_track_record_signals') }}

),

predictions as (

    select * from {{ ref('int_predictions_unioned') }}

),

scored_counts as (

    select
        model_version,
        load_batch_id as scored_load_batch_id,
        count(*) as n_signals_scored

    from predictions

    group by model_version, load_batch_id

),

---------- the resolved signals, ranked on their old log-odds
resolved as (

    select
        model_version,
        scored_load_batch_id,
        later_load_batch_id,
        is_confirmed,
        rank() over score_order
        + (count(*) over (partition by model_version, scored_load_batch_id, later_load_batch_id, old_planet_log_odds) - 1)
        / 2.0 as score_mid_rank,
        count(*) over score_at_or_above as n_at_or_above,
        count(*) filter (where is_confirmed) over score_at_or_above as n_confirmed_at_or_above

    from signals

    where is_resolved

    window
        score_order as (
            partition by model_version, scored_load_batch_id, later_load_batch_id
            order by old_planet_log_odds
        ),
        score_at_or_above as (
            partition by model_version, scored_load_batch_id, later_load_batch_id
            order by old_planet_log_odds desc
            range between unbounded preceding and current row
        )

),

ranking_quality as (

    select
        model_version,
        scored_load_batch_id,
        later_load_batch_id,
        (
            (
                sum(score_mid_rank) filter (where is_confirmed)
                - count(*) filter (where is_confirmed) * (count(*) filter (where is_confirmed) + 1) / 2.0
            )
            / nullif(count(*) filter (where is_confirmed) * count(*) filter (where not is_confirmed), 0)
        )::double precision as roc_auc,
        sum(n_confirmed_at_or_above::double precision / n_at_or_above) filter (where is_confirmed)
        / nullif(count(*) filter (where is_confirmed), 0) as average_precision

    from resolved

    group by model_version, scored_load_batch_id, later_load_batch_id

),

{% set top_ks = [50, 100, 250] %}

counts as (

    select
        model_version,
        scored_load_batch_id,
        later_load_batch_id,
        max(mission) as mission,
        max(model_task) as model_task,
        max(training_snapshot_at) as training_snapshot_at,
        max(scored_snapshot_at) as scored_snapshot_at,
        max(later_snapshot_at) as later_snapshot_at,
        count(*) as n_unresolved_scored,
        count(*) filter (where is_resolved) as n_resolved,
        count(*) filter (where outcome = 'planet') as n_resolved_planet,
        count(*) filter (where outcome = 'false_positive') as n_resolved_false_positive,
        count(*) filter (where outcome = 'unresolved') as n_still_unresolved,
        count(*) filter (where outcome = 'absent') as n_absent,
        {%- for k in top_ks %}
        count(*) filter (where old_rank <= {{ k }} and is_resolved) as n_resolved_in_top_{{ k }},
        count(*) filter (where old_rank <= {{ k }} and is_confirmed) as n_confirmed_in_top_{{ k }}
        {%- if not loop.last %},{% endif %}
        {%- endfor %}

    from signals

    group by model_version, scored_load_batch_id, later_load_batch_id

),

final as (

    select

        ---------- keys
        counts.model_version,
        counts.scored_load_batch_id,
        counts.later_load_batch_id,

        ---------- the model and the snapshots
        counts.mission,
        counts.model_task,
        counts.training_snapshot_at,
        counts.scored_snapshot_at,
        counts.later_snapshot_at,

        ---------- what was scored and what became of it
        scored_counts.n_signals_scored,
        counts.n_unresolved_scored,
        counts.n_resolved,
        counts.n_resolved_planet,
        counts.n_resolved_false_positive,
        counts.n_still_unresolved,
        counts.n_absent,

        ---------- ranking quality of the old scores on the resolved signals
        ranking_quality.roc_auc,
        ranking_quality.average_precision,

        ---------- precision among the old top K
        {%- for k in top_ks %}
        counts.n_resolved_in_top_{{ k }},
        counts.n_confirmed_in_top_{{ k }},
        counts.n_confirmed_in_top_{{ k }}::double precision
        / nullif(counts.n_resolved_in_top_{{ k }}, 0) as precision_at_{{ k }}_among_resolved,
        counts.n_confirmed_in_top_{{ k }}::double precision
        / nullif(least({{ k }}, counts.n_unresolved_scored), 0) as precision_at_{{ k }}_unresolved_as_not_confirmed
        {%- if not loop.last %},{% endif %}
        {%- endfor %}

    from counts

    inner join scored_counts
        on
            counts.model_version = scored_counts.model_version
            and counts.scored_load_batch_id = scored_counts.scored_load_batch_id

    left join ranking_quality
        on
            counts.model_version = ranking_quality.model_version
            and counts.scored_load_batch_id = ranking_quality.scored_load_batch_id
            and counts.later_load_batch_id = ranking_quality.later_load_batch_id

)

select * from final
