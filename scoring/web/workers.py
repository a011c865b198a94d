"""Light-curve analyses off the event loop: child processes, a bounded queue, a deadline.

A search takes seconds (a full Kepler mission up to a minute on a busy machine). Run on the event
loop, one upload would stall every other request, ``/health`` included; run in a thread, it would
still hold the server's GIL for hundreds of milliseconds at a time (wotan's detrending and parts
of astropy's BLS do not release it), and ``/health`` measured 1.7 s while a full mission was
searched. So :class:`Analyses` runs each analysis in a child process (forked from a forkserver
that has imported the science once), at most :data:`WORKERS` at a time, at a lower CPU priority
than the server (:data:`NICENESS`). At most :data:`BACKLOG` analyses wait for one, holding at
most :data:`MAX_HELD_BYTES` of uploaded files together; the next is refused at once (503: busy).
One that has not finished :data:`TIMEOUT_S` seconds after it was submitted is a 504 that says
so, and its process is killed.

Nothing of a killed analysis is stored: the work is done in one transaction that commits only
after :meth:`Gate.claim` (the child asks; the parent says go only before the deadline, and never
kills a child it said go to). A killed child's connection closes and PostgreSQL rolls back.
Either the client is told that its upload was stored, or nothing of it is.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, TypeVar

import anyio
import anyio.to_thread

from scoring.errors import ExoHunterError
from scoring.web.http_errors import Refused

T = TypeVar("T")
WORKERS = 2  # the machine's cores: more processes would only share them
BACKLOG = 32  # analyses waiting for a process
MAX_HELD_BYTES = 2 * 2**30  # the files of the analyses running or waiting: ten of the largest
TIMEOUT_S = 300.0  # from submission: a stitched four-year light curve behind a full queue
NICENESS = 10  # of the analysis processes, added to the server's
#: What the forkserver imports once, so that a child starts in milliseconds.
PRELOAD = ["scoring.web.uploads"]
_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(PRELOAD)


class Abandoned(Exception):
    """The request gave up on this analysis: its transaction is rolled back."""


class AnalysisDied(ExoHunterError):
    """The analysis process ended without an answer (killed by the system, out of memory)."""


class Gate:
    """The child's side of the permission to commit."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def claim(self) -> None:
        """Called at the end of the work, before its commit: returns when the request still
        waits (it then waits for the commit too); raises :class:`Abandoned` otherwise."""
        self._connection.send(("claim", None))
        try:
            if self._connection.recv() == "go":
                return
        except EOFError:
            pass
        raise Abandoned


def _child(connection: Connection, work: Callable[..., Any], args: tuple[Any, ...]) -> None:
    # Below the server on a busy machine: the cores go to the requests first, then the search.
    os.nice(NICENESS)
    try:
        answer = ("result", work(Gate(connection), *args))
    except Exception as exc:  # every error goes back to the request, which answers it
        answer = ("error", exc)
    connection.send(answer)


def _supervise(work: Callable[..., T], args: tuple[Any, ...], deadline: float) -> T:
    """In a thread of the server: run ``work(gate, *args)`` in a child process and wait for its
    answer until ``deadline`` (monotonic); kill it past the deadline unless it is committing."""
    mine, theirs = _CONTEXT.Pipe()
    process = _CONTEXT.Process(target=_child, args=(theirs, work, args), daemon=True)
    process.start()
    theirs.close()
    try:
        while True:
            left = None if deadline == math.inf else max(deadline - time.monotonic(), 0)
            if not mine.poll(left):
                raise TimeoutError
            try:
                kind, value = mine.recv()
            except EOFError:
                process.join(5)
                raise AnalysisDied(
                    f"the analysis process ended without an answer (exit code {process.exitcode})"
                    "; nothing was stored: try again, or with a smaller upload"
                ) from None
            if kind == "claim":
                mine.send("go")
                deadline = math.inf  # committing: never killed now
            elif kind == "error":
                raise value
            else:
                return value
    finally:
        if process.is_alive() and deadline != math.inf:
            process.kill()
        process.join()
        mine.close()


def _nothing() -> None:
    return None


def warm_up() -> None:
    """Start the forkserver and let it import :data:`PRELOAD` (seconds, once per server), so
    that the first upload's deadline is not spent on it."""
    process = _CONTEXT.Process(target=_nothing)
    process.start()
    process.join()


class Analyses:
    """The app's analysis processes (see the module's docstring)."""

    def __init__(
        self, workers: int = WORKERS, backlog: int = BACKLOG, timeout_s: float = TIMEOUT_S
    ) -> None:
        self._slots = anyio.CapacityLimiter(workers)
        self._limit = workers + backlog
        self._open = 0  # submitted, not finished
        self._held = 0  # bytes of their files
        self._count_lock = threading.Lock()
        self.timeout_s = timeout_s

    async def run(self, work: Callable[..., T], *args: Any, held_bytes: int = 0) -> T:
        """``work(gate, *args)`` (a module-level function, its arguments picklable) in a child
        process, counted with ``held_bytes`` of files until it ends; its result, or a
        :class:`Refused` 503 (busy) or 504 (timed out, nothing stored)."""
        deadline = time.monotonic() + self.timeout_s
        self._reserve(held_bytes)
        try:
            # Only the wait for a process is cancelled at the deadline: a running analysis is
            # timed by its supervisor, which knows whether it is committing.
            with anyio.move_on_after(self.timeout_s) as waiting:
                await self._slots.acquire()
            if waiting.cancelled_caught:
                raise TimeoutError
            try:
                return await anyio.to_thread.run_sync(_supervise, work, args, deadline)
            finally:
                self._slots.release()
        except TimeoutError:
            raise Refused(
                504,
                f"the analysis did not finish within {self.timeout_s:g} s (the server is busy "
                "or the light curve is very long); nothing was stored: try again later",
            ) from None
        finally:
            self._release(held_bytes)

    def _reserve(self, held_bytes: int) -> None:
        with self._count_lock:
            if self._open >= self._limit or self._held + held_bytes > MAX_HELD_BYTES:
                raise Refused(
                    503,
                    f"the server is busy: {self._open} analyses running or waiting "
                    f"({self._held / 2**20:.0f} MB of files); nothing was stored: try again "
                    "in a minute",
                )
            self._open += 1
            self._held += held_bytes

    def _release(self, held_bytes: int) -> None:
        with self._count_lock:
            self._open -= 1
            self._held -= held_bytes
