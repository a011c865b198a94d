-- The read-only role Superset and SQL users connect as: it can SELECT the marts and nothing else
-- (no raw, staging, ml or dq, no writes, no DDL). Created without a password: `exohunter
-- dashboards up` gives it a generated one (warehouse.reader_url), so no secret lives in git.
-- Roles are cluster-wide, so a second database on the same server finds it already there.
do $$
begin
    if not exists (select from pg_roles where rolname = 'exohunter_reader') then
        create role exohunter_reader nologin;
    end if;
end
$$;

alter role exohunter_reader set default_transaction_read_only = on;

grant usage on schema marts to exohunter_reader;
grant select on all tables in schema marts to exohunter_reader;
-- dbt (run as this migration's role, the app role) replaces mart tables on every build: new
-- tables get SELECT for the reader too.
alter default privileges in schema marts grant select on tables to exohunter_reader;
