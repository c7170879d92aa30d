"""condor_schedd: the job queue, its queries, actions and history, and the ads that tell the
pool about it.

The queue itself is sans-IO (:mod:`condor_sim.jobqueue`); this module is its I/O: the
command handlers, the log on disk, the user event logs and the history file.
"""
from __future__ import annotations

import asyncio
import os
import time

from ... import CONDOR_VERSION, texts as T
from ...cedar.classad_wire import encode_lines, get_ad, put_ad, put_lines
from ...cedar.commands import Cmd
from ...command_table import command
from ...connection import ConnectionClosed
from ...jobqueue import actions as A
from ...jobqueue import analysis as AN
from ...jobqueue import classad_log as L
from ...jobqueue import history as H
from ...jobqueue import select as S
from ...jobqueue import userlog as U
from ...jobqueue.qmgmt import CloseSession, QmgmtSession, WRITES
from ...jobqueue.queue import HELD, IDLE, REMOVED, RUNNING, JobQueue, int_value, quote, unquote
from ...jobqueue.rules import QueuePolicy
from ...jobqueue.store import QueueStore
from ...security.perms import Perm
from ..base import Daemon
from .materializing import Materializer
from .running import JobRunner
from .spooling import Spooler

QMGMT_TIMEOUT = 20.0


class Schedd(Materializer, Spooler, JobRunner, Daemon):
    SUBSYS = "SCHEDD"
    MY_TYPE = "Scheduler"
    UPDATE_COMMAND = "UPDATE_SCHEDD_AD"
    INVALIDATE_COMMAND = "INVALIDATE_SCHEDD_ADS"
    INTERVAL_KNOB = "SCHEDD_INTERVAL"
    ADDRESS_KNOBS = ("SCHEDD_ADDRESS_FILE", "SCHEDD_SUPER_ADDRESS_FILE")

    def __init__(self, config, log, **kw):
        super().__init__(config, log, **kw)
        self.policy = QueuePolicy.from_config(config, schedd_name=self.name(), version=CONDOR_VERSION,
                                              allow_root=os.geteuid() == 0 if hasattr(os, "geteuid") else False)
        self.queue = JobQueue(self.policy.uid_domain, self.name())
        self.store: QueueStore | None = None
        self.writer = asyncio.Lock()           # one changing QMGMT session at a time
        self.submitters: set[str] = set()
        self._last_update = 0.0
        self._update_soon: asyncio.TimerHandle | None = None
        self.stats = {"JobsSubmitted": 0}
        self.init_running()
        self.init_factories()

    # ------------------------------------------------------------------ start-up
    def open_queue(self) -> None:
        """Replay job_queue.log (``InitJobQueue``)."""
        path = self.config.get("JOB_QUEUE_LOG") or os.path.join(self.config.get("SPOOL") or ".", "job_queue.log")
        self.store = QueueStore(path, self.log.log,
                                historical=self.config.get_int("MAX_JOB_QUEUE_LOG_ROTATIONS", 1))
        self.store.open(self.queue)
        self.history = H.HistoryFile(self.history_path(),
                                     self.config.get_int("MAX_HISTORY_LOG", 20 * 1024 * 1024),
                                     self.config.get_int("MAX_HISTORY_ROTATIONS", 2))
        self.log.log(T.HISTORY_FILE)
        self.log.log(T.HISTORY_MAX.format(size=self.history.max_log))
        self.log.log(T.HISTORY_ROTATIONS.format(count=self.history.max_rotations))
        self.log.log(T.SUPER_USERS.format(users=", ".join(sorted(self.policy.super_users))))
        # jobs removed before a crash leave the queue now
        gone = [jp for jp in self.queue.jobs if self.queue.status(*jp) == REMOVED]
        if gone:
            self.retire(gone, write_events=False)

    def history_path(self) -> str:
        return self.config.get("HISTORY") or os.path.join(self.config.get("SPOOL") or ".", "history")

    async def setup(self) -> None:
        if self.store is None:
            self.open_queue()
        self.resume_factories()
        await super().setup()
        self.start_periodic()

    async def on_reconfig(self) -> None:
        self.policy = QueuePolicy.from_config(self.config, schedd_name=self.name(), version=CONDOR_VERSION,
                                              allow_root=self.policy.allow_root_owner)
        await super().on_reconfig()

    async def on_shutdown(self, fast: bool) -> None:
        self.stop_factories()
        await self.stop_all_shadows()
        if self.store is not None and not fast:
            self.log.log(T.CLEANING_QUEUE)
            try:
                self.store.compact(self.queue)
            except OSError as e:
                self.log.log(f"Failed to rotate ClassAd log {self.store.path}: {e}")
        await super().on_shutdown(fast)
        for owner in list(self.submitters):
            await self.invalidate_submitter(owner)

    # ------------------------------------------------------------------ persistence
    def write(self, text: str) -> None:
        assert self.store is not None
        self.store.append(text)

    async def commit(self, txn, submitted: dict | None = None, factories: dict | None = None):
        """Write ``txn`` to the log (synced), then apply it; (errno, reason) if it failed.
        ``submitted`` are the procs a submit made per cluster, ``factories`` the job
        factories it sent (their digests are spooled first)."""
        spooled = self.rewrite_spooled(txn, submitted) if submitted else []
        if txn.edited_clusters:
            self.note_cluster_edits(txn)
        if factories:
            err = self.save_factory_files(factories)
            if err:
                return err
        try:
            self.write(self.queue.log_text(txn))
        except OSError as e:
            self.log.log(f"ERROR: failed to write job queue log: {e}")
            return e.errno or 5, f"Failed to write the job queue log: {e.strerror}"
        self.queue.apply(txn)
        self.forget_autoclusters(txn)
        if spooled:
            self.make_spool_dirs(spooled)
        if submitted:
            self.after_submit(submitted)
        if factories:
            self.start_factories(list(factories))
        self.changed()
        return None

    def after_submit(self, submitted: dict) -> None:
        """ULOG_SUBMIT to each job's log, the SchedLog line, the counters; ``submitted``
        is, per cluster, its number of procs (from 0) or the list of the new ones."""
        now = time.time()
        events: dict[str, list[str]] = {}
        idle = 0
        for c, n in submitted.items():
            procs = range(n) if isinstance(n, int) else n
            for p in procs:
                job = self.queue.job(c, p)
                if job is None:
                    continue
                if int_value(job.get("JobStatus")) == IDLE:
                    idle += 1
                path = self.user_log_path(job)
                if path:
                    events.setdefault(path, []).append(
                        U.submit_event(c, p, now, self.core.sinful,
                                       log_notes=unquote(job.get("SubmitEventNotes")) or ""))
            self.stats["JobsSubmitted"] += len(procs)
            owner = unquote(self.queue.clusters.get(c, {}).get("Owner"))
            if owner:
                self.submitters.add(owner)
        self.write_events(events)
        if idle:
            self.log.log(T.NEW_JOBS.format(count=idle))
            self.need_reschedule()

    def user_log_path(self, job) -> str | None:
        path = unquote(job.get("UserLog"))
        if not path:
            return None
        if not os.path.isabs(path):
            iwd = unquote(job.get("Iwd")) or ""
            path = os.path.join(iwd, path)
        return path

    def write_events(self, events: dict[str, list[str]]) -> None:
        for path, texts in events.items():
            writer = U.UserLogWriter(path)
            if not writer.write_many(texts):
                self.log.log(f"WARNING: failed to write user log {path}: {writer.last_error}")

    def retire(self, jobs: list[tuple[int, int]], *, write_events: bool = True) -> None:
        """Removed jobs leave the queue: the abort event, the history file, then their ads
        (and a cluster's ad with its last job).  The log gets, per job, its marks (outside
        a transaction, as the real schedd writes them) and a transaction that destroys it;
        all of them in one write and one sync."""
        now = int(time.time())
        events: dict[str, list[str]] = {}
        records = []
        text: list[str] = []
        for c, p in jobs:
            job = self.queue.job(c, p)
            if job is None:
                continue
            self.in_memory.pop((c, p), None)
            key = L.job_key(c, p)
            marks = self.queue.begin()
            if write_events and job.get("JobAbortEventLogged") is None:
                path = self.user_log_path(job)
                if path:
                    events.setdefault(path, []).append(
                        U.aborted_event(c, p, now, unquote(job.get("RemoveReason")) or ""))
                marks.set(key, "JobAbortEventLogged", "1")
            marks.set(key, "JobFinishedHookDone", str(now))
            text.extend(marks.lines)
            self.queue.apply(marks)
            records.append(dict(self.queue.job(c, p)))
            txn = self.queue.begin()
            txn.destroy(key)
            if self.queue.cluster_procs.get(c, set()) <= {p} and not self.factory_keeps_cluster(c):
                cad = self.queue.clusters.get(c)
                if cad is not None and c in self.factories:
                    self.factory_cluster_gone(c, dict(cad))
                txn.destroy(L.cluster_key(c))
                if f"{c}.-2" in self.queue.ads:
                    txn.destroy(f"{c}.-2")
            text.append(self.queue.log_text(txn))
            self.queue.apply(txn)
        self.write("".join(text))
        self.write_events(events)
        self.remove_spool_dirs([(int(r.get("ClusterId", -1)), int(r.get("ProcId", -1)))
                                for r in records if r.get("SUBMIT_Iwd") is not None])
        if records:
            try:
                self.history.append(records, now)
            except OSError as e:
                self.log.log(f"WARNING: failed to write history file: {e}")
        self.changed()

    # ------------------------------------------------------------------ ads
    def changed(self) -> None:
        """The queue changed: tell the collector soon (no sooner than SCHEDD_MIN_INTERVAL
        after the last update); and the job factories catch up."""
        self.materialize_soon()
        if self._update_soon is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        gap = self.config.get_float("SCHEDD_MIN_INTERVAL", 5.0)
        delay = max(0.0, self._last_update + gap - time.monotonic())

        def fire() -> None:
            self._update_soon = None
            asyncio.ensure_future(self.advertise())

        self._update_soon = loop.call_later(delay, fire)

    async def advertise(self) -> None:
        self._last_update = time.monotonic()
        await super().advertise()

    async def advertise_more(self) -> None:
        owners = self.queue.owners()
        for owner, counts in owners.items():
            if owner:
                await self.to_collector_quietly("UPDATE_SUBMITTOR_AD", self.submitter_ad(owner, counts))
        for owner in list(self.submitters):
            if owner not in owners:
                await self.to_collector_quietly("UPDATE_SUBMITTOR_AD", self.submitter_ad(owner, {}))

    async def to_collector_quietly(self, command: str, ad: dict) -> None:
        try:
            await self.to_collector(command, ad)
        except Exception as e:
            self.log.log(f"Failed to send {command} to collector: {e}", "D_FULLDEBUG")

    async def invalidate_submitter(self, owner: str) -> None:
        name = f"{owner}@{self.policy.uid_domain}"
        ad = {"MyType": "Query", "TargetType": "Submitter", "Name": name,
              "ScheddName": self.name(), "MyAddress": self.core.sinful}
        try:
            await asyncio.wait_for(self.to_collector("INVALIDATE_SUBMITTOR_ADS", ad), 5)
        except Exception:
            pass

    def submitter_ad(self, owner: str, counts: dict) -> dict:
        now = int(time.time())
        return {"MyType": "Submitter", "Name": f"{owner}@{self.policy.uid_domain}",
                "ScheddName": self.name(), "Machine": self.fqdn, "MyAddress": self.core.sinful,
                "ScheddIpAddr": self.core.sinful, "CondorVersion": CONDOR_VERSION,
                "IdleJobs": counts.get(IDLE, 0), "RunningJobs": counts.get(RUNNING, 0),
                "HeldJobs": counts.get(HELD, 0), "FlockedJobs": 0, "LocalJobsIdle": 0,
                "LocalJobsRunning": 0, "SchedulerJobsIdle": 0, "SchedulerJobsRunning": 0,
                "WeightedIdleJobs": counts.get(IDLE, 0), "WeightedRunningJobs": float(counts.get(RUNNING, 0)),
                "SubmitterTag": "", "WantResAd": True, "MyCurrentTime": now,
                "JobsUnmaterialized": self.unmaterialized(owner),
                "JobQueueBirthdate": self.queue.created or now}

    def ad(self) -> dict:
        ad = super().ad()
        by_owner = self.queue.owners()
        counts: dict[int, int] = {}
        for per_status in by_owner.values():
            for status, n in per_status.items():
                counts[status] = counts.get(status, 0) + n
        owners = [o for o in by_owner if o]
        ad.update({"TotalIdleJobs": counts.get(IDLE, 0), "TotalRunningJobs": counts.get(RUNNING, 0),
                   "TotalHeldJobs": counts.get(HELD, 0), "TotalRemovedJobs": counts.get(REMOVED, 0),
                   "TotalJobAds": len(self.queue.jobs), "TotalFlockedJobs": 0,
                   "TotalLocalJobsIdle": 0, "TotalLocalJobsRunning": 0,
                   "TotalSchedulerJobsIdle": 0, "TotalSchedulerJobsRunning": 0,
                   "NumUsers": len(owners), "NumOwners": len(owners),
                   "JobQueueBirthdate": self.queue.created or self.core.start_time,
                   "JobsSubmitted": self.stats["JobsSubmitted"],
                   "JobsUnmaterialized": self.unmaterialized(),
                   "MaxJobsRunning": self.config.get_int("MAX_JOBS_RUNNING", 10000),
                   "WantResAd": True})
        return ad

    # ------------------------------------------------------------------ commands
    @command(Cmd.QUERY_SCHEDD_ADS, Cmd.QUERY_SUBMITTOR_ADS, Cmd.QUERY_STARTD_ADS, perm=Perm.READ)
    async def query_ads(self, req) -> None:
        """Scheduler::command_query_ads: our own ad, in the collector's reply format."""
        await req.read()
        msg = req.message()
        if req.cmd == Cmd.QUERY_SCHEDD_ADS:
            msg.put_int(1)
            put_ad(msg, self.ad(), include_private=False)
        msg.put_int(0)
        await req.send(msg)

    @command(Cmd.QMGMT_WRITE_CMD, perm=Perm.WRITE, force_auth=True)
    async def qmgmt_write(self, req) -> None:
        await self.serve_qmgmt(req, write=True)

    @command(Cmd.QMGMT_READ_CMD, perm=Perm.READ)
    async def qmgmt_read(self, req) -> None:
        await self.serve_qmgmt(req, write=False)

    async def serve_qmgmt(self, req, *, write: bool) -> None:
        """Requests until CloseSocket or the peer goes; an open transaction is rolled back."""
        session = QmgmtSession(self.queue, self.policy, req.user, req.authenticated, write=write,
                               commit=self.commit, select=lambda c: S.select(self.queue, c),
                               log=lambda m: self.log.log(m), encrypted=req.chan.encrypted)
        holding = False
        try:
            while True:
                msg = await req.read(QMGMT_TIMEOUT)
                if not holding and msg.peek_int() in WRITES:      # a change: wait for our turn
                    await self.writer.acquire()
                    holding = True
                try:
                    replies = await session.handle(msg)
                except CloseSession:
                    return
                except Exception as e:          # a malformed request: refuse it, keep the queue
                    self.log.log(f"QMGMT: bad request from {req.chan.peer_description}: {e}")
                    return
                for payload in replies:
                    await req.chan.send(payload)
                if holding and not session.in_transaction:
                    self.writer.release()
                    holding = False
        except ConnectionClosed:
            pass
        finally:
            if session.in_transaction:
                self.log.log(f"QMGMT: connection from {req.chan.peer_description} closed with an "
                             f"open transaction; aborting it")
            session.abort()
            if holding:
                self.writer.release()

    @command(Cmd.QUERY_JOB_ADS_WITH_AUTH, perm=Perm.READ, force_auth=True)
    async def query_my_jobs(self, req) -> None:
        """The same query, from a client that must say who it is (condor_q's fast path)."""
        await self.query_jobs(req)

    @command(Cmd.QUERY_JOB_ADS, perm=Perm.READ)
    async def query_jobs(self, req) -> None:
        """command_query_job_ads: each ad its own message, then the summary."""
        request = get_ad(await req.read())
        now = int(time.time())
        send_time = request.get("SendServerTime") is True
        try:
            constraint = request.lookup("Requirements") if "Requirements" in request else None
            text = str(constraint) if constraint is not None else None
            m = S.Matcher(text)
        except ValueError as e:
            await req.send(put_lines(req.message(), ["Owner = 0", "ErrorCode = 1",
                                                          f"ErrorString = {quote(str(e))}"]))
            return
        projection = S.projection_list(request.get("Projection"))
        limit = request.get("LimitResults")
        limit = limit if isinstance(limit, int) and limit >= 0 else -1
        my_name = self.my_jobs_owner(request, req)
        mine_attr, mine_value = (("User", quote(my_name)) if my_name and "@" in my_name
                                 else ("Owner", quote(my_name or "")))
        summary_only = request.get("SummaryOnly") is True
        matched = []
        clusters = self.queue.clusters
        encoder = S.AdEncoder(req.chan.encrypted, projection, now if send_time else None)

        include_clusters = request.get("IncludeClusterAd") is True
        no_procs = request.get("NoProcAds") is True

        def entries():
            """The queue's jobs; with IncludeClusterAd, each cluster's info ad before its
            jobs (and a factory's even with no job yet); NoProcAds leaves the jobs out."""
            if not include_clusters:
                yield from list(self.queue.jobs.items())
                return
            for c in list(clusters):
                yield (c, -1), self.cluster_info(c)
                if not no_procs:
                    for p in sorted(self.queue.cluster_procs.get(c, ())):
                        own = self.queue.jobs.get((c, p))
                        if own is not None:
                            yield (c, p), own

        def ads():
            sent = 0
            for (c, p), own in entries():
                cl = clusters.get(c, {}) if p >= 0 else {}
                if my_name and (cl or own).get(mine_attr) != mine_value:
                    continue
                if p < 0:
                    if m.matches(-c, {}, own) and not summary_only and not (0 <= limit <= sent):
                        sent += 1
                        yield encoder.payload(-c, {}, own)    # its own cache key: not its jobs' cluster
                    continue
                extra = self.in_memory.get((c, p))
                if extra:
                    own = {**own, **extra}
                if not m.matches(c, cl, own):
                    continue
                matched.append((c, p))
                if summary_only or (0 <= limit <= sent):
                    continue
                sent += 1
                yield encoder.payload(c, cl, own)

        await req.chan.send_many(ads())
        found = S.tally(self.queue, matched)
        everyone = S.tally(self.queue)
        lines = S.summary_lines(found, everyone, now)
        if my_name:
            mine = S.tally(self.queue, [jp for jp in self.queue.jobs
                                        if clusters.get(jp[0], {}).get(mine_attr) == mine_value])
            lines += mine.lines("My") + [f"MyName = {quote(my_name)}"]
        if request.get("ForAnalysis") is True:
            analyze = AN.analyze_line(self.autocluster_records(matched))
            if analyze:
                lines.append(analyze)
        await req.send(put_lines(req.message(), lines))

    def cluster_info(self, c: int) -> dict:
        """A cluster's ad as a query with IncludeClusterAd gets it (``PopulateInfoAd``):
        the ad, its jobs counted by state, and its factory's state."""
        statuses = [self.queue.status(c, p) for p in self.queue.cluster_procs.get(c, ())]
        info = dict(self.queue.clusters.get(c, {}))
        info.setdefault("JobStatus", str(IDLE))     # what a 25.x schedd gives every cluster in memory
        info.update(JobsPresent=str(len(statuses)), JobsIdle=str(statuses.count(IDLE)),
                    JobsRunning=str(sum(s in (RUNNING, 6, 7) for s in statuses)),
                    JobsHeld=str(statuses.count(HELD)), ClusterSize=str(len(statuses)))
        info.update(self.factory_info(c))
        return info

    def autocluster_records(self, jobs: list[tuple[int, int]]) -> list[dict]:
        """``ForAnalysis``: a record per autocluster of these jobs, from all its jobs."""
        members: dict[str, list] = {}
        for jp, extra in self.in_memory.items():
            acid = extra.get("AutoClusterId")
            if acid is not None and self.queue.job(*jp) is not None:
                members.setdefault(acid, []).append(self.queue.job(*jp))
        records: dict[str, dict] = {}
        for jp in jobs:
            acid = self.in_memory.get(jp, {}).get("AutoClusterId")
            if acid is None or acid in records:
                continue
            records[acid] = AN.autocluster_record(int(acid), self.queue.job(*jp), members[acid])
        return list(records.values())

    def my_jobs_owner(self, request, req) -> str | None:
        """Whose jobs an "only my jobs" query (``MyJobs``) shows, as command_query_job_ads
        decides: the authenticated user, else the ``Me`` the client guessed; nobody's in
        particular (all jobs) for a queue super user or when MyJobs is false."""
        if "MyJobs" not in request or not self.config.get_bool("CONDOR_Q_ONLY_MY_JOBS", True):
            return None
        value = request.lookup("MyJobs")
        mapped = req.user if req.authenticated and "@" in req.user and \
            not req.user.startswith("unauthenticated@") else None
        literal = request.get("MyJobs")
        if isinstance(literal, (bool, int)) and str(value).strip().lower() in ("true", "false", "1", "0"):
            owner = mapped if literal else None
        else:
            me = request.get("Me")
            owner = mapped or (me if isinstance(me, str) else None)
        if not owner or self.policy.is_super(req.user):
            return None
        return owner

    @command(Cmd.QUERY_SCHEDD_HISTORY, perm=Perm.READ)
    async def query_history(self, req) -> None:
        """The history helper's reply: every ad in one message, then the sentinel."""
        request = get_ad(await req.read())
        constraint = request.lookup("Requirements") if "Requirements" in request else None
        projection = S.projection_list(request.get("Projection"))
        match = request.get("NumJobMatches")
        match = match if isinstance(match, int) else -1
        since = request.lookup("Since") if "Since" in request else None
        msg = req.message()
        try:
            scan = H.Scan(H.iter_newest_first(self.history.files()),
                          str(constraint) if constraint is not None else None,
                          projection, match, str(since) if since is not None else None,
                          as_lines=True)
        except ValueError as e:
            await req.send(put_lines(msg, H.error_ad(1, str(e))))
            return
        enc = req.chan.encrypted

        def pieces():
            for lines in scan:
                yield encode_lines(lines, enc)
            yield encode_lines(H.closing_ad(scan.sent, scan.scanned), enc)

        await req.chan.send_stream(pieces())

    @command(Cmd.ACT_ON_JOBS, perm=Perm.WRITE, force_auth=True)
    async def act_on_jobs(self, req) -> None:
        request = get_ad(await req.read())
        now = int(time.time())
        async with self.writer:
            plan = A.plan(self.queue, self.policy, request, req.user, now, frozenset(self.factories))
            if plan is None:
                return                       # refused: the real schedd just closes
            await req.send(put_lines(req.message(), plan.result_lines(len(self.queue.jobs))))
            if not plan.successes and not plan.factories:
                return
            reply = await req.read(10)
            if reply.get_int() != 1:
                return
            err = await self.commit(plan.txn)
            if err:
                return
            w = req.message()
            w.put_int(1)
            await req.send(w)
            self.after_action(plan, now)

    def after_action(self, plan, now: int) -> None:
        events: dict[str, list[str]] = self.factory_action_events(plan, now)
        for c, p in plan.successes:
            job = self.queue.job(c, p)
            if job is None:
                continue
            jid = f"{c}.{p}"
            path = self.user_log_path(job)
            if plan.action == A.HOLD:
                reason = unquote(job.get("HoldReason")) or ""
                self.log.log(T.PUT_ON_HOLD.format(job=jid, reason=reason))
                if path:
                    events.setdefault(path, []).append(U.held_event(
                        c, p, now, reason, int_value(job.get("HoldReasonCode"), 0),
                        int_value(job.get("HoldReasonSubCode"), 0)))
            elif plan.action == A.RELEASE:
                if path:
                    events.setdefault(path, []).append(
                        U.released_event(c, p, now, unquote(job.get("ReleaseReason")) or ""))
        self.write_events(events)
        running = [jp for jp in plan.successes if self.has_shadow(jp)]
        if running and plan.action in (A.HOLD, A.REMOVE, A.REMOVE_X, A.VACATE, A.VACATE_FAST):
            self.stop_running(running, {A.HOLD: "hold", A.VACATE: "vacate",
                                        A.VACATE_FAST: "vacate_fast"}.get(plan.action, "remove"))
        if running and plan.action in (A.SUSPEND, A.CONTINUE):
            self.suspend_running(running, plan.action == A.SUSPEND)
        if plan.action in (A.REMOVE, A.REMOVE_X):
            self.retire([jp for jp in plan.successes
                         if self.queue.status(*jp) == REMOVED and not self.has_shadow(jp)])
        if plan.action == A.RELEASE:
            self.need_reschedule()
        if plan.factories:
            self.factories_acted_on(plan.action, plan.factories)

    @command(Cmd.RESCHEDULE, perm=Perm.WRITE, has_payload=False)
    async def reschedule(self, req) -> None:
        """condor_reschedule: ask the negotiator for a cycle now."""
        self.log.log("Got RESCHEDULE request", "D_FULLDEBUG")
        self.need_reschedule()


def main() -> None:
    Schedd.from_process().start()
