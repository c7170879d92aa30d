"""Late materialization ("job factories"), sans-IO: a cluster whose jobs the schedd makes
a few at a time instead of all at submit.

A submit description with ``max_materialize`` or ``max_idle`` makes the client send, in
its submit transaction, a new cluster with no procs: the cluster ad, the submit digest
(SetJobFactory: the description with its macros, and a ``Queue`` statement) and perhaps
the item rows (SendMaterializeData).  The schedd keeps both in SPOOL and then
materializes job after job while the cluster is under its limits.  The facts, from
``qmgmt.cpp`` and ``qmgmt_factory.cpp``:

* SetJobFactory sets ``JobMaterializeLimit`` (the client's ``max_materialize``, or the
  number of jobs) and ``JobMaterializeNextProcId = 0``; the digest is written to
  ``SPOOL/<cluster % 10000>/condor_submit.<cluster>.digest`` (``JobMaterializeDigestFile``),
  the rows to ``...items`` (``JobMaterializeItemsFile``), whose name and row count are the
  reply to SendMaterializeData.
* A job is materialized while the cluster holds fewer jobs than the limit (and than
  MAX_MATERIALIZED_JOBS_PER_CLUSTER and MAX_JOBS_PER_SUBMISSION), and, if the cluster
  has ``JobMaterializeMaxIdle``, while its idle and held jobs are fewer than that.
* Each new job gets ``ProcId``, its own attributes (those that differ from the cluster
  ad), ``JobMaterializeDate``; the cluster's ``JobMaterializeNextProcId`` goes up by one,
  ``JobMaterializeNextRow`` moves on after the last job of a row (to -1 after the last
  row), and the first job sets the cluster's ``TotalSubmitProcs``.
* ``JobMaterializePaused`` (1 after condor_hold of the cluster, 0 after condor_release)
  stops and restarts a factory; condor_rm of the cluster ends it.
* When the factory is done (or removed) and its last job has left the queue, the
  cluster ad goes, with its spool files, and the user log gets a "Cluster removed" event.

The schedd cannot build job ads from a digest without HTCondor's submit language, so the
digest's jobs are made by the real client code (see ``daemons/schedd/materializing``):
this module gets them as each job's own attributes and decides when each is queued.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass

from . import rules
from .classad_log import cluster_key, job_key
from .queue import HELD, IDLE, Transaction, int_value, quote, unquote

# JobMaterializePaused values (MaterializeMode)
MM_INVALID, MM_RUNNING, MM_HOLD, MM_NO_MORE_ITEMS, MM_CLUSTER_REMOVED = -1, 0, 1, 2, 3
# the completion word of the "Cluster removed" event, per mode
COMPLETION = {MM_INVALID: "Error", MM_RUNNING: "Incomplete", MM_HOLD: "Paused",
              MM_NO_MORE_ITEMS: "Complete", MM_CLUSTER_REMOVED: "Incomplete"}

# attributes a materialized job never takes from the digest's jobs: the schedd sets them,
# or they are the owner's and come from the cluster ad
NOT_FROM_DIGEST = frozenset({"ClusterId", "ProcId", "GlobalJobId", "Owner", "User", "OsUser",
                             "JobMaterializeDate", "QDate"})
_QUEUE_LINE = re.compile(r"^\s*queue\b", re.I)


# the submit commands that limit materialization (any of them makes the client send a
# factory), and with them those a factory's digest may hold
LIMIT_COMMANDS = ("max_materialize", "materialize_max", "max_idle", "materialize_max_idle")
FACTORY_COMMANDS = LIMIT_COMMANDS + ("materialize_constraint",)


def empty_commands(sub, names, prefix: str | None = None) -> None:
    """Empty the commands of a submit description (an ``htcondor2.Submit``, whose keys
    cannot be removed; an empty command has no effect) whose names, without case, are in
    ``names`` or start with ``prefix``."""
    for key in list(sub.keys()):
        low = key.lower()
        if low in names or (prefix is not None and low.startswith(prefix)):
            sub[key] = ""


def digest_path(spool: str, cluster: int) -> str:
    """Where the schedd keeps a factory's submit digest (GetSpooledSubmitDigestPath)."""
    return os.path.join(spool, str(cluster % 10000), f"condor_submit.{cluster}.digest")


def items_path(spool: str, cluster: int) -> str:
    """Where it keeps the factory's item rows (GetSpooledMaterializeDataPath)."""
    return os.path.join(spool, str(cluster % 10000), f"condor_submit.{cluster}.items")


def count_rows(data: bytes) -> int:
    """The rows in item data: its lines, the last one counted even without a newline."""
    if not data:
        return 0
    return data.count(b"\n") + (0 if data.endswith(b"\n") else 1)


_QUEUE_COUNT = re.compile(r"^\s*queue\s+(\d+)?", re.I)


def expected_total(text: str, rows: int | None) -> int | None:
    """The jobs a client's digest makes: its Queue statement's count, times the item rows
    when it reads rows from a file; None when that cannot be told from the statement."""
    queue = next((line for line in text.splitlines() if _QUEUE_LINE.match(line)), None)
    if queue is None or "(" in queue:
        return None
    m = _QUEUE_COUNT.match(queue)
    count = int(m.group(1)) if m and m.group(1) else 1
    if _FROM.search(queue):
        return None if rows is None else count * rows
    return count


_INCLUDE_LINE = re.compile(r"^\s*include(\s+\w+)*\s*:", re.I)
_FROM = re.compile(r"\bfrom\s+(?:\[[^\]]*\]\s*)?(.*?)\s*$", re.I)
_MATCHING = re.compile(r"\bmatching\b", re.I)


def digest_problem(text: str, items_file: str) -> str | None:
    """Why the schedd must not take this digest, or None.  A digest is read by the schedd
    (as the real one does, with ``include`` turned off), so it may not include files or
    run commands, and its Queue statement may read rows only from the file the schedd
    spooled them to (``"File must be in Spool"``); ``matching`` is not a mode a factory
    has.  The client's own digests never do these things: a peer that sends one is
    refused before anything reads it."""
    lines = text.splitlines()
    for line in lines:
        if _INCLUDE_LINE.match(line):
            return "include statement is not allowed in this context"
    queue = next((line for line in lines if _QUEUE_LINE.match(line)), None)
    if queue is None:
        return "the submit digest has no Queue statement"
    if _MATCHING.search(queue):
        return "foreach mode matching is not supported by schedd job factory"
    m = _FROM.search(queue)
    target = m.group(1) if m else ""
    if target and not target.startswith("(") and target != items_file:   # "from (" is inline
        return f"invalid filename '{target}' for foreach from. File must be in Spool."
    return None


@dataclass
class Pending:
    """What a submit transaction sent for one factory cluster, before it commits."""
    limit: int = 0
    digest: str = ""
    items: bytes | None = None


@dataclass
class Factory:
    """A factory cluster's state beyond its ad: the jobs its digest makes (each one's own
    attributes, by proc id; None until they are known), their rows, and its mode."""
    cluster: int
    jobs: list[list[tuple[str, str]]] | None = None
    rows: int = 0                       # item rows (0: a plain "Queue N")
    mode: int = MM_RUNNING
    removed_event_written: bool = False
    expected: int | None = None         # the jobs its Queue statement makes, when known
    complete: bool = True               # False while its jobs are still being learned

    @property
    def total(self) -> int:
        """The jobs it makes: as its Queue statement says, or as learned so far."""
        if self.expected is not None and not (self.complete and self.jobs is not None):
            return self.expected
        return len(self.jobs) if self.jobs is not None else 0

    def step_size(self) -> int:
        return max(1, self.total // self.rows) if self.rows else max(1, self.total)


def _int(ad, name: str, default: int) -> int:
    v = int_value(ad.get(name)) if ad is not None else None
    return default if v is None else v


def next_proc(cluster_ad) -> int:
    return _int(cluster_ad, "JobMaterializeNextProcId", 0)


def is_paused(cluster_ad) -> bool:
    return _int(cluster_ad, "JobMaterializePaused", MM_RUNNING) != MM_RUNNING


def room(cluster_ad, statuses: list[int], policy: rules.QueuePolicy) -> int:
    """How many more jobs the cluster may hold now: under its limit (and the schedd's),
    and under ``JobMaterializeMaxIdle`` counting its idle and held jobs; 0 when paused.
    ``statuses`` are the JobStatus of the cluster's jobs in the queue."""
    if is_paused(cluster_ad):
        return 0
    limit = _int(cluster_ad, "JobMaterializeLimit", 0)
    if limit <= 0:
        limit = 2**31 - 1
    limit = min(limit, policy.max_materialized_per_cluster, policy.max_jobs_per_submission)
    free = limit - len(statuses)
    max_idle = _int(cluster_ad, "JobMaterializeMaxIdle", -1)
    if max_idle >= 0:
        not_running = sum(1 for s in statuses if s in (IDLE, HELD))
        free = min(free, max_idle - not_running)
    return max(0, free)


def how_many(cluster_ad, statuses: list[int], total: int, policy: rules.QueuePolicy) -> int:
    """How many jobs the factory may materialize now, of the ``total`` its digest makes."""
    return max(0, min(total - next_proc(cluster_ad), room(cluster_ad, statuses, policy)))


def runs_dry(cluster_ad, statuses: list[int], total: int, policy: rules.QueuePolicy) -> bool:
    """Whether the schedd, materializing now, would try one job past the last and so
    find the factory done (``mmNoMoreItems``): only when the cluster has room for it."""
    return room(cluster_ad, statuses, policy) > total - next_proc(cluster_ad)


def materialize(txn: Transaction, factory: Factory, policy: rules.QueuePolicy, now: int) -> int:
    """Queue the factory's next job in ``txn``; its proc id."""
    c = factory.cluster
    key_c = cluster_key(c)
    p = int_value(txn.lookup(key_c, "JobMaterializeNextProcId"), 0)
    key = job_key(c, p)
    txn.new_ad(key)
    txn.set(key, "ProcId", str(p))
    gid = f"{policy.schedd_name}#{c}.{p}"
    if policy.global_id_with_time:
        gid += f"#{now}"
    txn.set(key, "GlobalJobId", quote(gid))
    skip = NOT_FROM_DIGEST | policy.secure | policy.protected
    edited = edited_names(txn.queue.clusters.get(c))   # qedited in the cluster: its value wins
    for name, value in factory.jobs[p]:
        if name in skip or name.lower() in edited or "\n" in value or not rules.valid_value(name, value):
            continue
        txn.set(key, name, value)
    txn.set(key, "JobMaterializeDate", str(now))
    if txn.job_lookup(c, p, "JobStatus") is None:
        txn.set(key, "JobStatus", str(IDLE))
    txn.set(key_c, "JobMaterializeNextProcId", str(p + 1))
    if factory.rows and (p + 1) % factory.step_size() == 0:
        row = (p + 1) // factory.step_size()
        txn.set(key_c, "JobMaterializeNextRow", str(row if row < factory.rows else -1))
    if p == 0:
        txn.set(key_c, "TotalSubmitProcs", str(factory.total))
    return p


def edited_attrs(current: str | None, changed) -> str | None:
    """The new ``EditedClusterAttrs`` of a factory's cluster whose ad a client edited
    after submit (``AddClusterEditedAttributes``): the names it had and the ones changed
    now, sorted without case and joined by commas; None when nothing is new, or when the
    edit set ``EditedClusterAttrs`` itself (then the user's value stands)."""
    changed = set(changed)
    if any(n.lower() == "editedclusterattrs" for n in changed):
        return None
    names = {n.lower(): n for n in re.split(r"[\s,]+", current or "") if n}
    for n in changed:
        names.setdefault(n.lower(), n)
    joined = ",".join(names[k] for k in sorted(names))
    return None if joined == (current or "") else joined


def edited_names(cluster_ad) -> set[str]:
    """The attributes whose cluster value wins over a newly made job's own (lower case)."""
    text = cluster_ad.get("EditedClusterAttrs") if cluster_ad is not None else None
    value = unquote(text) if text else None
    return {n.lower() for n in re.split(r"[\s,]+", value or "") if n}


def is_done(factory: Factory) -> bool:
    """Nothing more to materialize: the factory found its end, or was removed or broken.
    (Having made its last job is not yet the end: the schedd learns that it is done
    only when it tries for one more, which a held factory or a full cluster does not.)"""
    return factory.mode in (MM_CLUSTER_REMOVED, MM_INVALID, MM_NO_MORE_ITEMS)


def removed_mode(factory: Factory, cluster_ad) -> int:
    """The mode the "Cluster removed" event reports."""
    if factory.mode in (MM_CLUSTER_REMOVED, MM_INVALID):
        return factory.mode
    if factory.jobs is not None and next_proc(cluster_ad) >= factory.total:
        return MM_NO_MORE_ITEMS
    return _int(cluster_ad, "JobMaterializePaused", MM_RUNNING)
