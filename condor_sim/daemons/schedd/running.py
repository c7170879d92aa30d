"""Jobs that run: the schedd's side of negotiation, its claims, and its shadows.

- NEGOTIATE (416): the negotiator asks for this submitter's idle jobs one at a time
  (SEND_JOB_INFO) and answers each with a claim (PERMISSION_AND_AD) or a refusal;
  a refused job's look-alikes are not offered again in that cycle (autoclusters).
- For each match the schedd claims a dynamic slot from the startd (REQUEST_CLAIM) and
  starts a :class:`Shadow` for the job.
- A shadow (one task per running job, logging to ShadowLog) activates the claim
  (ACTIVATE_CLAIM), turns what the starter reports into job-ad updates and user-log
  events, and releases the claim when the job is done.  Removing, holding or vacating a
  running job asks its shadow to stop it (DEACTIVATE_CLAIM); the shadow finishes the job's
  way out once the starter says the job is gone.
- Suspending or continuing a running job (condor_suspend / condor_continue) asks its
  shadow, which asks the startd (SUSPEND_CLAIM / CONTINUE_CLAIM); when the starter reports
  the job stopped (running again) the shadow writes the suspended (unsuspended) event and
  the job's suspension attributes (:mod:`condor_sim.jobqueue.suspension`).

The wire between our schedd, negotiator and startd uses HTCondor's command numbers and
the payload order of ``negotiate.cpp``/``claim.cpp`` in spirit; nothing outside the pool
sees it.
"""
from __future__ import annotations

import asyncio
import os
import re
import time

from ... import CONDOR_VERSION
from ... import texts as T
from ...cedar.classad_wire import get_ad, put_lines
from ...cedar.commands import Cmd
from ...command_table import command
from ...connection import ConnectionClosed
from ...jobqueue import analysis as A
from ...jobqueue import classad_log as L
from ...jobqueue import epochs as E
from ...jobqueue import lifecycle as LC
from ...jobqueue import policy as P
from ...jobqueue import rules
from ...jobqueue import suspension as SU
from ...jobqueue import userlog as U
from ...jobqueue.queue import COMPLETED, HELD, IDLE, REMOVED, RUNNING, SUSPENDED, int_value, quote, unquote
from ...security import client as security_client
from ...security.perms import Perm

NEGOTIATE_TIMEOUT = 60.0
OK = 1
# the ends of a shadow, as the exit codes the real shadow reports (exit.h)
JOB_EXITED, JOB_SHOULD_REQUEUE, JOB_SHOULD_REMOVE, JOB_SHOULD_HOLD = 100, 107, 108, 112


class Shadow:
    """One running job, from the claim's activation to the job's end."""

    def __init__(self, schedd, c: int, p: int, claim_id: str, slot_ad, startd: str):
        self.schedd = schedd
        self.c, self.p = c, p
        self.claim_id = claim_id
        self.slot_ad = slot_ad
        self.slot_name = str(slot_ad.get("Name") or "")
        self.startd = startd
        self.stop_reason: str | None = None     # "remove", "hold", "vacate", "shutdown"
        self.task: asyncio.Task | None = None
        self.activated = 0
        self.executing_since = 0
        self.counted_start = False
        self.uncommitted_suspension = 0     # seconds suspended in this run (the shadow's own)
        self.conn = None

    @property
    def jid(self) -> str:
        return f"{self.c}.{self.p}"

    def shadow_copy(self, job) -> dict:
        """The job ad as this shadow holds it (for its epoch record)."""
        s = self.schedd
        return E.shadow_copy(dict(job), shadow_sinful=s.core.sinful, uid_domain=s.policy.uid_domain,
                             version=CONDOR_VERSION)

    def log(self, msg: str) -> None:
        self.schedd.shadow_log.log(f"({self.jid}) ({os.getpid()}): {msg}")

    # -- the run
    async def run(self) -> None:
        s = self.schedd
        s.shadow_log.log(T.SHADOW_INITIALIZING.format(universe="VANILLA", job=self.jid))
        try:
            conn = await security_client.open_command(self.startd, Cmd.ACTIVATE_CLAIM, subsystem="SHADOW")
        except Exception as e:
            self.log(f"Failed to connect to startd {self.startd}: {e}")
            await self.requeue(f"Failed to activate the claim: {e}")
            return
        self.conn = conn
        try:
            job = s.queue.job(self.c, self.p)
            if job is None:
                return
            w = conn.message()
            w.put_string(self.claim_id)
            put_lines(w, [f"{k} = {v}" for k, v in job.items()])
            await conn.send(w.getvalue())
            reply = await conn.read()
            if reply.get_int() != OK:
                self.log(f"Request to run on {self.slot_name} {self.startd} was REFUSED")
                await self.requeue("The claim could not be activated")
                return
            self.log(T.SHADOW_REQUEST_ACCEPTED.format(slot=self.slot_name, startd=self.startd))
            transfer = (unquote(job.get("ShouldTransferFiles")) or "").upper() == "YES"
            self.activated = int(time.time())
            await s.update_job(self.c, self.p, LC.on_activate(job, self.activated, machine=_plain(self.slot_ad),
                                                              transfer_input=transfer))
            while True:
                try:
                    msg = await conn.read()
                except Exception:
                    await self.lost("the startd went away")
                    return
                report = dict(get_ad(msg).items())
                if await self.on_report(report):
                    return
        finally:
            conn.close()
            self.conn = None

    def usage(self, r: dict) -> dict:
        out = dict(r)
        if self.executing_since:
            out.setdefault("execution_duration", int(time.time()) - self.executing_since)
        return out

    async def on_report(self, r: dict) -> bool:
        """One starter report; True once the job's run is over."""
        s = self.schedd
        now = int(time.time())
        ev = r.get("event")
        job = s.queue.job(self.c, self.p)
        if job is None:
            return True
        kinds = {"transfer_in_started": U.Transfer.IN_STARTED, "transfer_in_finished": U.Transfer.IN_FINISHED,
                 "transfer_out_started": U.Transfer.OUT_STARTED,
                 "transfer_out_finished": U.Transfer.OUT_FINISHED}
        if ev in kinds:
            host = self.startd if ev == "transfer_in_started" else ""
            s.job_event(job, U.file_transfer_event(self.c, self.p, time.time(), kinds[ev], host=host))
            if ev == "transfer_in_finished":
                self.log(T.FILE_TRANSFER_SUCCEEDED)
                await s.update_job(self.c, self.p, LC.input_transferred(
                    job, now, bytes_recvd=int(r.get("bytes") or 0), files=int(r.get("files") or 0)))
            elif ev == "transfer_out_started":
                await s.update_job(self.c, self.p, LC.output_transfer_started(job, now))
            elif ev == "transfer_out_finished":
                self.log(T.FILE_TRANSFER_SUCCEEDED)
                await s.update_job(self.c, self.p, LC.output_transferred(
                    job, now, bytes_sent=int(r.get("bytes") or 0), files=int(r.get("files") or 0)))
            return False
        if ev == "execute":
            self.executing_since = now
            props = {"CondorScratchDir": r.get("scratch", "")}
            for res in ("Cpus", "Disk", "GPUs", "Memory"):
                v = self.slot_ad.get(res)
                props[res] = v if v is not None else 0
            s.job_event(job, U.execute_event(self.c, self.p, time.time(), self.startd,
                                             slot_name=self.slot_name, props=props))
            await s.update_job(self.c, self.p, LC.on_execute(job, now,
                                                             setup_duration=now - (self.activated or now)))
            return False
        if ev == "image_size":
            s.job_event(job, U.image_size_event(self.c, self.p, time.time(), int(r.get("image_size_kb") or 0),
                                                memory_usage_mb=r.get("memory_mb"),
                                                resident_set_size_kb=r.get("rss_kb")))
            await self.report_usage(job, r)
            return False
        if ev in ("suspended", "continued"):
            await self.on_suspension(job, ev == "suspended", r)
            return False
        if ev in ("exited", "hold", "evicted"):
            await s.update_job(self.c, self.p, SU.commit(job, self.uncommitted_suspension))
            self.uncommitted_suspension = 0
            job = s.queue.job(self.c, self.p) or job
            if not self.counted_start and ev == "exited":
                await self.report_usage(job, r)
                job = s.queue.job(self.c, self.p) or job
            if ev == "exited":
                await self.exited(job, r)
            elif ev == "hold":
                await self.hold_from_starter(job, r)
            else:
                await self.evicted(job, r)
            return True
        if ev in ("starter_lost", "starter_error", "starter_failed"):
            await self.lost(str(r.get("reason") or "the starter exited unexpectedly"))
            return True
        return False

    async def on_suspension(self, job, suspended: bool, r: dict) -> None:
        """The starter stopped the job (or let it run again): the event and the job ad."""
        s = self.schedd
        now = int(time.time())
        status = s.queue.status(self.c, self.p)
        if suspended and status == RUNNING:
            s.job_event(job, U.suspended_event(self.c, self.p, time.time(), int(r.get("num_pids") or 0)))
            await s.update_job(self.c, self.p, SU.on_suspended(job, now))
        elif not suspended and status == SUSPENDED:
            s.job_event(job, U.unsuspended_event(self.c, self.p, time.time()))
            updates, stopped = SU.on_continued(job, now)
            self.uncommitted_suspension += stopped
            await s.update_job(self.c, self.p, updates)

    async def suspend(self, on: bool) -> bool:
        """SUSPEND_CLAIM (CONTINUE_CLAIM) to the startd; True when it took the request."""
        cmd = Cmd.SUSPEND_CLAIM if on else Cmd.CONTINUE_CLAIM
        self.log("***SUSPEND THE JOB" if on else "***CONTINUE THE JOB")
        try:
            conn = await security_client.open_command(self.startd, cmd, subsystem="SHADOW")
            try:
                await conn.send(conn.message().put_string(self.claim_id).getvalue())
                reply = await asyncio.wait_for(conn.read(), 10)
                if reply.get_int() == OK:
                    return True
            finally:
                conn.close()
        except Exception as e:
            self.log(f"Failed to send {cmd.name}: {e}")
            return False
        self.log(f"{'JobSuspend' if on else 'JobResume'}() FAILED")
        return False

    async def report_usage(self, job, r: dict) -> None:
        first = not self.counted_start
        self.counted_start = True
        await self.schedd.update_job(self.c, self.p, LC.on_usage(job, int(time.time()), self.usage(r),
                                                                  first=first))

    async def exited(self, job, r: dict) -> None:
        s = self.schedd
        now = int(time.time())
        r = self.usage(r)
        s.write_epoch(self.shadow_copy(LC.shadow_exit_view(job, now, r)), E.EPOCH)
        updates = LC.on_exit(job, now, r)
        after = dict(job)
        after.update({k: v for k, v in updates.items() if v is not None})
        decision = P.on_exit(after, now)
        self.log(T.SHADOW_DEACTIVATE_JOB_DONE)
        normal = not r.get("exit_by_signal")
        code = int(r.get("exit_code") or 0)
        sig = int(r.get("exit_signal") or 0)
        self.log(T.SHADOW_JOB_TERMINATED.format(job=self.jid, how=T.TERMINATED_EXITED if normal
                                                else T.TERMINATED_SIGNALED, value=code if normal else sig))
        usage = (int(r.get("user_cpu") or 0), int(r.get("sys_cpu") or 0))
        sent, recvd = r.get("bytes_sent") or 0, r.get("bytes_recvd") or 0
        if decision.action == "hold":
            await s.update_job(self.c, self.p, LC.on_exit_hold(job, now, r, decision.reason, decision.code,
                                                                decision.subcode))
            s.held(self.c, self.p, now, decision.reason, decision.code, decision.subcode)
            self.log(T.SHADOW_EXIT_REASON.format(reason=JOB_SHOULD_HOLD))
            return
        if decision.action == "requeue":
            await s.update_job(self.c, self.p, LC.on_exit_requeue(job, now, r, decision.reason))
            s.job_event(job, U.evicted_event(self.c, self.p, now, terminate_and_requeued=True,
                                             normal=normal, return_value=code, signal_number=sig,
                                             run_remote_usage=usage, reason=decision.reason,
                                             sent_bytes=sent, recvd_bytes=recvd))
            self.log(T.SHADOW_EXIT_REASON.format(reason=JOB_SHOULD_REQUEUE))
            return
        await s.update_job(self.c, self.p, updates)
        job = s.queue.job(self.c, self.p) or job
        s.job_event(job, U.terminated_event(
            self.c, self.p, now, normal=normal, return_value=code, signal_number=sig,
            run_remote_usage=usage, total_remote_usage=(
                int(float(job.get("CumulativeRemoteUserCpu") or 0)),
                int(float(job.get("CumulativeRemoteSysCpu") or 0))),
            sent_bytes=sent, recvd_bytes=recvd, total_sent_bytes=sent, total_recvd_bytes=recvd,
            usage=U.usage_from_job(_plain_job(job))))
        self.log(T.SHADOW_EXIT_REASON.format(reason=JOB_EXITED))
        s.finish_jobs([(self.c, self.p)], completed=True)

    async def hold_from_starter(self, job, r: dict) -> None:
        now = int(time.time())
        self.schedd.write_epoch(self.shadow_copy(job), E.EPOCH)
        reason, code, subcode = str(r.get("reason") or ""), int(r.get("code") or 0), int(r.get("subcode") or 0)
        await self.schedd.update_job(self.c, self.p, LC.on_hold_running(job, now, self.usage(r), reason,
                                                                         code, subcode))
        self.schedd.held(self.c, self.p, now, reason, code, subcode)
        self.log(T.SHADOW_EXIT_REASON.format(reason=JOB_SHOULD_HOLD))

    async def evicted(self, job, r: dict) -> None:
        s = self.schedd
        now = int(time.time())
        r = self.usage(r)
        status = s.queue.status(self.c, self.p)
        usage = (int(r.get("user_cpu") or 0), int(r.get("sys_cpu") or 0))
        self.log(T.SHADOW_JOB_EVICTED.format(job=self.jid, slot=self.slot_name))
        s.write_epoch(self.shadow_copy(job), E.EPOCH)
        if status == REMOVED:
            reason = unquote(job.get("RemoveReason")) or ""
            await s.update_job(self.c, self.p, LC.on_remove_running(job, now, r, reason))
            s.job_event(job, U.aborted_event(self.c, self.p, now, reason))   # the shadow writes it
            s.finish_jobs([(self.c, self.p)])
            return
        if status == HELD:
            await s.update_job(self.c, self.p, LC.on_hold_running(
                job, now, r, unquote(job.get("HoldReason")) or "", int_value(job.get("HoldReasonCode"), 0),
                int_value(job.get("HoldReasonSubCode"), 0)))
            return
        await s.update_job(self.c, self.p, LC.on_evict(job, now, r, requeue=True))
        s.job_event(job, U.evicted_event(self.c, self.p, now, run_remote_usage=usage,
                                         sent_bytes=r.get("bytes_sent") or 0,
                                         recvd_bytes=r.get("bytes_recvd") or 0,
                                         usage=U.usage_from_job(_plain_job(job))))

    async def lost(self, why: str) -> None:
        """The starter or the startd is gone mid-job: the job goes back to idle."""
        s = self.schedd
        if s.queue.job(self.c, self.p) is None:
            return
        status = s.queue.status(self.c, self.p)
        self.log(f"Job {self.jid} is being evicted: {why}")
        if status == REMOVED:
            s.finish_jobs([(self.c, self.p)])
            return
        if status in (RUNNING, SUSPENDED):
            await self.requeue(why)

    async def requeue(self, why: str) -> None:
        s = self.schedd
        job = s.queue.job(self.c, self.p)
        if job is None or s.queue.status(self.c, self.p) not in (RUNNING, SUSPENDED):
            return
        now = int(time.time())
        await s.update_job(self.c, self.p, LC.on_evict(job, now, {}, requeue=True, reason=why))
        if self.executing_since:
            s.job_event(job, U.format_event(U.Event.SHADOW_EXCEPTION, self.c, self.p, now,
                                            f"Shadow exception!\n\t{why}\n\t0  -  Run Bytes Sent By Job\n"
                                            f"\t0  -  Run Bytes Received By Job\n"))

    async def stop(self, fast: bool) -> None:
        """DEACTIVATE_CLAIM(_FORCIBLY): the startd tells the starter to stop the job."""
        cmd = Cmd.DEACTIVATE_CLAIM_FORCIBLY if fast else Cmd.DEACTIVATE_CLAIM
        try:
            conn = await security_client.open_command(self.startd, cmd, subsystem="SHADOW")
            try:
                await conn.send(conn.message().put_string(self.claim_id).getvalue())
                await asyncio.wait_for(conn.read(), 10)
            finally:
                conn.close()
        except Exception as e:
            self.log(f"Failed to send {'DEACTIVATE_CLAIM_FORCIBLY' if fast else 'DEACTIVATE_CLAIM'}: {e}")


class JobRunner:
    """The schedd's negotiation, claims and shadows (a mixin of :class:`Schedd`)."""

    def init_running(self) -> None:
        from ...dlog import DaemonLog
        self.shadows: dict[tuple[int, int], Shadow] = {}
        self.matched: set[tuple[int, int]] = set()
        # attributes the real schedd keeps in its job ads without logging them
        # (AutoClusterId, AutoClusterAttrs): shown by queries, never in the history
        self.in_memory: dict[tuple[int, int], dict[str, str]] = {}
        self.shadow_log = DaemonLog(self.config, "SHADOW", "condor_shadow")
        self._reschedule_pending = False

    # -- asking for a negotiation
    def need_reschedule(self) -> None:
        if self._reschedule_pending:
            return
        self._reschedule_pending = True
        self.core.spawn(self.send_reschedule())

    async def send_reschedule(self) -> None:
        """Update the submitter ads first (the negotiator reads them), then RESCHEDULE."""
        try:
            await asyncio.sleep(0)
            self._reschedule_pending = False
            await self.advertise()
            sinful = self.negotiator_address()
            if not sinful:
                return
            await security_client.send_command(sinful, Cmd.RESCHEDULE, [], subsystem=self.SUBSYS)
        except Exception as e:
            self.log.log(f"Failed to send RESCHEDULE to the negotiator: {e}", "D_FULLDEBUG")

    def negotiator_address(self) -> str | None:
        return self.address_from_file("NEGOTIATOR_ADDRESS_FILE")

    # -- NEGOTIATE
    @command(Cmd.NEGOTIATE, perm=Perm.NEGOTIATOR)
    async def negotiate(self, req) -> None:
        ad = get_ad(await req.read(NEGOTIATE_TIMEOUT))
        submitter = str(ad.get("Owner") or "")
        negotiator = str(ad.get("NegotiatorName") or "")
        owner = submitter.split("@")[0]
        self.log.log(T.SCHEDD_NEGOTIATING_FOR.format(submitter=submitter, name=self.fqdn, host="127.0.0.1"))
        for jp in list(self.queue.jobs):            # every job of the submitter, as the
            if jp in self.in_memory:                  # real schedd's autocluster pass (each
                continue                              # job once, again after an edit)
            job = self.queue.job(*jp)
            if job is not None and unquote(job.get("Owner")) == owner:
                self.autocluster_of(jp, job)
        rejected: set[int] = set()                    # autoclusters refused in this round
        matched = refused = 0
        offered: set[tuple[int, int]] = set()
        try:
            while True:
                msg = await req.read(NEGOTIATE_TIMEOUT)
                op = msg.get_int()
                if op == Cmd.END_NEGOTIATE:
                    break
                if op != Cmd.SEND_JOB_INFO:
                    self.log.log(f"Negotiation: unexpected request {op}; ending")
                    break
                jp = self.next_idle_job(owner, offered, rejected)
                w = req.message()
                if jp is None:
                    w.put_int(Cmd.NO_MORE_JOBS)
                    await req.send(w)
                    continue
                offered.add(jp)
                job = self.queue.job(*jp)
                w.put_int(Cmd.JOB_INFO)
                acid = self.autocluster_of(jp, job)
                lines = [f"{k} = {v}" for k, v in job.items() if k != "AutoClusterId"]
                lines.append(f"AutoClusterId = {acid}")
                put_lines(w, lines)
                await req.send(w)
                answer = await req.read(NEGOTIATE_TIMEOUT)
                verdict = answer.get_int()
                if verdict == Cmd.PERMISSION_AND_AD:
                    claim_id = answer.get_str()
                    slot_ad = get_ad(answer)
                    matched += 1
                    self.matched.add(jp)
                    self.core.spawn(self.claim(jp, claim_id, slot_ad))
                else:
                    refused += 1
                    rejected.add(acid)
                    reason = answer.get_str() if verdict == Cmd.REJECTED_WITH_REASON else "no reason given"
                    self.core.spawn(self.update_job(*jp, {
                        A.REJ_REASON: quote(reason), A.REJ_NEGOTIATOR: quote(negotiator),
                        A.REJ_TIME: str(int(time.time()))}))
        except (ConnectionClosed, asyncio.TimeoutError):
            pass
        self.log.log(T.SCHEDD_NEGOTIATION_ENDED.format(matched=matched))
        self.log.log(T.SCHEDD_FINISHED_NEGOTIATING.format(owner=owner, matched=matched, rejected=refused))

    def forget_autoclusters(self, txn) -> None:
        """A committed change of a job's (or its cluster's) significant attributes: its
        autocluster is computed again at the next negotiation."""
        for key, changes in txn.changes.items():
            if not A.touches_autocluster(changes):
                continue
            c, p = L.parse_key(key) or (None, None)
            if p is not None and p >= 0:
                self.in_memory.pop((c, p), None)
            elif c is not None:
                for jp in [jp for jp in self.in_memory if jp[0] == c]:
                    del self.in_memory[jp]

    def autocluster_of(self, jp: tuple[int, int], job=None) -> int:
        """The job's autocluster id, kept in its ad as the real schedd keeps it (in memory):
        computed once, and again after its significant attributes change."""
        kept = self.in_memory.get(jp)
        if kept is not None and "AutoClusterId" in kept:
            return int(kept["AutoClusterId"])
        acid = self.autocluster_id(job if job is not None else self.queue.job(*jp))
        self.in_memory.setdefault(jp, {}).update(
            {"AutoClusterId": str(acid), "AutoClusterAttrs": quote(A.AUTO_CLUSTER_ATTRS)})
        return acid

    def autocluster_id(self, job) -> int:
        key = A.autocluster_key(job)
        ids = self.__dict__.setdefault("_autoclusters", {})
        return ids.setdefault(key, len(ids) + 1)

    def next_idle_job(self, owner: str, offered: set, rejected: set[int]):
        best = None
        for (c, p), own in self.queue.jobs.items():
            if (c, p) in offered or (c, p) in self.matched or (c, p) in self.shadows:
                continue
            cl = self.queue.clusters.get(c, {})
            if unquote(cl.get("Owner")) != owner:
                continue
            if int_value(own.get("JobStatus") or cl.get("JobStatus")) != IDLE:
                continue
            if self.autocluster_of((c, p)) in rejected:
                continue
            prio = own.get("JobPrio") or cl.get("JobPrio")
            key = (-(int_value(prio, 0) or 0), c, p)
            if best is None or key < best[0]:
                best = (key, (c, p))
        return best[1] if best else None

    # -- the claim
    async def claim(self, jp: tuple[int, int], claim_id: str, slot_ad) -> None:
        c, p = jp
        startd = str(slot_ad.get("MyAddress") or slot_ad.get("StartdIpAddr") or "")
        try:
            job = self.queue.job(c, p)
            if job is None or self.queue.status(c, p) != IDLE:
                return
            try:
                conn = await security_client.open_command(startd, Cmd.REQUEST_CLAIM, subsystem=self.SUBSYS)
            except Exception as e:
                self.log.log(f"Failed to send REQUEST_CLAIM to startd {startd}: {e}")
                return
            try:
                w = conn.message()
                w.put_string(claim_id)
                put_lines(w, [f"{k} = {v}" for k, v in job.items()])
                w.put_string(self.core.sinful)
                await conn.send(w.getvalue())
                reply = await asyncio.wait_for(conn.read(), 20)
                if reply.get_int() != OK:
                    self.log.log(f"Request to claim {slot_ad.get('Name')} for job {c}.{p} refused: "
                                 f"{reply.get_str()}", "D_FULLDEBUG")
                    self.need_reschedule_later()
                    return
                dslot_claim = reply.get_str()
                dslot_ad = get_ad(reply)
            finally:
                conn.close()
            if self.queue.status(c, p) != IDLE:
                await self.release_claim(startd, dslot_claim)
                return
        finally:
            self.matched.discard(jp)
        await self.run_on_claim(jp, dslot_claim, dslot_ad, startd)

    async def run_on_claim(self, jp: tuple[int, int], claim_id: str, slot_ad, startd: str) -> None:
        """Run the job on its claimed slot, then the owner's next look-alike idle job on the
        same claim (the real schedd's claim reuse), until none is left; then release it."""
        shape = _claim_shape(self.queue.job(*jp) or {})
        while jp is not None:
            await self.run_shadow(jp, claim_id, slot_ad, startd)
            jp = self.next_on_claim(shape)
        await self.release_claim(startd, claim_id)
        self.changed()
        if any(self.queue.status(*j) == IDLE for j in self.queue.jobs):
            self.need_reschedule()

    def next_on_claim(self, shape: str):
        for (c, p), own in self.queue.jobs.items():
            if (c, p) in self.matched or (c, p) in self.shadows:
                continue
            cl = self.queue.clusters.get(c, {})
            if int_value(own.get("JobStatus") or cl.get("JobStatus")) != IDLE:
                continue
            job = self.queue.job(c, p)
            if job is not None and _claim_shape(job) == shape:
                return (c, p)
        return None

    async def run_shadow(self, jp: tuple[int, int], claim_id: str, slot_ad, startd: str) -> None:
        c, p = jp
        job = self.queue.job(c, p)
        if job is None:
            return
        shadow = Shadow(self, c, p, claim_id, slot_ad, startd)
        self.shadows[jp] = shadow
        owner = unquote(job.get("Owner")) or ""
        try:
            now = int(time.time())
            cluster_ad = self.queue.clusters.get(c)
            if cluster_ad is not None:          # in memory only, as the real schedd keeps it
                cluster_ad.update(LC.first_match_date(cluster_ad, now))
            slot_id = slot_ad.get("SlotID")
            await self.update_job(c, p, LC.on_match(
                job, now, slot_name=shadow.slot_name, startd_sinful=startd, claim_id=claim_id,
                public_claim_id=str(slot_ad.get("PublicClaimId") or claim_id.split("#")[0]),
                slot_id=slot_id if isinstance(slot_id, int) else 1, machine=_plain(slot_ad),
                startd_principal=f"execute-side@matchsession/{_host_of(startd)}"))
            self.write_epoch(self.queue.job(c, p), E.SPAWN)
            self.log.log(T.SCHEDD_SHADOW_BIRTHDATE.format(job=f"{c}.{p}"))
            self.log.log(T.SCHEDD_STARTED_SHADOW.format(job=f"{c}.{p}", slot=shadow.slot_name, startd=startd,
                                                        owner=owner, pid=os.getpid()))
            shadow.task = asyncio.current_task()
            await shadow.run()
        finally:
            self.shadows.pop(jp, None)
            self.log.log(T.SCHEDD_MATCH_DELETED.format(slot=shadow.slot_name, startd=startd,
                                                       owner=owner, job=f"{c}.{p}"))

    def write_epoch(self, job, banner: str) -> None:
        """Append the job's SPAWN or EPOCH record to JOB_EPOCH_HISTORY and to its own file in
        JOB_EPOCH_HISTORY_DIR, rotating each as the real shadow's job run instance recording
        does; a failure is logged and nothing else."""
        path = self.config.get("JOB_EPOCH_HISTORY")
        directory = self.config.get("JOB_EPOCH_HISTORY_DIR")
        if (not path and not directory) or job is None:
            return
        directory_ok = bool(directory) and os.path.isdir(directory)
        if directory and not directory_ok:
            warned = self.__dict__.setdefault("_epoch_dir_warned", set())
            if directory not in warned:       # the real shadow says so once, when it starts
                warned.add(directory)
                self.shadow_log.log(E.INVALID_DIR.format(dir=directory), "D_ERROR")
        jp = (int_value(job.get("ClusterId"), -1), int_value(job.get("ProcId"), -1))
        job = {**job, **self.in_memory.get(jp, {})}       # the shadow's copy has them too
        only = E.spawn_attributes(self.config.get("SPAWN_JOB_ATTRS")) if banner == E.SPAWN else None
        now = time.time()
        text = E.epoch_record(job, banner, int(now), only)
        if text is None:
            return
        data = text.encode()
        for dest in E.destinations(path, directory, directory_ok, *jp,
                                   self.config.get_int("MAX_EPOCH_HISTORY_LOG", E.DEFAULT_MAX_EPOCH_HISTORY_LOG),
                                   self.config.get_int("MAX_EPOCH_HISTORY_ROTATIONS",
                                                       E.DEFAULT_MAX_EPOCH_HISTORY_ROTATIONS)):
            try:
                E.append_record(dest, data, now)
            except OSError as e:
                self.shadow_log.log(f"ERROR ({e.errno}): Opening job run instance file "
                                    f"({os.path.basename(dest.path)}): {e.strerror}")

    def need_reschedule_later(self) -> None:
        loop = asyncio.get_running_loop()
        loop.call_later(1.0, self.need_reschedule)

    async def release_claim(self, startd: str, claim_id: str) -> None:
        try:
            await security_client.send_command(startd, Cmd.RELEASE_CLAIM,
                                               [lambda w: w.put_string(claim_id)], subsystem=self.SUBSYS)
        except Exception as e:
            self.log.log(f"Failed to send RELEASE_CLAIM to {startd}: {e}", "D_FULLDEBUG")

    # -- changes the shadows make
    async def update_job(self, c: int, p: int, updates: dict) -> None:
        if not updates or self.queue.job(c, p) is None:
            return
        updates = LC.rounded(updates, self.policy.rounding)
        async with self.writer:
            txn = self.queue.begin()
            key = L.job_key(c, p)
            for name, value in updates.items():
                if value is None:
                    if txn.job_lookup(c, p, name) is not None:
                        txn.delete(key, name)
                else:
                    txn.set(key, name, value)
            await self.commit(txn)

    def held(self, c: int, p: int, now: int, reason: str, code: int, subcode: int) -> None:
        """A running job went on hold: the SchedLog line and the held event."""
        job = self.queue.job(c, p)
        if job is not None:
            self.log.log(T.PUT_ON_HOLD.format(job=f"{c}.{p}", reason=reason))
            self.job_event(job, U.held_event(c, p, now, reason, code, subcode))

    def job_event(self, job, text: str) -> None:
        path = self.user_log_path(job)
        if path:
            self.write_events({path: [text]})

    def finish_jobs(self, jobs: list[tuple[int, int]], *, completed: bool = False) -> None:
        """Jobs whose run is over and that leave the queue: completed ones (their
        terminated event is written) or removed ones (the aborted event now).  A completed
        job whose ``LeaveJobInQueue`` is true (a spooled job waiting for its output to be
        fetched) stays."""
        if completed:
            jobs = [jp for jp in jobs if not self.leave_in_queue(jp)]
            if not jobs:
                self.changed()
                return
        self.retire(jobs, write_events=not completed)

    def leave_in_queue(self, jp: tuple[int, int]) -> bool:
        job = self.queue.job(*jp)
        text = job.get("LeaveJobInQueue") if job is not None else None
        if text is None or text.strip().lower() in ("false", "0"):
            return False
        ad = P.job_classad(job)
        try:
            value = ad.eval("LeaveJobInQueue")
        except Exception:
            return False
        return value is True or (isinstance(value, (int, float)) and not isinstance(value, bool)
                                 and value != 0 and not hasattr(value, "name"))

    # -- the periodic job policy (PERIODIC_EXPR_INTERVAL)
    def start_periodic(self) -> None:
        self.core.every(lambda: max(1, self.config.get_int("PERIODIC_EXPR_INTERVAL", 60)),
                        self.evaluate_periodic, first=1)

    def system_policy(self) -> dict[str, str]:
        """SYSTEM_PERIODIC_* as config text, with their tagged forms."""
        out: dict[str, str] = {}
        for base in ("SYSTEM_PERIODIC_HOLD", "SYSTEM_PERIODIC_RELEASE", "SYSTEM_PERIODIC_REMOVE",
                     "SYSTEM_PERIODIC_VACATE"):
            names = self.config.get(base + "_NAMES") or ""
            for knob in [base, base + "_NAMES", base + "_REASON", base + "_SUBCODE"] + \
                    [f"{base}_{t}{suffix}" for t in names.replace(",", " ").split()
                     for suffix in ("", "_REASON", "_SUBCODE")]:
                v = self.config.get(knob)
                if v is not None:
                    out[knob] = v
        v = self.config.get("SYSTEM_MAX_RELEASES")
        if v is not None:
            out["SYSTEM_MAX_RELEASES"] = v
        return out

    async def evaluate_periodic(self) -> None:
        """periodic_hold/release/remove/vacate (and the SYSTEM_PERIODIC_* knobs) of every
        job, as the schedd's PeriodicExprEval does."""
        now = int(time.time())
        system = self.system_policy()
        decisions = []
        for jp in list(self.queue.jobs):
            job = self.queue.job(*jp)
            if job is None:
                continue
            try:
                d = P.periodic(job, now, system=system)
            except Exception as e:        # a policy that cannot be evaluated: leave the job
                self.log.log(f"Periodic policy of job {jp[0]}.{jp[1]} failed: {e}", "D_FULLDEBUG")
                continue
            if d is not None and d.action != "leave":
                decisions.append((jp, d))
        for (c, p), d in decisions:
            await self.apply_policy(c, p, d, now)
        self.retire_kept_jobs()

    def retire_kept_jobs(self) -> None:
        """Completed jobs kept in the queue by ``LeaveJobInQueue`` leave it once that turns
        false: for a spooled job, when its output has been retrieved (StageOutFinish) or
        ten days after its completion, as condor_submit's expression says."""
        done = [jp for jp in list(self.queue.jobs)
                if self.queue.status(*jp) == COMPLETED and jp not in self.shadows
                and not self.leave_in_queue(jp)]
        if done:
            self.retire(done, write_events=False)

    async def apply_policy(self, c: int, p: int, d, now: int) -> None:
        status = self.queue.status(c, p)
        running = (c, p) in self.shadows
        async with self.writer:
            txn = self.queue.begin()
            if d.action == "hold":
                rules.hold(txn, c, p, d.reason, d.code, d.subcode, now)
            elif d.action == "release":
                rules.release(txn, c, p, d.reason, now)
            elif d.action == "remove":
                rules.remove(txn, c, p, d.reason, now)
            elif d.action != "vacate":
                return
            if not txn.empty:
                await self.commit(txn)
        job = self.queue.job(c, p)
        if job is None:
            return
        if d.action == "hold":
            self.held(c, p, now, d.reason, d.code, d.subcode)
        elif d.action == "release":
            self.job_event(job, U.released_event(c, p, now, d.reason))
            self.need_reschedule()
        if running:
            self.stop_running([(c, p)], {"hold": "hold", "remove": "remove"}.get(d.action, "vacate"))
        elif d.action == "remove" and status != RUNNING:
            self.retire([(c, p)])

    # -- actions on running jobs
    def stop_running(self, jobs, action: str) -> None:
        fast = action in ("vacate_fast",)
        for jp in jobs:
            shadow = self.shadows.get(jp)
            if shadow is not None:
                shadow.stop_reason = action
                self.core.spawn(shadow.stop(fast))

    def suspend_running(self, jobs, on: bool) -> None:
        """condor_suspend / condor_continue: each job's shadow asks its startd."""
        for jp in jobs:
            shadow = self.shadows.get(jp)
            if shadow is not None:
                self.log.log(f"Sending {'DC_SIGSUSPEND' if on else 'DC_SIGCONTINUE'} to shadow", "D_FULLDEBUG")
                self.core.spawn(shadow.suspend(on))

    def has_shadow(self, jp) -> bool:
        return jp in self.shadows

    async def stop_all_shadows(self) -> None:
        for shadow in list(self.shadows.values()):
            shadow.stop_reason = "shutdown"
            await shadow.stop(True)


def _host_of(sinful: str) -> str:
    m = re.match(r"<([^:>?]+)", sinful)
    return m.group(1) if m else "127.0.0.1"


def _claim_shape(job) -> str:
    """What a job must share with the claim's last job to run on it: the owner and the
    autocluster."""
    return f"{job.get('Owner')}\n{A.autocluster_key(job)}"


def _plain(ad) -> dict:
    out = {}
    try:
        for k, v in ad.items():
            if isinstance(v, (str, int, float, bool)):
                out[k] = v
    except Exception:
        pass
    return out


def _plain_job(job) -> dict:
    """Job-ad texts as Python values where they are literals (for the usage table)."""
    out: dict = {}
    for k, v in job.items():
        if v is None:
            continue
        t = v.strip()
        if t in ("true", "false"):
            out[k] = t == "true"
            continue
        try:
            out[k] = int(t)
            continue
        except ValueError:
            pass
        try:
            out[k] = float(t)
            continue
        except ValueError:
            pass
        s = unquote(t)
        if s is not None and t.startswith('"'):
            out[k] = s
    return out
