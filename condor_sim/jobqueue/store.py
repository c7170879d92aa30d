"""job_queue.log on disk: replay at start-up, append and sync at each commit, compaction.

The thin I/O layer under :mod:`condor_sim.jobqueue.classad_log` and
:class:`~condor_sim.jobqueue.queue.JobQueue`.  A commit is written with one ``write`` and
synced (``fdatasync``) before the client hears of it, so a schedd killed at any moment
loses no committed job; a half-written transaction at the end is dropped at the next
start, with the real schedd's log lines, and the log is compacted at once.
"""
from __future__ import annotations

import os
import time

from .. import texts as T
from . import classad_log as L
from .queue import JobQueue


def _sync(fd: int) -> None:
    (getattr(os, "fdatasync", None) or os.fsync)(fd)


class QueueStore:
    def __init__(self, path: str, log, *, historical: int = 1):
        self.path = path
        self.log = log
        self.historical = max(0, historical)
        self.fd: int | None = None

    def open(self, queue: JobQueue, now: int | None = None) -> L.Replay:
        """Replay the log into ``queue`` (creating it if absent); a torn log is compacted."""
        now = int(now or time.time())
        try:
            with open(self.path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            data = b""
        try:
            replay = L.replay(data)
        except L.CorruptLog as e:        # damage inside a committed transaction
            replay = self._salvage(data, e)
        for w in replay.warnings:
            if w.startswith("Encountered corrupt"):
                self.log(f"WARNING: {w}")
        queue.load(replay)
        if not data:
            self._open_fd()
            self.append(queue.header_lines(now))
        elif replay.torn:
            issues = "".join(w + "\n" for w in replay.warnings if w.startswith("Detected"))
            self.log(T.LOG_ISSUES.format(path=self.path, issues=issues or "Detected unterminated log entry\n"))
            self.compact(queue)
        else:
            self._open_fd()
        return replay

    def _salvage(self, data: bytes, err: "L.CorruptLog") -> L.Replay:
        """The real schedd refuses to start on a log damaged inside a committed
        transaction.  A simulated pool must come up: the damaged file is kept aside and
        the queue starts from the whole transactions before the damage."""
        self.log(f"ERROR: {err}")
        self.log(T.CORRUPT_QUEUE.format(path=self.path))
        good = err.good_bytes
        moved = self.path + ".corrupt"
        os.replace(self.path, moved)
        replay = L.replay(data[:good])
        with open(self.path, "wb") as f:
            f.write(data[:good])
        self.log(T.CORRUPT_QUEUE_KEPT.format(moved=moved, records=replay.records))
        replay.torn = True
        replay.warnings.append("Detected corrupt log record inside a transaction")
        return replay

    def _open_fd(self) -> None:
        if self.fd is None:
            self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def append(self, text: str, sync: bool = True) -> None:
        if not text:
            return
        self._open_fd()
        data = text.encode("utf-8")
        view = memoryview(data)
        while view:
            n = os.write(self.fd, view)
            view = view[n:]
        if sync:
            _sync(self.fd)

    def compact(self, queue: JobQueue) -> None:
        """Write the queue as a fresh log beside the old one, then swap them
        (``TruncateClassAdLog``); the old one is kept as ``job_queue.log.<seq>``."""
        self.log(T.ROTATING_LOG.format(path=self.path))
        if self.historical and os.path.exists(self.path):
            hist = f"{self.path}.{queue.sequence}"
            try:
                if os.path.exists(hist):
                    os.unlink(hist)
                os.link(self.path, hist)
            except OSError:
                pass
            old = f"{self.path}.{queue.sequence - self.historical}"
            if queue.sequence - self.historical > 0:
                try:
                    os.unlink(old)
                except OSError:
                    pass
        tmp = self.path + ".tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, queue.compacted().encode("utf-8"))
            _sync(fd)
        finally:
            os.close(fd)
        self.close()
        os.replace(tmp, self.path)
        try:
            dfd = os.open(os.path.dirname(self.path) or ".", os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        except OSError:
            pass
        queue.sequence += 1
        self._open_fd()

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
