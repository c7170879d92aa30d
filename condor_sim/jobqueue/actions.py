"""ACT_ON_JOBS (``Scheduler::actOnJobs``), sans-IO: which jobs an action touches, the
result it reports, and the transaction that makes it so.

The request ad names the action (``JobAction``), either ``ActionIds`` ("1.0,1.2") or an
``ActionConstraint``, and a reason.  A constraint is narrowed per action to the jobs it can
apply to; an id list is checked job by job, each getting one of the results below.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from . import rules
from .classad_log import cluster_key, job_key
from .queue import (COMPLETED, HELD, REMOVED, RUNNING, SUSPENDED, TRANSFERRING_OUTPUT, Transaction,
                    int_value, quote, unquote)
from .select import select, select_clusters

HOLD, RELEASE, REMOVE, REMOVE_X, VACATE, VACATE_FAST, CLEAR_DIRTY, SUSPEND, CONTINUE = range(1, 10)
TRANSFER_AND_REMOVE = 10
AR_ERROR, AR_SUCCESS, AR_NOT_FOUND, AR_BAD_STATUS, AR_ALREADY_DONE, AR_PERMISSION_DENIED, \
    AR_LIMIT_EXCEEDED = range(7)
REASON_ATTR = {HOLD: "HoldReason", RELEASE: "ReleaseReason", REMOVE: "RemoveReason",
               REMOVE_X: "RemoveReason", TRANSFER_AND_REMOVE: "RemoveReason"}
SCHEDULER_UNIVERSE, LOCAL_UNIVERSE = 7, 12

# the guard each action puts before a client's constraint (actOnJobs)
GUARDS = {
    REMOVE: f"(ProcId is undefined || (JobStatus!={REMOVED})) && (",
    TRANSFER_AND_REMOVE: f"(ProcId is undefined || (JobStatus!={REMOVED})) && (",
    REMOVE_X: (f"(ProcId is undefined || (JobStatus=={REMOVED}) || (JobStatus=={HELD} && "
               f"JobStatusOnRelease=?={REMOVED})) && ("),
    HOLD: f"(ProcId is undefined || (JobStatus!={REMOVED} && JobStatus!={COMPLETED})) && (",
    RELEASE: (f"(ProcId is undefined || (JobStatus=={HELD} && HoldReasonCode=!="
              f"{rules.HOLD_SPOOLING_INPUT})) && ("),
    SUSPEND: (f"((JobStatus=={RUNNING} || JobStatus=={TRANSFERRING_OUTPUT}) && (JobUniverse=!="
              f"{LOCAL_UNIVERSE} && JobUniverse=!={SCHEDULER_UNIVERSE})) && ("),
    VACATE: f"(JobStatus=={RUNNING} || JobStatus=={TRANSFERRING_OUTPUT}) && (",
    VACATE_FAST: f"(JobStatus=={RUNNING} || JobStatus=={TRANSFERRING_OUTPUT}) && (",
    CONTINUE: f"(JobStatus=={SUSPENDED}) && (",
}
MAX_IDS = 1_000_000


@dataclass
class Plan:
    action: int
    txn: Transaction
    super_user: bool
    totals: list = field(default_factory=lambda: [0] * 7)
    successes: list = field(default_factory=list)
    factories: list = field(default_factory=list)     # factory clusters the action reached
    reason: str = ""                                  # the action's reason, as the jobs got it

    def record(self, jid, result: int) -> None:
        self.totals[result] += 1
        if result == AR_SUCCESS:
            self.successes.append(jid)

    def result_lines(self, total_job_ads: int) -> list[str]:
        lines = [f"JobAction = {self.action}", f"TotalJobAds = {total_job_ads}",
                 f"ActionResult = {1 if self.successes else 0}"]
        lines += [f"result_total_{i} = {n}" for i, n in enumerate(self.totals)]
        lines += ["ActionResultType = 2", f"IsQueueSuperUser = {'true' if self.super_user else 'false'}"]
        return lines


def parse_ids(text: str) -> list[tuple[int, int]]:
    """"1.0,1.2 3" -> [(1, 0), (1, 2), (3, -1)]; nonsense entries are skipped."""
    out = []
    for part in text.replace(",", " ").split():
        c, dot, p = part.partition(".")
        try:
            cid = int(c)
            pid = int(p) if dot else -1
        except ValueError:
            continue
        if 0 < cid <= rules.MAX_ID and -1 <= pid <= rules.MAX_ID:
            out.append((cid, pid))
        if len(out) >= MAX_IDS:
            break
    return out


def plan(queue, policy: rules.QueuePolicy, request, user: str, now: int,
         factories=frozenset()) -> Plan | None:
    """The action's effect, not yet committed; None when the request is refused outright.
    ``factories`` are the clusters with a job factory: hold, release and remove reach
    the factory too when its cluster is named or its cluster ad matches."""
    action = request.get("JobAction")
    if not isinstance(action, int) or action not in (HOLD, RELEASE, REMOVE, REMOVE_X, VACATE,
                                                     VACATE_FAST, SUSPEND, CONTINUE,
                                                     TRANSFER_AND_REMOVE, CLEAR_DIRTY):
        return None
    reason = ""
    attr = REASON_ATTR.get(action)
    if attr:
        r = request.get(attr)
        if isinstance(r, str) and r:
            reason = f"{r} (by user {user.split('@', 1)[0]})"
    subcode = request.get("HoldReasonSubCode")
    subcode = subcode if isinstance(subcode, int) else 0
    constraint = request.lookup("ActionConstraint") if "ActionConstraint" in request else None
    ids_text = request.get("ActionIds")
    if constraint is not None and isinstance(ids_text, str):
        return None
    result = Plan(action, queue.begin(), policy.is_super(user), reason=reason)
    if constraint is not None:
        guard = GUARDS.get(action)
        text = f"{guard}{constraint})" if guard else str(constraint)
        try:
            jobs = select(queue, text)
        except ValueError:
            return None
        clusters = select_clusters(queue, text, factories) if action in FACTORY_ACTIONS else []
    elif isinstance(ids_text, str):
        ids = parse_ids(ids_text)
        jobs = [jp for jp in ids if jp[1] >= 0]
        clusters = [c for c, p in ids if p < 0 and c in factories] if action in FACTORY_ACTIONS else []
    else:
        return None
    txn = result.txn
    for c, p in jobs:
        status = queue.status(c, p)
        if status is None:
            result.record((c, p), AR_NOT_FOUND)
            continue
        if not rules.may_touch(queue, c, user, policy, p):
            result.record((c, p), AR_PERMISSION_DENIED)
            continue
        if action == CONTINUE:
            ok = status == SUSPENDED
        elif action in (SUSPEND, VACATE, VACATE_FAST):
            ok = status in (RUNNING, TRANSFERRING_OUTPUT)
        elif action == RELEASE:
            ok = status == HELD and int_value(queue.job_attr(c, p, "HoldReasonCode")) != rules.HOLD_SPOOLING_INPUT
        elif action in (REMOVE, TRANSFER_AND_REMOVE):
            if status == REMOVED:
                result.record((c, p), AR_ALREADY_DONE)
                continue
            ok = True
        elif action == REMOVE_X:
            on_release = int_value(queue.job_attr(c, p, "JobStatusOnRelease"))
            ok = status == REMOVED or (status == HELD and on_release == REMOVED)
        elif action == HOLD:
            if status == HELD and int_value(queue.job_attr(c, p, "HoldReasonCode")) in (
                    rules.HOLD_USER_REQUEST, rules.HOLD_SPOOLING_INPUT):
                result.record((c, p), AR_ALREADY_DONE)
                continue
            if status in (REMOVED, COMPLETED):
                result.record((c, p), AR_PERMISSION_DENIED)
                continue
            ok = True
        else:
            ok = True
        if not ok:
            result.record((c, p), AR_BAD_STATUS)
            continue
        if action == HOLD:
            rules.hold(txn, c, p, reason, rules.HOLD_USER_REQUEST, subcode, now)
        elif action == RELEASE:
            rules.release(txn, c, p, reason, now)
        elif action in (REMOVE, TRANSFER_AND_REMOVE):
            rules.remove(txn, c, p, reason, now)
        elif action == REMOVE_X:
            txn.set(job_key(c, p), "LeaveJobInQueue", "False")
            rules.remove(txn, c, p, reason, now)
        result.record((c, p), AR_SUCCESS)
    for c in clusters:
        _act_on_factory(result, queue, policy, user, c, reason)
    return result


FACTORY_ACTIONS = (HOLD, RELEASE, REMOVE, REMOVE_X, TRANSFER_AND_REMOVE)


def _act_on_factory(result: Plan, queue, policy, user: str, c: int, reason: str) -> None:
    """Hold pauses a factory (JobMaterializePaused = 1, with the reason), release resumes
    it, remove ends it once its jobs are gone; each counts as one success."""
    owner = unquote(queue.clusters.get(c, {}).get("Owner"))
    if not (policy.is_super(user) or policy.all_users_trusted or owner == user.split("@", 1)[0]):
        result.record((c, -1), AR_PERMISSION_DENIED)
        return
    key = cluster_key(c)
    if result.action == HOLD:
        result.txn.set(key, "JobMaterializePaused", "1")
        result.txn.set(key, "JobMaterializePauseReason", quote(reason))
    elif result.action == RELEASE:
        result.txn.set(key, "JobMaterializePaused", "0")
        if result.txn.lookup(key, "JobMaterializePauseReason") is not None:
            result.txn.delete(key, "JobMaterializePauseReason")
    result.factories.append(c)
    result.totals[AR_SUCCESS] += 1
