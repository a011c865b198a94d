"""Light-curve analyses off the event loop: a few worker threads, a bounded queue, a deadline.

A search takes seconds (a full Kepler mission up to a minute on a busy machine). Run on the event
loop, one upload would stall every other request, ``/health`` included; so :class:`Analyses`
runs each in one of :data:`WORKERS` threads (astropy's BLS and numpy release the GIL for most of
the work; the event loop keeps answering). At most :data:`BACKLOG` analyses wait for a thread,
holding at most :data:`MAX_HELD_BYTES` of uploaded files together; the next is refused at once
(503: busy), and one that has not finished :data:`TIMEOUT_S` seconds after it was submitted is
answered with a 504 that says so.

A thread cannot be stopped, so a timed-out analysis runs to the end of its search (bounded by
the search's own work bound) and is then rolled back: the work is done in one transaction that
only :meth:`Job.claim` lets commit, and never once the request has given up on it. Either the
client is told that its upload was stored, or nothing of it is.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from typing import TypeVar

import anyio.to_thread

from scoring.web.http_errors import Refused

T = TypeVar("T")
WORKERS = 2  # the machine's cores: more threads would only share them
BACKLOG = 32  # analyses waiting for a thread; each holds its files (up to 200 MB) in memory
MAX_HELD_BYTES = 2 * 2**30  # the files of the analyses running or waiting: ten of the largest
TIMEOUT_S = 300.0  # from submission: a stitched four-year light curve behind a full queue


class Abandoned(Exception):
    """The request gave up on this analysis: its transaction is rolled back."""


class Job:
    """One analysis's permission to commit, which the request can withdraw until it is used."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._abandoned = False
        self._claimed = False

    def claim(self) -> None:
        """Called at the end of the work, before its commit: raises :class:`Abandoned` when the
        request timed out; else the request waits (:meth:`abandon`) until :meth:`release`."""
        self._lock.acquire()
        self._claimed = True
        if self._abandoned:
            raise Abandoned

    def release(self) -> None:
        """After the commit (or the rollback): the request may look again."""
        if self._claimed and self._lock.locked():
            self._lock.release()

    def abandon(self) -> bool:
        """Withdraw the permission; False when the work had already claimed it (and committed,
        or failed)."""
        with self._lock:
            if self._claimed:
                return False
            self._abandoned = True
            return True


def _outcome_ignored(waiting: asyncio.Future[object]) -> None:
    # An abandoned analysis ends in Abandoned (or its own error): nobody awaits it any more.
    if not waiting.cancelled():
        waiting.exception()


class Analyses:
    """The app's analysis threads (see the module's docstring)."""

    def __init__(
        self, workers: int = WORKERS, backlog: int = BACKLOG, timeout_s: float = TIMEOUT_S
    ) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="analysis")
        self._limit = workers + backlog
        self._open = 0  # submitted, not finished
        self._held = 0  # bytes of their files
        self._count_lock = threading.Lock()
        self.timeout_s = timeout_s

    async def run(self, work: Callable[[Job], T], held_bytes: int = 0) -> T:
        """``work(job)`` in a worker thread, holding ``held_bytes`` of files until it ends; its
        result, or a :class:`Refused` 503 (busy) or 504 (timed out, nothing stored)."""
        job = Job()
        future = self._submit(work, job, held_bytes)
        waiting = asyncio.wrap_future(future)
        try:
            return await asyncio.wait_for(asyncio.shield(waiting), self.timeout_s)
        except TimeoutError:
            if not await anyio.to_thread.run_sync(job.abandon):
                return await waiting  # it committed just in time
            future.cancel()  # one still waiting for a thread never starts
            waiting.add_done_callback(_outcome_ignored)
            raise Refused(
                504,
                f"the analysis did not finish within {self.timeout_s:g} s (the server is busy "
                "or the light curve is very long); nothing was stored: try again later",
            ) from None

    def _submit(self, work: Callable[[Job], T], job: Job, held_bytes: int) -> Future[T]:
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
        future = self._pool.submit(work, job)
        future.add_done_callback(partial(self._finished, held_bytes))
        return future

    def _finished(self, held_bytes: int, _: Future[T]) -> None:
        with self._count_lock:
            self._open -= 1
            self._held -= held_bytes

    def shutdown(self, wait: bool = False) -> None:
        """At the app's shutdown: the analyses still waiting never start (``wait``: and the
        running ones have ended when it returns)."""
        self._pool.shutdown(wait=wait, cancel_futures=True)
