"""The schedd's spooling: jobs submitted held for their input files (``submit(spool=True)``,
``condor_submit -spool``) get a spool directory and an ad that points there when their
submit commits; SPOOL_JOB_FILES(_WITH_PERMS) receives their files and releases them;
TRANSFER_DATA(_WITH_PERMS) sends what they made back (``Scheduler::spoolJobFiles``,
``generalJobFilesWorkerThread``, ``spoolJobFilesReaper``).

The protocol is :mod:`condor_sim.spool.wire`; this module is its I/O in the schedd.
"""
from __future__ import annotations

import os
import time

from ...cedar import ProtocolError
from ...cedar.classad_wire import put_lines
from ...cedar.commands import Cmd
from ...command_table import command
from ...connection import ConnectionClosed
from ...jobqueue import classad_log as L
from ...jobqueue import rules
from ...jobqueue import select as S
from ...jobqueue.queue import int_value, unquote
from ...security.perms import Perm
from ...spool import files as F
from ...spool import layout
from ...spool import wire

TRANSFER_TIMEOUT = 300.0
COMPLETED, REMOVED = 4, 3
SPOOLED = "Data files spooled"


class Spooler:
    """Mixed into the Schedd (uses its queue, policy, commit, log and config)."""

    # ------------------------------------------------------------------ at submit
    def spool_root(self) -> str:
        return self.config.get("SPOOL") or "."

    def rewrite_spooled(self, txn, submitted: dict[int, int]) -> list[tuple[int, int]]:
        """Add to a submit's transaction the ad changes of its jobs held for spooling, and
        make their directories; the jobs so changed."""
        changed = []
        for c, n in submitted.items():
            for p in range(n):
                lookup = lambda name, c=c, p=p: txn.job_lookup(c, p, name)   # noqa: E731
                if not layout.spooling(lookup):
                    continue
                preserve = (lookup("PreserveRelativePaths") or "").strip().lower() == "true"
                d = layout.job_spool_dir(self.spool_root(), c, p)
                for name, value in layout.rewrite(lookup, d, preserve).items():
                    txn.set(L.job_key(c, p), name, value)
                changed.append((c, p))
        return changed

    def make_spool_dirs(self, jobs: list[tuple[int, int]]) -> None:
        for c, p in jobs:
            d = layout.job_spool_dir(self.spool_root(), c, p)
            try:
                os.makedirs(d, 0o755, exist_ok=True)
                owner = self.spool_owner(c, p)
                if owner is not None:
                    os.chown(d, *owner)
            except OSError as e:
                self.log.log(f"Failed to create spool directory {d}: {e.strerror}")

    def remove_spool_dirs(self, jobs: list[tuple[int, int]]) -> None:
        """removeJobSpoolDirectory: a job leaving the queue takes its spool directory (and
        the emptied ones above it) along."""
        import shutil
        root = self.spool_root()
        for c, p in jobs:
            d = layout.job_spool_dir(root, c, p)
            if not os.path.isdir(d):
                continue
            shutil.rmtree(d, ignore_errors=True)
            for parent in (os.path.dirname(d), os.path.dirname(os.path.dirname(d))):
                try:
                    os.rmdir(parent)
                except OSError:
                    break

    def spool_owner(self, c: int, p: int) -> tuple[int, int] | None:
        """Who the job's spooled files belong to: its owner when the schedd runs as root
        (the job runs as that user and writes its output there)."""
        if not hasattr(os, "geteuid") or os.geteuid() != 0:
            return None
        try:
            import pwd
            pw = pwd.getpwnam(unquote(self.queue.job_attr(c, p, "Owner")) or "")
        except (KeyError, ImportError):
            return None
        return pw.pw_uid, pw.pw_gid

    def transfer_limits(self) -> wire.Limits:
        limits = wire.Limits()
        mb = self.config.get_int("MAX_TRANSFER_INPUT_MB", -1)
        if mb >= 0:
            limits.max_total_bytes = mb << 20
            limits.max_file_bytes = min(limits.max_file_bytes, mb << 20)
        return limits

    # ------------------------------------------------------------------ spool
    @command(Cmd.SPOOL_JOB_FILES_WITH_PERMS, Cmd.SPOOL_JOB_FILES, perm=Perm.WRITE, force_auth=True)
    async def spool_job_files(self, req) -> None:
        """``[version][int n]``, ``[int cluster][int proc]...``, one download per job, then
        our ``[int 1]``; the jobs are released."""
        peer = req.chan.peer_description
        try:
            m = await req.read()
            if req.cmd == Cmd.SPOOL_JOB_FILES_WITH_PERMS:
                m.get_str()
            n = m.get_int()
            if n <= 0 or n > len(self.queue.jobs):
                self.log.log(f"spoolJobFiles(): read bad JobAdsArrayLen value {n}")
                return
            m = await req.read()
            ids = [(m.get_int(), m.get_int()) for _ in range(n)]
        except ProtocolError as e:
            self.log.log(f"spoolJobFiles(): bad request from {peer}: {e}")
            return
        now = int(time.time())
        txn = self.queue.begin()
        for c, p in ids:
            job = self.queue.job(c, p)
            if job is None or not rules.may_touch(self.queue, c, req.user, self.policy, p):
                self.log.log(f"spoolJobFiles(): permission denied for job {c}.{p} from {peer}")
                return
            txn.set(L.job_key(c, p), "StageInStart", str(now))
        async with self.writer:
            if await self.commit(txn):
                return
        done = []
        for c, p in ids:
            d = layout.job_spool_dir(self.spool_root(), c, p)
            self.make_spool_dirs([(c, p)])
            sink = F.DirSink(d, self.spool_owner(c, p))
            steps = wire.download(sink, encrypted=req.chan.encrypted,
                                  with_perms=req.cmd == Cmd.SPOOL_JOB_FILES_WITH_PERMS,
                                  limits=self.transfer_limits())
            try:
                outcome = await F.run(steps, req.chan, TRANSFER_TIMEOUT)
            except wire.Refused as e:
                self.log.log(f"DoDownload: refusing the transfer of job {c}.{p} from {peer}: {e}")
                return
            except (ProtocolError, ConnectionClosed) as e:
                self.log.log(f"generalJobFilesWorkerThread(): failed to transfer files for job "
                             f"{c}.{p}: {e}")
                return
            for why in outcome.refused:
                self.log.log(f"DoDownload: attempt to write to illegal sandbox path by our peer "
                             f"{peer}: {why}.")
            if not outcome.ok or sink.errors:
                self.log.log(f"generalJobFilesWorkerThread(): failed to transfer files for job "
                             f"{c}.{p}: {outcome.error or '; '.join(sink.errors)}")
                return
            _age(d, outcome.files, now - 1)
            done.append((c, p))
        try:
            await req.send(req.message().put_int(1))
        except ConnectionClosed:
            pass
        await self.release_spooled(done, now)

    async def release_spooled(self, jobs: list[tuple[int, int]], now: int) -> None:
        """spoolJobFilesReaper: StageInFinish, and out of the spooling hold."""
        txn = self.queue.begin()
        released = []
        for c, p in jobs:
            key = L.job_key(c, p)
            if int_value(self.queue.job_attr(c, p, "StageInFinish"), 0) == 0:
                txn.set(key, "StageInFinish", str(now - 1))
            if layout.spooling(lambda name, c=c, p=p: self.queue.job_attr(c, p, name)):
                rules.release(txn, c, p, SPOOLED, now)
                txn.set(key, "LastSuspensionTime", "0")
                released.append((c, p))
        async with self.writer:
            if await self.commit(txn):
                return
        for c, p in released:                   # no user log event, as releaseJob is told
            self.log.log(f"Job {c}.{p} released from hold: {SPOOLED}")
        self.log.log(f"Transfer completed for jobs {', '.join(f'{c}.{p}' for c, p in jobs)}",
                     "D_FULLDEBUG")
        self.need_reschedule()

    # ------------------------------------------------------------------ retrieve
    @command(Cmd.TRANSFER_DATA_WITH_PERMS, Cmd.TRANSFER_DATA, perm=Perm.WRITE, force_auth=True)
    async def transfer_data(self, req) -> None:
        """``[version][constraint]``; ``[int n]``, then per job its ad and an upload of what
        it made; the client's ``[int 1]`` ends it."""
        peer = req.chan.peer_description
        try:
            m = await req.read()
            if req.cmd == Cmd.TRANSFER_DATA_WITH_PERMS:
                m.get_str()
            constraint = m.get_str()
            found = S.select(self.queue, constraint)
        except (ProtocolError, ValueError) as e:
            self.log.log(f"spoolJobFiles(): bad request from {peer}: {e}")
            return
        jobs = [jp for jp in found if rules.may_touch(self.queue, jp[0], req.user, self.policy, jp[1])]
        now = int(time.time())
        done = [jp for jp in jobs if self.queue.status(*jp) in (COMPLETED, REMOVED)]
        if done:
            txn = self.queue.begin()
            for c, p in done:
                txn.set(L.job_key(c, p), "StageOutStart", str(now))
            async with self.writer:
                await self.commit(txn)
        await req.send(req.message().put_int(len(jobs)))
        enc = req.chan.encrypted
        for c, p in jobs:
            job = self.queue.job(c, p)
            if job is None:
                return
            lines = [f"{k} = {v}" for k, v in job.items()]
            await req.send(put_lines(req.message(), lines))
            d = unquote(job.get("Iwd")) or layout.job_spool_dir(self.spool_root(), c, p)
            wanted = _output_names(job)
            items = F.top_level_items(d, wanted, float(int_value(job.get("StageInFinish"), 0)))
            try:
                outcome = await F.run(wire.upload(F.DirSource(d), items, encrypted=enc,
                                                  with_perms=req.cmd == Cmd.TRANSFER_DATA_WITH_PERMS),
                                      req.chan, TRANSFER_TIMEOUT)
            except (ProtocolError, ConnectionClosed) as e:
                self.log.log(f"generalJobFilesWorkerThread(): failed to transfer files for job "
                             f"{c}.{p}: {e}")
                return
            if not outcome.ok:
                self.log.log(f"generalJobFilesWorkerThread(): failed to transfer files for job "
                             f"{c}.{p}: {outcome.error}")
                return
        try:
            answer = (await req.read(TRANSFER_TIMEOUT)).get_int()
        except (ProtocolError, ConnectionClosed):
            return
        if answer == 1 and done:
            txn = self.queue.begin()
            for c, p in done:
                txn.set(L.job_key(c, p), "StageOutFinish", str(int(time.time())))
            async with self.writer:
                await self.commit(txn)


def _output_names(job) -> list[str] | None:
    """TransferOutput and the standard files, when the job names its output; else None
    (everything it changed)."""
    listed = unquote(job.get("TransferOutput"))
    if listed is None:
        return None
    names = [os.path.basename(n.strip().rstrip("/")) for n in listed.split(",") if n.strip()]
    for attr in ("Out", "Err"):
        v = unquote(job.get(attr))
        if v:
            names.append(os.path.basename(v))
    return names


def _age(root: str, names: list[str], when: float) -> None:
    """Date the received files before StageInFinish, so that what a job later writes is
    told from its input by time alone."""
    for name in names:
        try:
            os.utime(os.path.join(root, name), (when, when), follow_symlinks=False)
        except (OSError, NotImplementedError):
            pass
