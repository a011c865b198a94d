-- The disposition history of every KOI and TOI over archive snapshot time, SCD type 2: one row
-- per run of consecutive snapshots of its table in which a signal kept one disposition. A
-- transition (PC -> CP, blank -> FP ...) ends one row at the snapshot that shows the new
-- disposition, which starts the next. Built from every loaded batch at once and ordered by the
-- archive's export time, so a newer export adds the transitions without changing the older
-- rows' dispositions or valid_from, and loading the snapshots in any order gives the same table.

with

dispositions as (

    select * from {{ ref('int_dispositions_unioned') }}

),

---------- a new run where the disposition changes or the signal was absent from the snapshot before
flagged as (

    select
        *,
        case
            when
                lag(snapshot_number) over signal_snapshots = snapshot_number - 1
                and lag(disposition) over signal_snapshots is not distinct from disposition
                then 0
            else 1
        end as starts_run

    from dispositions

    window signal_snapshots as (partition by mission, signal_name order by snapshot_number)

),

numbered as (

    select
        *,
        sum(starts_run) over (
            partition by mission, signal_name
            order by snapshot_number
            rows between unbounded preceding and current row
        ) as run_number

    from flagged

),

runs as (

    select
        mission,
        signal_name,
        run_number,
        min(snapshot_at) as valid_from,
        max(snapshot_at) as last_seen_at,
        (array_agg(next_snapshot_at order by snapshot_number desc))[1] as valid_to,
        count(*) as n_snapshots,
        min(load_batch_id) filter (where starts_run = 1) as first_load_batch_id,
        (array_agg(host_star_id order by snapshot_number desc))[1] as host_star_id,
        max(disposition) as disposition,
        max(disposition_class) as disposition_class

    from numbered

    group by mission, signal_name, run_number

),

final as (

    select

        ---------- keys
        mission,
        signal_name,
        run_number,
        host_star_id,

        ---------- disposition in this run
        disposition,
        disposition_class,
        lag(disposition) over signal_runs as previous_disposition,
        lag(disposition_class) over signal_runs as previous_disposition_class,

        ---------- validity over archive snapshot time
        valid_from,
        valid_to,
        last_seen_at,
        valid_to is null as is_current,
        n_snapshots,
        first_load_batch_id

    from runs

    window signal_runs as (partition by mission, signal_name order by run_number)

)

select * from final
