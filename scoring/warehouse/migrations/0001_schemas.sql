-- One schema per owner (see DESIGN.md): ingest -> raw, dbt -> staging/intermediate/marts,
-- scoring -> ml, expectations -> dq.
create schema if not exists raw;
create schema if not exists staging;
create schema if not exists intermediate;
create schema if not exists marts;
create schema if not exists ml;
create schema if not exists dq;
