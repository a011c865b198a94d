"""The warehouse: the PostgreSQL server, its migrations, the write-back and the dbt runner."""
