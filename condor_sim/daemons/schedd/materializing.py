"""The schedd's job factories (late materialization): the I/O around
:mod:`condor_sim.jobqueue.factory`.

When a factory's submit commits, its digest (and item rows) are written to SPOOL, the
user log gets "Cluster submitted", and a child process
(:mod:`condor_sim.daemons.schedd.digest_jobs`) learns the digest's jobs from the real
client code.  From then on, whenever the queue changes, each factory queues the jobs its
limits allow, in a transaction of its own (``JobMaterializeTimerCallback``); a factory
that is done, or removed, goes with its last job: its cluster ad, its spool files, and a
"Cluster removed" event.  A restarted schedd picks its factories up from the queue.
"""
from __future__ import annotations

import asyncio
import json
import os
import pwd
import sys
import time

from ... import procs
from ...jobqueue import actions as A
from ...jobqueue import classad_log as L
from ...jobqueue import factory as F
from ...jobqueue import userlog as U
from ...jobqueue.queue import int_value, quote, unquote

# how long the digest's jobs may take to learn (a big "queue N" takes a while)
DIGEST_TIMEOUT = 600.0
# the longest line (one job's attributes) the child may send
LINE_LIMIT = 16 << 20
# how many digests are learned at once
MAX_LEARNERS = 2


def learner_identity(owner: str | None, euid: int | None = None) -> dict:
    """How the digest child runs: as the factory's owner when the schedd runs as root
    (the real schedd reads a user's item data as that user), with an interpreter that
    user can run, and the owner's name and home in its environment (its private queue
    admits the user it names); as the schedd itself otherwise, or when no interpreter
    here is open to other users (the digest has been screened either way:
    :func:`condor_sim.jobqueue.factory.digest_problem`).  LookupError when the owner
    has no account here."""
    euid = os.geteuid() if euid is None else euid
    if euid != 0 or not owner or owner == "root":
        return {}
    try:
        pw = pwd.getpwnam(owner)
    except KeyError:
        raise LookupError(f'Uid for "{owner}" not found in passwd file') from None
    found = procs.python_for_others()
    if found is None:
        return {}
    python, extra = found
    env = dict(os.environ, USER=owner, LOGNAME=owner, HOME=pw.pw_dir or "/", **extra)
    return {"user": pw.pw_uid, "group": pw.pw_gid,
            "extra_groups": os.getgrouplist(owner, pw.pw_gid), "env": env, "cwd": "/",
            "python": python}


class Materializer:
    """Mixed into the Schedd (uses its queue, policy, commit, writer lock, log, events)."""

    def init_factories(self) -> None:
        self.factories: dict[int, F.Factory] = {}
        self._materialize_soon = False
        self._expanding: set[asyncio.Task] = set()
        self._learners: set[int] = set()     # pids of the digest children still running
        self._learning = asyncio.Semaphore(MAX_LEARNERS)

    # ------------------------------------------------------------------ at submit
    def save_factory_files(self, factories: dict[int, F.Pending]) -> tuple[int, str] | None:
        """Write each new factory's digest and rows to SPOOL before its submit commits."""
        spool = self.policy.spool
        for c, pending in factories.items():
            try:
                path = F.digest_path(spool, c)
                os.makedirs(os.path.dirname(path), 0o755, exist_ok=True)
                with open(path, "w", encoding="utf-8") as f:
                    f.write(pending.digest)
                if pending.items is not None:
                    with open(F.items_path(spool, c), "wb") as f:
                        f.write(pending.items)
            except OSError as e:
                self.log.log(f"Failing remote SetJobFactory {c} because write to '{path}' failed, "
                             f"errno = {e.errno} ({e.strerror})")
                return e.errno or 5, f"Failed to spool the submit digest: {e.strerror}"
        return None

    def start_factories(self, clusters, *, submitted: bool = True) -> None:
        """The factories of ``clusters`` (committed): the submit event, then learn their jobs."""
        events: dict[str, list[str]] = {}
        now = time.time()
        for c in clusters:
            cad = self.queue.clusters.get(c)
            if cad is None:
                continue
            f = self.factories[c] = F.Factory(c)
            if int_value(cad.get("JobMaterializePaused"), F.MM_RUNNING) == F.MM_INVALID:
                f.mode = F.MM_INVALID             # broken before a restart: stays so
            path = self.user_log_path(cad)
            if submitted and path:
                events.setdefault(path, []).append(U.cluster_submit_event(
                    c, now, self.core.sinful, log_notes=unquote(cad.get("SubmitEventNotes")) or ""))
            if submitted:
                self.log.log(f"New factory cluster {c} submitted", "D_FULLDEBUG")
            task = asyncio.ensure_future(self.learn_jobs(f))
            self._expanding.add(task)
            task.add_done_callback(self._expanding.discard)
        self.write_events(events)

    def resume_factories(self) -> None:
        """At start-up: the factories the queue holds (their digests are in SPOOL)."""
        self.start_factories([c for c, cad in self.queue.clusters.items()
                              if cad.get("JobMaterializeDigestFile") is not None], submitted=False)

    async def learn_jobs(self, f: F.Factory) -> None:
        """Run the digest through the real client code in a child process (a few at a
        time: a burst of factories does not start a process each at once)."""
        async with self._learning:
            await self._learn_jobs(f)

    async def _learn_jobs(self, f: F.Factory) -> None:
        cad = self.queue.clusters.get(f.cluster) or {}
        # the files are read where this schedd spooled them, whatever the ad says now
        digest = F.digest_path(self.policy.spool, f.cluster)
        items = F.items_path(self.policy.spool, f.cluster) \
            if cad.get("JobMaterializeItemsFile") is not None else None
        error = ""
        proc = None
        try:
            if items:
                with open(items, "rb") as fh:
                    f.rows = F.count_rows(fh.read())
            with open(digest, encoding="utf-8", errors="replace") as fh:
                f.expected = F.expected_total(fh.read(), f.rows if items else None)
            who = learner_identity(unquote(cad.get("Owner")))
            python = who.pop("python", sys.executable)
            proc = await asyncio.create_subprocess_exec(
                python, "-m", "condor_sim.daemons.schedd.digest_jobs", digest, str(f.cluster),
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE, start_new_session=True, limit=LINE_LIMIT, **who)
            self._learners.add(proc.pid)
            f.jobs, f.complete = [], False
            await asyncio.wait_for(self._read_jobs(f, proc), DIGEST_TIMEOUT)
            err = await proc.stderr.read()
            await proc.wait()
            if not f.complete:
                error = (err.decode(errors="replace").strip().splitlines()[-1:] or ["no jobs"])[0]
        except LookupError as e:
            error = str(e)
        except (OSError, ValueError, asyncio.TimeoutError) as e:
            error = str(e) or type(e).__name__
        finally:
            if proc is not None:
                self._learners.discard(proc.pid)
                if proc.returncode is None:        # timed out: it and its private queue
                    procs.kill_tree(proc.pid)
                    await proc.wait()
                else:                              # whatever of its group is left
                    procs.kill_group(proc.pid)
        if error or not f.jobs:
            await self.break_factory(f, f"failed to load the submit digest: {error or 'no jobs'}")
        self.materialize_soon()

    async def _read_jobs(self, f: F.Factory, proc) -> None:
        """The child's lines: each job as soon as it is made (the first ones may be queued
        while the rest are still coming), then how many there were."""
        async for line in proc.stdout:
            item = json.loads(line)
            if isinstance(item, list):
                f.jobs.append([tuple(a) for a in item[1]])
                self.materialize_soon()
            elif isinstance(item, dict) and "done" in item:
                f.complete = True
                if f.expected != len(f.jobs):
                    f.expected = len(f.jobs)

    def stop_factories(self) -> None:
        """At shutdown: the digest children still running go, with their private queues."""
        for pid in list(self._learners):
            procs.kill_tree(pid)
        self._learners.clear()

    async def break_factory(self, f: F.Factory, reason: str) -> None:
        reason = " ".join(reason.splitlines())
        self.log.log(f"ERROR: job factory {f.cluster}: {reason}")
        f.mode = F.MM_INVALID
        cad = self.queue.clusters.get(f.cluster)
        if cad is None:
            return
        path = self.user_log_path(cad)
        if path:
            self.write_events({path: [U.factory_paused_event(f.cluster, time.time(), reason,
                                                            pause_code=F.MM_INVALID)]})
        async with self.writer:
            txn = self.queue.begin()
            ckey = L.cluster_key(f.cluster)
            txn.set(ckey, "JobMaterializePaused", str(F.MM_INVALID))
            txn.set(ckey, "JobMaterializePauseReason", quote(reason))
            await self.commit(txn)

    # ------------------------------------------------------------------ materializing
    def materialize_soon(self) -> None:
        """Let every factory catch up with the queue, once, after the current step."""
        if self._materialize_soon or not self.factories:
            return
        self._materialize_soon = True
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._materialize_soon = False
            return
        loop.call_soon(lambda: asyncio.ensure_future(self.materialize()))

    async def materialize(self) -> None:
        """Each factory queues what its limits allow; a finished one with no jobs left goes."""
        self._materialize_soon = False
        async with self.writer:
            now = int(time.time())
            for c, f in list(self.factories.items()):
                cad = self.queue.clusters.get(c)
                if cad is None:
                    del self.factories[c]
                    continue
                procs = self.queue.cluster_procs.get(c, set())
                if F.is_done(f):
                    if not procs:
                        await self.remove_factory_cluster(f)
                    continue
                if f.jobs is None:
                    continue
                statuses = [self.queue.status(c, p) for p in procs]
                n = F.how_many(cad, statuses, len(f.jobs), self.policy)    # those learned so far
                if f.complete and F.runs_dry(cad, statuses, f.total, self.policy):
                    f.mode = F.MM_NO_MORE_ITEMS       # it would try past its last job
                if n <= 0:
                    if f.mode == F.MM_NO_MORE_ITEMS and not procs:
                        await self.remove_factory_cluster(f)
                    continue
                txn = self.queue.begin()
                made = []
                for _ in range(n):
                    p = F.materialize(txn, f, self.policy, now)
                    self.log.log(f"Trying to Materializing new job {c}.{p} step={p % f.step_size()} "
                                 f"row={p // f.step_size() if f.rows else 0}")
                    made.append(p)
                if await self.commit(txn):
                    continue
                self.after_submit({c: made})

    async def remove_factory_cluster(self, f: F.Factory) -> None:
        """ClusterCleanup: the cluster ad (and its private ad) go, the "Cluster removed"
        event is written and the spool files are deleted."""
        c = f.cluster
        cad = self.queue.clusters.get(c)
        self.factories.pop(c, None)
        if cad is None:
            return
        txn = self.queue.begin()
        txn.destroy(L.cluster_key(c))
        if f"{c}.-2" in self.queue.ads:
            txn.destroy(f"{c}.-2")
        self.write_cluster_removed(f, cad)
        await self.commit(txn)
        self.remove_factory_files(cad)

    def write_cluster_removed(self, f: F.Factory, cad) -> None:
        path = self.user_log_path(cad)
        if path and not f.removed_event_written:
            f.removed_event_written = True
            self.write_events({path: [U.cluster_removed_event(
                f.cluster, time.time(), next_proc=F.next_proc(cad),
                next_row=int_value(cad.get("JobMaterializeNextRow"), 0),
                completion=F.COMPLETION.get(F.removed_mode(f, cad), "Incomplete"),
                notes=unquote(cad.get("JobMaterializePauseReason")) or "")]})

    def remove_factory_files(self, cad) -> None:
        for name in ("JobMaterializeDigestFile", "JobMaterializeItemsFile"):
            path = unquote(cad.get(name))
            if not path or not os.path.abspath(path).startswith(os.path.abspath(self.policy.spool) + os.sep):
                continue
            try:
                os.unlink(path)
            except OSError:
                pass
            try:
                os.rmdir(os.path.dirname(path))
            except OSError:
                pass

    def factory_action_events(self, plan, now: int) -> dict[str, list[str]]:
        """The events of a hold or release of factories, written before their jobs' own
        (``setJobFactoryPauseAndLog``): "Job Materialization Paused" with the reason and
        the user-request hold code, or "Job Materialization Resumed"."""
        events: dict[str, list[str]] = {}
        if plan.action not in (A.HOLD, A.RELEASE):
            return events
        for c in plan.factories:
            cad = self.queue.clusters.get(c)
            path = self.user_log_path(cad) if cad is not None else None
            if not path:
                continue
            if plan.action == A.HOLD:
                reason = unquote(cad.get("JobMaterializePauseReason")) or ""
                text = U.factory_paused_event(c, now, reason, pause_code=F.MM_HOLD, hold_code=1)
            else:
                text = U.factory_resumed_event(c, now, plan.reason)
            events.setdefault(path, []).append(text)
        return events

    def factories_acted_on(self, action: int, clusters: list[int]) -> None:
        """condor_rm of a factory's cluster ends the factory (its cluster goes with its
        last job); hold and release changed JobMaterializePaused."""
        for c in clusters:
            f = self.factories.get(c)
            if f is None:
                continue
            if action in (A.REMOVE, A.REMOVE_X, A.TRANSFER_AND_REMOVE):
                f.mode = F.MM_CLUSTER_REMOVED
            self.log.log(f"job factory {c} {'removed' if f.mode == F.MM_CLUSTER_REMOVED else 'paused' if action == A.HOLD else 'resumed'}",
                         "D_FULLDEBUG")
        self.materialize_soon()

    def factory_info(self, c: int) -> dict[str, str]:
        """What a query that includes cluster ads learns of a cluster's factory
        (``PopulateFactoryInfoAd``), as ClassAd values."""
        f = self.factories.get(c)
        if f is None:
            return {}
        cad = self.queue.clusters.get(c) or {}
        paused = f.mode if f.mode != F.MM_RUNNING else \
            int_value(cad.get("JobMaterializePaused"), F.MM_RUNNING)
        return {"JobFactoryId": str(c), "JobFactoryPaused": str(paused),
                "JobFactoryTotalProcs": str(f.total),
                "JobFactoryStepSize": str(f.step_size()), "JobFactoryItemCount": str(f.rows),
                "JobFactoryItemReaderDone": "true" if f.jobs is not None else "false",
                "JobFactoryItemReaderErrorCode": "0"}

    def unmaterialized(self, owner: str | None = None) -> int:
        """JobsUnmaterialized of the Scheduler ad (of a Submitter ad, with ``owner``): the
        jobs running factories have yet to make (``UnMaterializedJobCount``, which counts
        a factory only once it has made a job)."""
        total = 0
        for c, f in self.factories.items():
            cad = self.queue.clusters.get(c)
            if cad is None or F.is_done(f) or F.is_paused(cad) or f.jobs is None:
                continue
            if owner is not None and unquote(cad.get("Owner")) != owner:
                continue
            made = F.next_proc(cad)
            if made > 0 and f.total > made:
                total += f.total - made
        return total

    def note_cluster_edits(self, txn) -> None:
        """Before a transaction commits: a factory's cluster ad edited after submit records
        the edited names in ``EditedClusterAttrs``, so that the jobs it makes later take
        the cluster's values."""
        for c in sorted(txn.edited_clusters):
            if c not in self.factories:
                continue
            ckey = L.cluster_key(c)
            new = F.edited_attrs(unquote(txn.lookup(ckey, "EditedClusterAttrs")),
                                 txn.changes.get(ckey, {}).keys())
            if new is not None:
                txn.set(ckey, "EditedClusterAttrs", quote(new))

    def factory_keeps_cluster(self, c: int) -> bool:
        """Whether a cluster whose last job leaves must stay, for its factory's next jobs."""
        f = self.factories.get(c)
        return f is not None and not F.is_done(f)

    def factory_cluster_gone(self, c: int, cad) -> None:
        """A factory cluster left with its last job (retire): the event and its files."""
        f = self.factories.pop(c, None)
        if f is not None:
            self.write_cluster_removed(f, cad)
            self.remove_factory_files(cad)
