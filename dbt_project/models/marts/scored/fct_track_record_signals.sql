-- The track record, signal by signal: for every model version, every batch it scored and every
-- later snapshot of the same table, each signal the model could not have seen resolved — with
-- its old rank and P(planet), its disposition then and in the later snapshot.
-- The honesty guard: a signal counts only if it was unresolved (CANDIDATE, PC, APC or blank)
-- both in the scored snapshot and in the snapshot the model was trained on (or absent from
-- that one), and a later snapshot counts only if it is later than both. A model trained on a
-- newer snapshot is never credited with predicting what it learned from.

with

predictions as (

    select * from {{ ref('int_predictions_unioned') }}

),

dispositions as (

    select * from {{ ref('int_dispositions_unioned') }}

),

snapshots as (

    select distinct
        mission,
        load_batch_id,
        snapshot_at

    from dispositions

),

---------- each score with the disposition of its signal when it was scored and when the model was trained
scored as (

    select
        predictions.*,
        scored_snapshot.snapshot_at as scored_snapshot_at,
        scored_snapshot.host_star_id,
        scored_snapshot.disposition as disposition_then,
        scored_snapshot.disposition_class as disposition_class_then,
        at_training.disposition_class as disposition_class_at_training

    from predictions

    inner join dispositions as scored_snapshot
        on
            predictions.mission = scored_snapshot.mission
            and predictions.load_batch_id = scored_snapshot.load_batch_id
            and predictions.signal_name = scored_snapshot.signal_name

    left join dispositions as at_training
        on
            predictions.mission = at_training.mission
            and predictions.training_snapshot_at = at_training.snapshot_at
            and predictions.signal_name = at_training.signal_name

),

---------- the honesty guard, then the old ranking among what counts
unseen as (

    select
        *,
        row_number() over (
            partition by model_version, load_batch_id
            order by planet_log_odds desc, signal_name
        ) as old_rank

    from scored

    where
        disposition_class_then = 'unresolved'
        and coalesce(disposition_class_at_training, 'unresolved') = 'unresolved'

),

later as (

    select
        unseen.*,
        snapshots.load_batch_id as later_load_batch_id,
        snapshots.snapshot_at as later_snapshot_at

    from unseen

    inner join snapshots
        on
            unseen.mission = snapshots.mission
            and snapshots.snapshot_at > greatest(unseen.scored_snapshot_at, unseen.training_snapshot_at)

),

final as (

    select

        ---------- keys
        later.model_version,
        later.load_batch_id as scored_load_batch_id,
        later.later_load_batch_id,
        later.signal_name,

        ---------- the model and the snapshots
        later.mission,
        later.model_task,
        later.training_snapshot_at,
        later.scored_snapshot_at,
        later.later_snapshot_at,
        later.host_star_id,

        ---------- the old prediction
        later.old_rank,
        later.candidate_rank as old_candidate_rank,
        later.p_planet as old_p_planet,
        later.planet_log_odds as old_planet_log_odds,

        ---------- what became of it
        later.disposition_then,
        now.disposition as disposition_now,
        coalesce(now.disposition_class, 'absent') as outcome,
        coalesce(now.disposition_class in ('planet', 'false_positive'), false) as is_resolved,
        coalesce(now.disposition_class = 'planet', false) as is_confirmed

    from later

    left join dispositions as now
        on
            later.mission = now.mission
            and later.later_load_batch_id = now.load_batch_id
            and later.signal_name = now.signal_name

)

select * from final
