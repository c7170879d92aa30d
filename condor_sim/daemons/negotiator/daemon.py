"""condor_negotiator: the negotiation cycle, its conversation with each schedd, and the ads
that tell the pool about it.

Every NEGOTIATOR_INTERVAL (and soon after a RESCHEDULE) one cycle runs: the slots and
submitters from the collector, the accountant's charges, the submitters in order of
effective priority, and for each one with idle jobs a NEGOTIATE conversation with its
schedd (:func:`negotiate_with_schedd`).  Matching itself is :mod:`.matchmaker`; priorities
are :mod:`.accountant`; the client-facing commands are :mod:`.commands`.
"""
from __future__ import annotations

import asyncio
import os
import re
import time
from dataclasses import dataclass, field

import classad2

from ...cedar.classad_wire import get_ad, put_ad
from ...cedar.commands import Cmd
from ...cedar.stream import MessageWriter
from ...command_table import command
from ...security import client as security_client
from ...security.perms import Perm
from ..base import Daemon
from .accountant import Accountant, AccountantStore
from .commands import NegotiatorCommands
from .matchmaker import POST_JOB_RANK, PRE_JOB_RANK, Matchmaker, candidate_slots

# The negotiation protocol's numbers (condor_commands.h)

PREEMPTION_RANK = ("(RemoteUserPrio * 1000000) - ifThenElse(isUndefined(TotalJobRuntime), 0, "
                   "TotalJobRuntime)")
SIGNIFICANT_ATTRS = ("CatalogID,catalogs,CatalogSize,RequestCpus,RequestDisk,RequestedCatalogIDs,"
                     "RequestedCatalogs,RequestGPUs,RequestMemory")
NEGOTIATOR_TIMEOUT = 30.0


@dataclass
class Submitter:
    """One Submitter ad, as a cycle needs it."""
    name: str
    schedd: str
    idle: int
    ad: classad2.ClassAd


@dataclass
class SubmitterResult:
    matches: int = 0
    rejections: int = 0
    considered: int = 0
    weight: float = 0.0
    lines: list = field(default_factory=list)


def job_id(ad) -> tuple[int, int]:
    c, p = ad.get("ClusterId"), ad.get("ProcId")
    return (c if isinstance(c, int) else -1, p if isinstance(p, int) else -1)


async def negotiate_with_schedd(conn, submitter: str, schedd: str, negotiator_name: str,
                                mm: Matchmaker, log, limit: float | None = None,
                                on_match=None, timeout: float = NEGOTIATOR_TIMEOUT) -> SubmitterResult:
    """The negotiator's side of NEGOTIATE on an open connection ``conn`` (``send(bytes)``,
    ``read()``, ``message()``), after the command itself.

    ``log(text, cat)`` gets the cycle's lines; ``on_match(job_ad, match)`` is told of each
    match; ``limit`` is the slot weight this submitter may get in this cycle (None: any)."""
    out = SubmitterResult()
    first = conn.message()
    put_ad(first, {"Owner": submitter, "SubmitterTag": "", "NegotiatorName": negotiator_name})
    await conn.send(first.getvalue())
    while True:
        if limit is not None and out.weight >= limit:
            log(f"    Reached submitter resource limit: {out.weight:f} ... stopping", "D_ALWAYS")
            break
        await conn.send(conn.message().put_int(Cmd.SEND_JOB_INFO).getvalue())
        reply = await asyncio.wait_for(conn.read(), timeout)
        op = reply.get_int()
        if op == Cmd.NO_MORE_JOBS:
            break
        if op != Cmd.JOB_INFO:
            log(f"Unexpected reply {op} from schedd {schedd}; ending negotiation", "D_ALWAYS")
            break
        job = get_ad(reply)
        out.considered += 1
        c, p = job_id(job)
        ac = job.get("AutoClusterId")
        log(f"    Request {c:05d}.{p:05d}: autocluster {ac if isinstance(ac, int) else -1} "
            f"(request count 1 of 1)", "D_ALWAYS")
        match = mm.match(job)
        msg = conn.message()
        if match is None:
            out.rejections += 1
            log(f"      Rejected {c}.{p} {submitter} {schedd}: no match found", "D_MATCH")
            msg.put_int(Cmd.REJECTED_WITH_REASON).put_string("no match found")
            await conn.send(msg.getvalue())
            continue
        out.matches += 1
        out.weight += Matchmaker.slot_weight(match.slot_ad)
        text = (f"      Matched {c}.{p} {submitter} {schedd} preempting none "
                f"{match.startd_address or '<0.0.0.0:0>'} {match.slot_name}")
        log(text, "D_MATCHED")
        msg.put_int(Cmd.PERMISSION_AND_AD).put_string(match.claim_id)
        put_ad(msg, match.slot_ad, include_private=False)
        await conn.send(msg.getvalue())
        log(f"      Successfully matched with {match.slot_name}", "D_ALWAYS")
        if on_match is not None:
            on_match(job, match)
    await conn.send(conn.message().put_int(Cmd.END_NEGOTIATE).getvalue())
    return out


def submitters_from(ads) -> list[Submitter]:
    out = []
    for ad in ads:
        name, schedd = ad.get("Name"), ad.get("ScheddIpAddr")
        if not isinstance(name, str) or not isinstance(schedd, str):
            continue
        idle = ad.get("IdleJobs")
        out.append(Submitter(name, schedd, idle if isinstance(idle, int) else 0, ad))
    return out


class Negotiator(NegotiatorCommands, Daemon):
    SUBSYS = "NEGOTIATOR"
    MY_TYPE = "Negotiator"
    UPDATE_COMMAND = "UPDATE_NEGOTIATOR_AD"
    INVALIDATE_COMMAND = "INVALIDATE_NEGOTIATOR_ADS"
    INTERVAL_KNOB = "NEGOTIATOR_UPDATE_INTERVAL"
    ADDRESS_KNOBS = ("NEGOTIATOR_ADDRESS_FILE",)

    def __init__(self, config, log, **kw):
        super().__init__(config, log, **kw)
        if config.get("NEGOTIATOR_DEBUG") is None and hasattr(log, "cats"):
            log.cats.setdefault("D_MATCH", 1)        # the real default: NEGOTIATOR_DEBUG = D_MATCH
        self.accountant = Accountant.from_config(config)
        self.store: AccountantStore | None = None
        self.reschedule_requested = asyncio.Event()
        self.cycle_started = 0.0
        self.cycle_finished = 0.0
        self.cycle_stats: dict = {}
        self.cycles = 0
        self._cycle_task: asyncio.Task | None = None
        self._acct_seq: dict[str, int] = {}      # UpdateSequenceNumber of each Accounting ad

    # ------------------------------------------------------------------ knobs
    def knob_float(self, name: str, default: float) -> float:
        try:
            return float(self.config.get_float(name, default))
        except (TypeError, ValueError):
            return default

    def interval(self) -> float:
        return max(0.1, self.knob_float("NEGOTIATOR_INTERVAL", 60))

    def log_knobs(self) -> None:
        """The settings the real negotiator logs at start and on reconfig."""
        get = self.config.get
        lines = [
            f"NEGOTIATOR_SOCKET_CACHE_SIZE = {self.config.get_int('NEGOTIATOR_SOCKET_CACHE_SIZE', 500)}",
            f"PREEMPTION_REQUIREMENTS = {get('PREEMPTION_REQUIREMENTS') or 'None'}",
            "ACCOUNTANT_HOST = None (local)",
            f"NEGOTIATOR_INTERVAL = {_secs(self.interval())} sec",
            f"NEGOTIATOR_MIN_INTERVAL = {_secs(self.knob_float('NEGOTIATOR_MIN_INTERVAL', 5))} sec",
            f"NEGOTIATOR_TIMEOUT = {self.config.get_int('NEGOTIATOR_TIMEOUT', 30)} sec",
            f"MAX_TIME_PER_CYCLE = {self.config.get_int('NEGOTIATOR_MAX_TIME_PER_CYCLE', 1200)} sec",
            f"MAX_TIME_PER_SUBMITTER = {self.config.get_int('NEGOTIATOR_MAX_TIME_PER_SUBMITTER', 60)} sec",
            f"MAX_TIME_PER_SCHEDD = {self.config.get_int('NEGOTIATOR_MAX_TIME_PER_SCHEDD', 120)} sec",
            f"MAX_TIME_PER_PIESPIN = {self.config.get_int('NEGOTIATOR_MAX_TIME_PER_PIESPIN', 120)} sec",
            f"PREEMPTION_RANK = {get('PREEMPTION_RANK') or PREEMPTION_RANK}",
            f"NEGOTIATOR_PRE_JOB_RANK = {self.pre_job_rank()}",
            f"NEGOTIATOR_POST_JOB_RANK = {self.post_job_rank()}",
        ]
        for line in lines:
            self.log.log(line)

    def pre_job_rank(self) -> str:
        return self.config.get("NEGOTIATOR_PRE_JOB_RANK") or PRE_JOB_RANK

    def post_job_rank(self) -> str:
        return self.config.get("NEGOTIATOR_POST_JOB_RANK") or POST_JOB_RANK

    # ------------------------------------------------------------------ start-up
    def open_accountant(self) -> None:
        spool = self.config.get("SPOOL") or "."
        path = os.path.join(spool, "Accountantnew.log")
        self.store = AccountantStore(path)
        if os.path.exists(path):
            self.log.log(f"About to rotate ClassAd log {path}")
        for w in self.store.open(self.accountant, int(time.time())):
            self.log.log(f"WARNING: {w}")

    def flush_accountant(self) -> None:
        if self.store is None:
            return
        try:
            self.store.flush(self.accountant)
        except OSError as e:
            self.log.log(f"ERROR: failed to write {self.store.path}: {e}")

    async def setup(self) -> None:
        if self.store is None:
            self.open_accountant()
        self.log_knobs()
        await super().setup()
        self._cycle_task = asyncio.ensure_future(self.cycle_loop())

    async def on_reconfig(self) -> None:
        self.accountant.default_factor = self.knob_float("DEFAULT_PRIO_FACTOR", 1000.0)
        self.accountant.half_life = max(1.0, self.knob_float("PRIORITY_HALFLIFE", 86400.0))
        self.log_knobs()
        await super().on_reconfig()

    async def on_shutdown(self, fast: bool) -> None:
        if self._cycle_task is not None:
            self._cycle_task.cancel()
        self.flush_accountant()
        await super().on_shutdown(fast)

    # ------------------------------------------------------------------ scheduling
    async def cycle_loop(self) -> None:
        """One cycle at a time: at start, every NEGOTIATOR_INTERVAL, and after a RESCHEDULE,
        but never sooner than NEGOTIATOR_CYCLE_DELAY after the last one finished nor
        NEGOTIATOR_MIN_INTERVAL after it started."""
        wait = 0.0
        while True:
            if wait > 0:
                try:
                    await asyncio.wait_for(self.reschedule_requested.wait(), wait)
                except asyncio.TimeoutError:
                    pass
            now = time.time()
            delay = max(self.cycle_finished + self.knob_float("NEGOTIATOR_CYCLE_DELAY", 20) - now,
                        self.cycle_started + self.knob_float("NEGOTIATOR_MIN_INTERVAL", 5) - now)
            if self.cycles and delay > 0:
                await asyncio.sleep(delay)
            self.reschedule_requested.clear()
            try:
                await self.negotiation_cycle()
            except asyncio.CancelledError:
                raise
            except Exception as e:
                self.log.log(f"Aborting negotiation cycle: {e}")
                self.cycle_finished = time.time()
            wait = self.interval()

    @command(Cmd.RESCHEDULE, perm=Perm.DAEMON, alt_perms=(Perm.ADVERTISE_SCHEDD, Perm.ADMINISTRATOR),
             has_payload=False)
    async def reschedule(self, req) -> None:
        """A cycle soon (one more after the one in progress, if any)."""
        self.reschedule_requested.set()

    # ------------------------------------------------------------------ collector
    async def query(self, cmd: int, target: str, ad_type: str) -> list:
        """Ads from our collector, through our own client (the client library in a thread
        if that cannot be done)."""
        sinful = self.collector_address()
        q = {"MyType": "Query", "TargetType": target, "Requirements": classad2.ExprTree("true")}
        if sinful:
            try:
                return await asyncio.wait_for(_query(sinful, cmd, q), NEGOTIATOR_TIMEOUT)
            except (security_client.ClientRefused, OSError, asyncio.TimeoutError, Exception) as e:
                self.log.log(f"Query of {target} ads through our own client failed ({e}); "
                             f"using the client library", "D_FULLDEBUG")
        return await self.client_call(_library_query, sinful, ad_type)

    async def obtain_ads(self) -> tuple[list, list, list]:
        """Phase 1: (slot ads, private ads, submitter ads with jobs idle or running)."""
        self.log.log("Phase 1:  Obtaining ads from collector ...")
        self.log.log("  Getting startd private ads ...")
        private = await self.query(Cmd.QUERY_STARTD_PVT_ADS, "Machine", "StartdPrivate")
        self.log.log("  Getting Scheduler, Submitter and Machine ads ...")
        submitters = await self.query(Cmd.QUERY_SUBMITTOR_ADS, "Submitter", "Submitter")
        slots = await self.query(Cmd.QUERY_STARTD_ADS, "Machine", "Startd")
        public = len(slots) + len(submitters)
        self.log.log(f"  Sorting {public} ads ...")
        wanted = [s for s in submitters
                  if _count(s, "IdleJobs") + _count(s, "RunningJobs") > 0]
        self.log.log(f"Got ads: {public} public and {len(private)} private")
        self.log.log(f"Public ads include {len(wanted)} submitter, {len(slots)} startd")
        return slots, private, wanted

    # ------------------------------------------------------------------ the cycle
    async def negotiation_cycle(self) -> None:
        start = time.time()
        period = int(start - self.cycle_started) if self.cycle_started else 0
        self.cycle_started = start
        self.cycles += 1
        self.log.log("---------- Started Negotiation Cycle ----------")
        slot_ads, private, submitter_ads = await self.obtain_ads()
        now = int(time.time())
        self.log.log("Phase 2:  Performing accounting ...")
        self.accountant.update_priorities(now)
        self.accountant.check_matches(slot_ads, now)
        if slot_ads:
            self.log.log(f"Leaving compute_significant_attrs() - result={SIGNIFICANT_ATTRS}")
        self.log.log("Phase 3:  Sorting submitter ads by priority ...")
        submitters = submitters_from(submitter_ads)
        submitters.sort(key=lambda s: (self.accountant.effective_priority(s.name), s.name))
        slots = candidate_slots(slot_ads, private)
        mm = Matchmaker(slots, self.pre_job_rank(), self.post_job_rank())
        limits = self.submitter_limits(submitters, slots)
        self.log.log("Starting prefetch round; 0 potential prefetches to do.")
        self.log.log("Prefetch summary: 0 attempted, 0 successful.")
        self.log.log("Phase 4.1:  Negotiating with schedds ...")
        stats = {"matches": 0, "rejections": 0, "considered": 0, "active": 0, "failed": []}
        for sub in submitters:
            if sub.idle <= 0:
                continue
            if not mm.slots:
                break
            stats["active"] += 1
            self.log.log(f"  Negotiating with {sub.name} at {sub.schedd}")
            self.log.log("0 seconds so far for this submitter")
            self.log.log("0 seconds so far for this schedd")
            try:
                result = await self.negotiate(sub, mm, limits.get(sub.name))
            except Exception as e:
                self.log.log(f"    Failed to negotiate with {sub.name} at {sub.schedd}: {e}")
                stats["failed"].append(sub.name)
                continue
            stats["matches"] += result.matches
            stats["rejections"] += result.rejections
            stats["considered"] += result.considered
        self.flush_accountant()
        self.log.log(f" negotiateWithGroup resources used submitterAds length "
                     f"{1 if stats['matches'] else 0} ")
        self.log.log("---------- Finished Negotiation Cycle ----------")
        end = time.time()
        self.cycle_finished = end
        stats.update({"start": int(start), "end": int(end), "period": period,
                      "slots": len(slot_ads), "candidates": len(slots),
                      "schedds": len({s.schedd for s in submitters}),
                      "idle": sum(max(s.idle, 0) for s in submitters)})
        self.cycle_stats = stats
        await self.advertise()

    def submitter_limits(self, submitters: list[Submitter], slots) -> dict:
        """Each active submitter's share of the pool's slot weight, by inverse effective
        priority (one spin of the pie); recorded as SubmitterLimit/SubmitterShare."""
        active = [s for s in submitters if s.idle > 0]
        total = sum(Matchmaker.slot_weight(s.ad) for s in slots) + sum(
            self.accountant.get(s.name, "WeightedResourcesUsed", 0.0) or 0.0 for s in active)
        inv = {s.name: 1.0 / max(self.accountant.effective_priority(s.name), 1e-9) for s in active}
        norm = sum(inv.values()) or 1.0
        limits = {}
        for name, w in inv.items():
            share = w / norm
            limit = max(share * total, 1.0)
            self.accountant.limits[name] = (limit, share)
            used = self.accountant.get(name, "WeightedResourcesUsed", 0.0) or 0.0
            limits[name] = max(limit - used, 0.0) if len(active) > 1 else None
        return limits

    async def negotiate(self, sub: Submitter, mm: Matchmaker, limit) -> SubmitterResult:
        conn = await asyncio.wait_for(
            security_client.open_command(sub.schedd, Cmd.NEGOTIATE, subsystem=self.SUBSYS),
            NEGOTIATOR_TIMEOUT)
        try:
            def on_match(job, match) -> None:
                self.accountant.add_match(sub.name, match.slot_ad, int(time.time()))
            return await negotiate_with_schedd(conn, sub.name, sub.schedd, self.name(), mm,
                                               self.cycle_log, limit, on_match,
                                               self.knob_float("NEGOTIATOR_TIMEOUT", 30))
        finally:
            conn.close()

    def cycle_log(self, text: str, cat: str) -> None:
        if cat == "D_MATCHED":            # D_ALWAYS|D_MATCH: the log and the MatchLog
            self.log.log(text)
            self.match_log(text)
        else:
            self.log.log(text, cat)

    def match_log(self, text: str) -> None:
        path = self.config.get("NEGOTIATOR_MATCH_LOG")
        if path is None and self.config.get("LOG"):
            path = os.path.join(self.config.get("LOG"), "MatchLog")
        if not path:
            return
        stamp = time.strftime(getattr(self.log, "time_format", "%m/%d/%y %H:%M:%S"), time.localtime())
        try:
            with open(path, "a") as f:
                f.write(f"{stamp} {text}\n")
        except OSError:
            pass

    # ------------------------------------------------------------------ ads
    def ad(self) -> dict:
        ad = super().ad()
        s = self.cycle_stats
        dur = max(0, s.get("end", 0) - s.get("start", 0))
        matches = s.get("matches", 0)
        ad.update({
            "LastNegotiationCycleActiveSubmitterCount0": s.get("active", 0),
            "LastNegotiationCycleCandidateSlots0": s.get("candidates", 0),
            "LastNegotiationCycleCpuTime0": 0.0,
            "LastNegotiationCycleDuration0": dur,
            "LastNegotiationCycleEnd0": s.get("end", self.core.start_time),
            "LastNegotiationCycleMatches0": matches,
            "LastNegotiationCycleMatchRate0": float(matches / dur) if dur else float(matches),
            "LastNegotiationCycleMatchRateSustained0": (
                float(matches / s["period"]) if s.get("period") else 0.0),
            "LastNegotiationCycleNumIdleJobs0": s.get("idle", 0),
            "LastNegotiationCycleNumJobsConsidered0": s.get("considered", 0),
            "LastNegotiationCycleNumSchedulers0": s.get("schedds", 0),
            "LastNegotiationCyclePeriod0": s.get("period", 0),
            "LastNegotiationCyclePhase1CpuTime0": 0.0, "LastNegotiationCyclePhase1Duration0": 0,
            "LastNegotiationCyclePhase2CpuTime0": 0.0, "LastNegotiationCyclePhase2Duration0": 0,
            "LastNegotiationCyclePhase3CpuTime0": 0.0, "LastNegotiationCyclePhase3Duration0": 0,
            "LastNegotiationCyclePhase4CpuTime0": 0.0, "LastNegotiationCyclePhase4Duration0": dur,
            "LastNegotiationCyclePies0": 1, "LastNegotiationCyclePieSpins0": 1,
            "LastNegotiationCyclePrefetchCpuTime0": 0.0, "LastNegotiationCyclePrefetchDuration0": 0,
            "LastNegotiationCycleRejections0": s.get("rejections", 0),
            "LastNegotiationCycleScheddsOutOfTime0": "",
            "LastNegotiationCycleSlotShareIter0": 0,
            "LastNegotiationCycleSubmittersFailed0": " ".join(s.get("failed", [])),
            "LastNegotiationCycleSubmittersOutOfTime0": "",
            "LastNegotiationCycleSubmittersShareLimit0": "",
            "LastNegotiationCycleTime0": s.get("start", self.core.start_time),
            "LastNegotiationCycleTotalSlots0": s.get("slots", 0),
            "LastNegotiationCycleTrimmedSlots0": s.get("slots", 0),
        })
        if hasattr(os, "getuid"):
            ad["RealUid"] = os.getuid()
        return ad

    async def advertise_more(self) -> None:
        extra = {"DaemonStartTime": self.core.start_time,
                 "DaemonLastReconfigTime": getattr(self, "last_reconfig", self.core.start_time)}
        ads = self.accountant.accounting_ads(self.name(), extra)
        self.flush_accountant()
        for ad in ads:
            seq = self._acct_seq[ad["Name"]] = self._acct_seq.get(ad["Name"], 0) + 1
            ad["UpdateSequenceNumber"] = seq
            try:
                await self.to_collector("UPDATE_ACCOUNTING_AD", ad)
            except Exception as e:
                self.log.log(f"Failed to send UPDATE_ACCOUNTING_AD to collector: {e}", "D_FULLDEBUG")


def _count(ad, attr: str) -> int:
    v = ad.get(attr)
    return v if isinstance(v, int) and not isinstance(v, bool) else 0


def _secs(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


async def _query(sinful: str, cmd: int, q: dict) -> list:
    conn = await security_client.open_command(sinful, cmd, subsystem="NEGOTIATOR")
    try:
        msg = MessageWriter(conn.framer.encrypted)
        put_ad(msg, q)
        await conn.send(msg.getvalue())
        reply = await conn.read()
        ads = []
        while reply.get_int() == 1:
            ads.append(get_ad(reply))
        return ads
    finally:
        conn.close()


def _library_query(sinful: str | None, ad_type: str) -> list:
    import htcondor2
    coll = htcondor2.Collector(_host_port(sinful)) if sinful else htcondor2.Collector()
    return list(coll.query(getattr(htcondor2.AdTypes, ad_type)))


def _host_port(sinful: str) -> str:
    m = re.match(r"<([^:>?]+):(\d+)", sinful)
    return f"{m.group(1)}:{m.group(2)}" if m else sinful


def main() -> None:
    Negotiator.from_process().start()
