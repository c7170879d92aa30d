"""What the schedd allows and adds when job attributes change (``qmgmt.cpp``), sans-IO.

:class:`QueuePolicy` holds the knobs; the functions take a transaction and return an
``(errno, message)`` pair on refusal, None when the change was made.
"""
from __future__ import annotations

import errno as E
import math
import re
from dataclasses import dataclass, field

import classad2

from ..cedar.adlimits import check_expression_line
from . import classad_log as L
from .queue import HELD, IDLE, REMOVED, Transaction, int_value, quote, unquote

_ATTR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*\Z")
# values that need no parse: numbers, booleans, undefined, strings without escapes
_PLAIN_VALUE = re.compile(r'-?\d+(\.\d*)?([eE][-+]?\d+)?|true|false|undefined|"[^"\\\n]*"', re.I)
MAX_VALUE_TEXT = 1 << 20          # a longer value is refused (the log holds one line per value)
MAX_ID = 2**31 - 1
HOLD_USER_REQUEST = 1
HOLD_SUBMITTED_ON_HOLD = 15
HOLD_SPOOLING_INPUT = 16
HOLD_REASON_NAMES = {1: "UserRequest", 3: "JobPolicy", 15: "SubmittedOnHold",
                     16: "SpoolingInput"}


@dataclass
class QueuePolicy:
    uid_domain: str = ""
    schedd_name: str = ""
    version: str = ""
    super_users: frozenset = frozenset()
    immutable: frozenset = frozenset()
    protected: frozenset = frozenset()
    secure: frozenset = frozenset()
    rounding: dict = field(default_factory=dict)      # attr -> "25%" or "4"
    allow_root_owner: bool = False
    all_users_trusted: bool = False
    global_id_with_time: bool = True
    max_jobs_submitted: int = 2147483647
    max_jobs_per_owner: int = 100000
    max_jobs_per_submission: int = 20000
    spool: str = ""                                   # where factories' digests are kept
    allow_late_materialize: bool = True
    max_materialized_per_cluster: int = 2147483647

    @classmethod
    def from_config(cls, config, *, schedd_name: str, version: str, allow_root: bool) -> "QueuePolicy":
        def names(*knobs) -> frozenset:
            out: set = set()
            for k in knobs:
                out.update(config.get_list(k))
            return frozenset(out)
        rounding = {}
        for attr in ("ImageSize", "DiskUsage", "ExecutableSize", "NumCkpts", "ResidentSetSize",
                     "ProportionalSetSizeKb", "MemoryUsage"):
            v = config.get(f"SCHEDD_ROUND_ATTR_{attr}")
            if v and v.strip() not in ("", "0"):
                rounding[attr] = v.strip()
        return cls(uid_domain=config.get("UID_DOMAIN") or "", schedd_name=schedd_name,
                   version=version,
                   super_users=frozenset(s.strip() for s in config.get_list("QUEUE_SUPER_USERS")),
                   immutable=names("IMMUTABLE_JOB_ATTRS", "SYSTEM_IMMUTABLE_JOB_ATTRS"),
                   protected=names("PROTECTED_JOB_ATTRS", "SYSTEM_PROTECTED_JOB_ATTRS"),
                   secure=names("SECURE_JOB_ATTRS", "SYSTEM_SECURE_JOB_ATTRS"),
                   rounding=rounding, allow_root_owner=allow_root,
                   all_users_trusted=config.get_bool("QUEUE_ALL_USERS_TRUSTED", False),
                   global_id_with_time=config.get_bool("GLOBAL_JOB_ID_WITH_TIME", True),
                   max_jobs_submitted=config.get_int("MAX_JOBS_SUBMITTED", 2147483647),
                   max_jobs_per_owner=config.get_int("MAX_JOBS_PER_OWNER", 100000),
                   max_jobs_per_submission=config.get_int("MAX_JOBS_PER_SUBMISSION", 20000),
                   spool=config.get("SPOOL") or ".",
                   allow_late_materialize=config.get_bool("SCHEDD_ALLOW_LATE_MATERIALIZE", True),
                   max_materialized_per_cluster=config.get_int("MAX_MATERIALIZED_JOBS_PER_CLUSTER",
                                                               2147483647))

    def is_super(self, user: str) -> bool:
        """QUEUE_SUPER_USERS lists bare names or user@domain."""
        name = user.split("@", 1)[0]
        return user in self.super_users or name in self.super_users or \
            user.startswith("condor@") and user.split("@", 1)[1] in ("family", "parent", "child")


def may_touch(txn_or_queue, cluster: int, owner: str, policy: QueuePolicy, proc: int = -1) -> bool:
    """UserCheck: a job may be changed by its owner and by queue super users."""
    if policy.is_super(owner) or policy.all_users_trusted:
        return True
    lookup = txn_or_queue.job_lookup if isinstance(txn_or_queue, Transaction) else None
    job_owner = lookup(cluster, proc, "Owner") if lookup else txn_or_queue.job_attr(cluster, proc, "Owner")
    return unquote(job_owner) == owner.split("@", 1)[0]


def valid_value(name: str, value: str) -> bool:
    """Whether ``value`` is one ClassAd expression (bounded before the parser sees it)."""
    if _PLAIN_VALUE.fullmatch(value):
        return True
    line = f"{name} = {value}"
    try:
        check_expression_line(line)
        ad = classad2.parseNext(line, parser=classad2.ParserType.Old)
    except Exception:
        return False
    return ad is not None and len(ad) == 1


def round_value(value: str, rule: str) -> str | None:
    """SCHEDD_ROUND_ATTR_<attr>: ``N%`` of the value's order of magnitude, or a power of
    ten; always up.  None when the value is not a plain number."""
    try:
        is_int = re.fullmatch(r"-?\d+", value) is not None
        f = float(value)
    except ValueError:
        return None
    if not is_int and not re.fullmatch(r"-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", value):
        return None
    if rule.endswith("%"):
        try:
            pct = float(rule[:-1])
        except ValueError:
            return None
        if abs(f) < 1e-6 or pct < 1e-6:
            return value
        magnitude = int(math.log(abs(f / 5)) / math.log(10) + 1)
        to = (10 ** magnitude) * pct / 100.0
        f = math.ceil(f / to) * to
        return str(int(f)) if is_int else f"{f:.6f}"
    try:
        exp = max(0, min(9, int(rule)))
    except ValueError:
        return None
    base = 10 ** exp
    iv = int(f)
    iv = ((iv + base - 1) // base) * base
    return str(iv) if is_int else f"{iv}.0"


def set_attribute(txn: Transaction, session, cluster: int, proc: int, name: str, value: str
                  ) -> tuple[int, str] | None:
    """SetAttribute from a client (``ModifyAttrCheck`` + ``SetAttribute``)."""
    policy: QueuePolicy = session.policy
    if not session.authenticated:
        return E.EACCES, "Authentication is required to set attributes"
    if cluster == 0:
        return E.EACCES, f"Attempt to edit special ad {cluster}.{proc}"
    if not _ATTR_NAME.match(name):
        return E.EINVAL, f"Got invalid attribute named {name} for job {cluster}.{proc}"
    if not value or "\n" in value or "\r" in value or len(value) > MAX_VALUE_TEXT \
            or not valid_value(name, value):
        return E.EINVAL, (f"Received invalid attribute value '{value[:200]}' for job "
                          f"{cluster}.{proc}; ignoring")
    if name in policy.secure:
        return E.EACCES, f"Attempt to edit secure attribute {name} in job {cluster}.{proc}. Failing!"
    key = L.job_key(cluster, proc)
    committed = key in txn.queue.ads and key not in txn.new_ads
    if committed:
        if not may_touch(txn, cluster, session.user, policy, proc):
            return E.EACCES, (f"User {session.user} may not change attributes for jobs they "
                              f"do not own (job {cluster}.{proc})")
        if name in policy.immutable:
            return E.EACCES, f"Attempt to edit immutable attribute {name} in job {cluster}.{proc}"
        if name in policy.protected and not (policy.is_super(session.user) or policy.all_users_trusted):
            owner = session.user.split("@", 1)[0]
            return E.EACCES, (f"Unauthorized setting of protected attribute {name} denied for real "
                              f"owner {owner} (effective owner {owner}; allowed protected attribute "
                              f"change = true) in job {cluster}.{proc}")
    elif session.active_cluster > 0 and key in txn.new_ads:
        if cluster != session.active_cluster or proc >= session.next_proc or proc < -1:
            return E.ENOENT, (f"Modifying attribute {name} in non-active cluster {cluster} "
                              f"(current active cluster is {session.active_cluster})")
    else:
        return E.ENOENT, f"Modifying attribute {name} in nonexistent job {cluster}.{proc}"

    if name == "Owner":
        if proc == 0:
            return set_attribute(txn, session, cluster, -1, name, value)
        if proc > 0:
            return None
        sock_owner = session.user.split("@", 1)[0] if session.authenticated else ""
        if value.lower() == "undefined":
            if not sock_owner:
                return E.EACCES, "Client is not authenticated and owner is undefined"
            value = quote(sock_owner)
        owner = unquote(value)
        if owner is None:
            return E.EACCES, f"Unable to set owner to {value} as it is not a valid owner string"
        if owner in ("root", "LOCAL_SYSTEM") and not (owner == "root" and policy.allow_root_owner):
            return E.EACCES, f"Setting job owner to {value} is not permitted"
        orig = unquote(txn.lookup(key, "Owner"))
        if orig is not None and orig != owner and not policy.all_users_trusted:
            return E.EACCES, f"Setting owner to {value} when previously set to {orig} is not permitted."
        if owner != sock_owner and not policy.all_users_trusted and not policy.is_super(session.user):
            return E.EACCES, (f"Setting owner to {owner} when active owner is {sock_owner} "
                              f"is not permitted")
        txn.set(key, "User", quote(f"{owner}@{policy.uid_domain}"))
        txn.set(key, "Owner", value)
        return None
    if name == "User":
        if proc == 0:
            return set_attribute(txn, session, cluster, -1, name, value)
        if proc > 0:
            return None
        if value.lower() == "undefined":
            if not session.authenticated:
                return E.EACCES, "Client is not authenticated and owner is undefined"
            value = quote(session.user)
        user = unquote(value)
        if user is None:
            return E.EACCES, f"Setting User to {value}, which is not a valid string"
        orig = unquote(txn.lookup(key, "User"))
        if orig is not None and orig != user and not policy.all_users_trusted:
            return E.EACCES, f'Setting User to "{user}" when previously set to "{orig}"'
        txn.set(key, name, value)
        return None

    rule = policy.rounding.get(name)
    if rule:
        rounded = round_value(value, rule)
        if rounded is not None:
            txn.set(key, name + "_RAW", value)
            value = rounded
    if name == "JobStatus" and committed:
        set_status(txn, cluster, proc, int_value(value, 0), value_text=value)
        return None
    txn.set(key, name, value)
    return None


def set_status(txn: Transaction, cluster: int, proc: int, status: int, *, value_text: str | None = None
               ) -> None:
    """JobStatus changes carry LastJobStatus (and hold counters) along, as the schedd's own
    SetAttribute does."""
    key = L.job_key(cluster, proc)
    old = int_value(txn.job_lookup(cluster, proc, "JobStatus"))
    if old is not None and old != status:
        txn.set(key, "LastJobStatus", str(old))
    txn.set(key, "JobStatus", value_text or str(status))


def hold(txn: Transaction, c: int, p: int, reason: str, code: int, subcode: int, now: int) -> None:
    """holdJobRaw: reason, codes, NumHolds, status, times; ReleaseReason moves aside."""
    key = L.job_key(c, p)
    txn.set(key, "HoldReason", quote(reason))
    n = int_value(txn.job_lookup(c, p, "NumHolds"), 0) + 1
    txn.set(key, "NumHolds", str(n))
    by = HOLD_REASON_NAMES.get(code, f"Code{code}")
    counts = reason_counts(txn.job_lookup(c, p, "NumHoldsByReason"))
    counts[by] = counts.get(by, 0) + 1
    txn.set(key, "NumHoldsByReason", "[ " + "; ".join(f"{k} = {v}" for k, v in counts.items()) + " ]")
    txn.set(key, "HoldReasonCode", str(code))
    txn.set(key, "HoldReasonSubCode", str(subcode))
    set_status(txn, c, p, HELD)
    _move(txn, c, p, "ReleaseReason", "LastReleaseReason")
    txn.set(key, "EnteredCurrentStatus", str(now))
    txn.set(key, "LastSuspensionTime", "0")


def reason_counts(text: str | None) -> dict:
    """A ``[ Reason = N; ... ]`` counter attribute (NumHoldsByReason and the like) as a dict."""
    out: dict = {}
    if text and text.startswith("["):
        for part in text.strip("[] ").split(";"):
            k, eq, v = part.partition("=")
            if eq and int_value(v.strip()) is not None:
                out[k.strip()] = int_value(v.strip())
    return out


def _move(txn: Transaction, c: int, p: int, old: str, new: str) -> None:
    v = txn.job_lookup(c, p, old)
    if v is None:
        return
    key = L.job_key(c, p)
    txn.set(key, new, v)
    txn.delete(key, old)


def release(txn: Transaction, c: int, p: int, reason: str, now: int) -> None:
    key = L.job_key(c, p)
    status = int_value(txn.job_lookup(c, p, "JobStatusOnRelease"), IDLE)
    set_status(txn, c, p, status)
    if reason:
        txn.set(key, "ReleaseReason", quote(reason))
    txn.set(key, "EnteredCurrentStatus", str(now))
    _hold_aside(txn, c, p)


def _hold_aside(txn: Transaction, c: int, p: int) -> None:
    """fixReasonAttrs for a job that leaves hold: its hold reasons become the Last ones."""
    _move(txn, c, p, "HoldReason", "LastHoldReason")
    _move(txn, c, p, "HoldReasonCode", "LastHoldReasonCode")
    _move(txn, c, p, "HoldReasonSubCode", "LastHoldReasonSubCode")
    txn.delete(L.job_key(c, p), "JobStatusOnRelease")


def remove(txn: Transaction, c: int, p: int, reason: str, now: int) -> None:
    key = L.job_key(c, p)
    set_status(txn, c, p, REMOVED)
    if reason:
        txn.set(key, "RemoveReason", quote(reason))
    txn.set(key, "EnteredCurrentStatus", str(now))
    _hold_aside(txn, c, p)


def finish_factory_submit(txn: Transaction, session, cluster: int) -> None:
    """What the schedd adds when a factory cluster's submit commits: its own
    CondorVersion; TotalSubmitProcs comes with the first job it materializes."""
    ckey = L.cluster_key(cluster)
    txn.set(ckey, "CondorVersion", quote(session.policy.version))
    txn.delete(ckey, "JobPreparingTasks")


def finish_submit(txn: Transaction, session, clusters: dict[int, int]) -> None:
    """What the schedd adds when a submit commits: TotalSubmitProcs, its own
    CondorVersion, and JobStatus settled per proc."""
    for cluster, nprocs in clusters.items():
        ckey = L.cluster_key(cluster)
        txn.set(ckey, "TotalSubmitProcs", str(nprocs))
        txn.set(ckey, "CondorVersion", quote(session.policy.version))
        txn.delete(ckey, "JobPreparingTasks")
        for p in range(nprocs):
            jkey = L.job_key(cluster, p)
            if jkey not in txn.new_ads:
                continue
            txn.delete(jkey, "JobPreparingTasks")
            st = txn.job_lookup(cluster, p, "JobStatus") or str(IDLE)
            txn.set(jkey, "JobStatus", st)
