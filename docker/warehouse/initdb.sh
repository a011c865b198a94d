#!/usr/bin/env bash
# The warehouse's roles and databases, as the postgres image's entrypoint runs it once, when the
# volume is initialised (/docker-entrypoint-initdb.d). Idempotent: run it again to apply new
# passwords from .env:
#   docker compose exec warehouse bash /docker-entrypoint-initdb.d/10-exohunter.sh
#
# - exohunter: owns database exohunter and does the work, as the embedded warehouse's app role:
#   not a superuser; CREATEROLE because migration 0006 creates the read-only role
#   exohunter_reader (the pipeline gives that one its login).
# - superset: owns database superset, Superset's metadata; nothing in the warehouse.
set -euo pipefail

psql -v ON_ERROR_STOP=1 --no-psqlrc --username "${POSTGRES_USER:-postgres}" --dbname postgres \
    -v app_password="${EXOHUNTER_WAREHOUSE_PASSWORD:?}" \
    -v superset_password="${EXOHUNTER_SUPERSET_METADATA_PASSWORD:?}" <<'SQL'
select format('create role %I', name)
from (values ('exohunter'), ('superset')) as wanted (name)
where not exists (select from pg_roles where rolname = name)
\gexec
alter role exohunter login nosuperuser createrole password :'app_password';
alter role superset login nosuperuser nocreaterole password :'superset_password';

select format('create database %I owner %I', name, name)
from (values ('exohunter'), ('superset')) as wanted (name)
where not exists (select from pg_database where datname = name)
\gexec
SQL
