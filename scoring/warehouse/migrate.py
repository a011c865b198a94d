"""Versioned SQL migrations: ``scoring/warehouse/migrations/NNNN_name.sql``, applied in order,
once each.

Each migration runs in its own transaction and is recorded in ``public.schema_migrations`` with
its checksum, so an existing warehouse upgrades by applying only what it lacks, and an edited,
already-applied migration is refused instead of silently diverging.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import psycopg

from scoring.errors import ExoHunterError

# Any constant works; it only has to be the same for every ExoHunter process.
_ADVISORY_LOCK_KEY = 0x45584F48  # "EXOH"
MIGRATIONS_DIR = Path(__file__).parent / "migrations"


class MigrationError(ExoHunterError):
    pass


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def available() -> list[Migration]:
    migrations = []
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        version, _, name = path.stem.partition("_")
        migrations.append(Migration(version, name, path.read_text()))
    return migrations


def applied(conn: psycopg.Connection) -> set[str]:
    """The versions already applied to this warehouse (none before the first migration)."""
    if conn.execute("select to_regclass('public.schema_migrations')").fetchone()[0] is None:
        return set()
    return {row[0] for row in conn.execute("select version from public.schema_migrations")}


def apply(conn: psycopg.Connection) -> list[Migration]:
    """Apply pending migrations; return the ones applied now."""
    conn.autocommit = False
    with conn.transaction():
        conn.execute("""
            create table if not exists public.schema_migrations (
                version    text primary key,
                name       text not null,
                checksum   text not null,
                applied_at timestamptz not null default now()
            )""")
    applied_now = []
    with conn.transaction():
        # Serialise concurrent ExoHunter processes: the second waits, then finds nothing to do.
        conn.execute("select pg_advisory_xact_lock(%s)", (_ADVISORY_LOCK_KEY,))
        done = dict(
            conn.execute("select version, checksum from public.schema_migrations").fetchall()
        )
        for migration in available():
            if migration.version in done:
                if done[migration.version] != migration.checksum:
                    raise MigrationError(
                        f"migration {migration.version}_{migration.name} was edited after it was "
                        "applied; add a new migration instead"
                    )
                continue
            with conn.transaction():
                conn.execute(migration.sql)
                conn.execute(
                    "insert into public.schema_migrations (version, name, checksum)"
                    " values (%s, %s, %s)",
                    (migration.version, migration.name, migration.checksum),
                )
            applied_now.append(migration)
    return applied_now
