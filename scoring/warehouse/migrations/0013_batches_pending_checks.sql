-- A load batch is not read until the raw gate has passed it. Ingest writes a new batch as
-- 'pending_checks' in the load's transaction; the raw gate (`exohunter ingest`, `exohunter run`)
-- then sets 'loaded' (staging reads it) or 'failed_quality' (kept, never read). A batch whose
-- gate never ran, because the gate crashed or the batch was loaded by a library call, stays
-- pending and is checked by the next `exohunter run`: whoever loads a batch, staging never reads
-- one unchecked.
alter table raw.load_batches
    drop constraint load_batches_status_check,
    add constraint load_batches_status_check
        check (status in ('pending_checks', 'loaded', 'failed_quality'));

comment on column raw.load_batches.status is
    'pending_checks (loaded, not yet checked: never read), loaded (passed the raw gate: staging reads it) or failed_quality (kept, never read)';

-- Batches loaded before this migration that no raw gate of `exohunter run` has passed wait for
-- it like new ones (the TOI table had no gate before).
update raw.load_batches as b
   set status = 'pending_checks'
 where status = 'loaded'
   and (select v.critical_success
          from dq.validation_runs as v
         where v.suite_name = 'raw_koi_batch'
           and v.triggered_by = 'run'
           and v.load_batch_id = b.load_batch_id
         order by v.started_at desc
         limit 1) is not true;

-- What the raw gate of a TOI batch validates: every record of the file, the loaded rows and the
-- lines ingest set aside (a duplicated TOI shows with its designation), as dq.koi_batch_records
-- does for the KOI table.
create view dq.toi_batch_records as
select
    load_batch_id, source_line, toi, tid, tfopwg_disp,
    pl_orbper, pl_trandurh, pl_trandep, pl_rade, pl_tranmid,
    st_teff, st_logg, st_rad, st_tmag, st_dist, ra, dec,
    null::text as reject_reason
from raw.toi
union all
select
    load_batch_id, source_line,
    substring(reason from '^duplicate toi (\S+) \(first on line'), null, null,
    null, null, null, null, null,
    null, null, null, null, null, null, null,
    reason
from raw.toi_rejects;
