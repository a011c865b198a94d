"""The pipeline lock: one PostgreSQL advisory lock per warehouse database, so that two commands
that rebuild the same tables never run at once.

Two ``exohunter run`` at once used to collide in dbt (``relation "int_…" already exists``) and
could train on a batch the other was still checking. The commands that write what the pipeline
writes (``run``, ``transform``, ``train``, ``score``, ``anomalies``, ``lightcurves train``,
``lightcurves analyse``, ``cnn train``) take the lock exclusively;
``ingest koi|toi`` takes it shared, because two loads side by side are safe (ingest is built for
that) but a load in the middle of a run is not: the run's raw gate would check a batch whose
own ``exohunter ingest`` is checking it too.

The lock lives on a dedicated connection held for the command's duration (an advisory lock is
released when its session ends, so a killed command never leaves it behind). It is taken with
``pg_try_advisory_lock``: a second command fails at once, with one line naming the holder (its
process id and command, from ``application_name``, and since when), instead of queueing behind
a run that takes minutes.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import psycopg

from scoring.errors import ExoHunterError
from scoring.warehouse import server

#: The two-key form of the advisory lock: (namespace, lock). 0x45484E54 spells "EHNT".
LOCK_NAMESPACE = 0x45484E54
PIPELINE_LOCK = 1
#: application_name is cut at 63 bytes by PostgreSQL.
_APPLICATION_NAME_BYTES = 63
_TRY_EXCLUSIVE = "select pg_try_advisory_lock(%s, %s)"
_TRY_SHARED = "select pg_try_advisory_lock_shared(%s, %s)"


class PipelineBusyError(ExoHunterError):
    """Another command holds the pipeline lock; the message says which and since when."""


@contextmanager
def pipeline_lock(url: str, command: str, *, shared: bool = False) -> Iterator[None]:
    """Hold the pipeline lock of the database at ``url`` while the block runs.

    ``command`` names the holder for whoever is refused (``exohunter run``). Raises
    :class:`PipelineBusyError` at once when a conflicting command holds it.
    """
    name = f"{command} pid {os.getpid()} on {socket.gethostname()}"
    with server.connect(
        url, autocommit=True, application_name=name[:_APPLICATION_NAME_BYTES]
    ) as conn:
        query = _TRY_SHARED if shared else _TRY_EXCLUSIVE
        row = conn.execute(query, (LOCK_NAMESPACE, PIPELINE_LOCK)).fetchone()
        if not (row and row[0]):
            raise PipelineBusyError(_busy_message(conn, command))
        yield
        # Closing the connection releases the lock, also when the block raised.


def _busy_message(conn: psycopg.Connection, command: str) -> str:
    holder = holders(conn)
    if not holder:  # released between our try and this look: rare, and a retry will do
        return f"the warehouse is busy (the pipeline lock was held); run `{command}` again"
    pid, application_name, since, mode = holder[0]
    who = application_name or "a session without an application_name"
    return (
        f"another command holds the pipeline lock ({mode}): {who} (PostgreSQL backend {pid}), "
        f"since {since:%Y-%m-%d %H:%M:%S %Z}; wait for it to finish, then run `{command}` again"
    )


def holders(conn: psycopg.Connection) -> list[tuple[int, str, datetime, str]]:
    """Who holds the pipeline lock of this database: (backend pid, application_name, since,
    'exclusive'|'shared'), earliest first. "Since" is when the holder's last statement started:
    the lock statement, as the lock connection runs nothing else."""
    return conn.execute(
        """
        select a.pid, a.application_name, a.query_start,
               case l.mode when 'ExclusiveLock' then 'exclusive' else 'shared' end
          from pg_locks l
          join pg_stat_activity a on a.pid = l.pid
         where l.locktype = 'advisory' and l.granted
           and l.database = (select oid from pg_database where datname = current_database())
           and l.classid::int8 = %s and l.objid::int8 = %s and l.objsubid = 2
         order by a.query_start
        """,
        (LOCK_NAMESPACE, PIPELINE_LOCK),
    ).fetchall()
