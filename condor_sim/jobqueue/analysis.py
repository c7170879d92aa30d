"""What a schedd knows of its autoclusters' matchmaking, for ``condor_q -better-analyze``.

A job query that asks ``ForAnalysis = true`` gets, in its summary ad, an ``Analyze`` ad
with one record per autocluster of the jobs it returned (``ac<N> = [...]``): the newest
failed match of the autocluster's jobs (time, reason, negotiator), the newest successful
match, and how many of its jobs run, are done and wait.  When the job itself carries a
rejection, its own values are the record, as the real schedd's ``analyze_job`` does.

Pure functions of job ads (anything with ``get``); the schedd and the tools share them.
"""
from __future__ import annotations

from typing import Iterable, Mapping

from .queue import quote, unquote

# The attributes whose values put two jobs in the same autocluster, in the order the real
# schedd lists them in AutoClusterAttrs (its default significant attributes).
SIGNIFICANT_ATTRIBUTES = ("CatalogID", "catalogs", "CatalogSize", "RequestCpus", "RequestDisk",
                          "RequestedCatalogIDs", "RequestedCatalogs", "RequestGPUs",
                          "RequestMemory", "ConcurrencyLimits", "FlockTo", "Rank",
                          "Requirements", "FileSystemDomain", "TransferInputSizeMB")
AUTO_CLUSTER_ATTRS = ",".join(SIGNIFICANT_ATTRIBUTES)
SIGNIFICANT = frozenset(a.lower() for a in SIGNIFICANT_ATTRIBUTES)


def touches_autocluster(names) -> bool:
    """Whether a change of these attributes can move a job to another autocluster."""
    return any(n.lower() in SIGNIFICANT for n in names)

REJ_TIME, REJ_REASON, REJ_NEGOTIATOR = "LastRejMatchTime", "LastRejMatchReason", "LastRejMatchNegotiator"
MATCH_TIME = "LastMatchTime"
RUNNING, COMPLETED, IDLE = 2, 4, 1
# what a query for a record needs of each job
RECORD_ATTRIBUTES = (REJ_TIME, REJ_REASON, REJ_NEGOTIATOR, MATCH_TIME, "JobStatus", "AutoClusterId")


def autocluster_key(job: Mapping) -> str:
    """The text of the significant attributes: equal for jobs of one autocluster."""
    return "\n".join(str(job.get(a)) for a in SIGNIFICANT_ATTRIBUTES)


def _int(v) -> int | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    try:
        return int(str(v))
    except (TypeError, ValueError):
        return None


def _str(v) -> str | None:
    """A string value: from a job's ClassAd text (quoted) or from a parsed ad."""
    if not isinstance(v, str):
        return None
    return unquote(v) if v.startswith('"') else v


def autocluster_record(acid: int, job: Mapping, members: Iterable[Mapping]) -> dict:
    """The record of autocluster ``acid`` for ``job`` (one of its ``members``): values are
    Python values (ints and strings)."""
    record: dict = {"AutoClusterId": acid}
    reason = _str(job.get(REJ_REASON))
    if reason is not None:
        record[REJ_REASON] = reason
        negotiator = _str(job.get(REJ_NEGOTIATOR))
        if negotiator is not None:
            record[REJ_NEGOTIATOR] = negotiator
        t = _int(job.get(REJ_TIME))
        if t is not None:
            record[REJ_TIME] = t
        return record
    last_match = last_rej = 0
    negotiator = None
    jobs = running = completed = idle = 0
    for other in members:
        jobs += 1
        t = _int(other.get(REJ_TIME))
        if t is not None and t > last_rej:
            last_rej = t
            why = _str(other.get(REJ_REASON))
            if why is not None:
                reason, negotiator = why, _str(other.get(REJ_NEGOTIATOR))
        t = _int(other.get(MATCH_TIME))
        if t is not None and t > last_match:
            last_match = t
        status = _int(other.get("JobStatus"))
        running += status == RUNNING
        completed += status == COMPLETED
        idle += status == IDLE
    if last_match:
        record[MATCH_TIME] = last_match
    if last_rej:
        record[REJ_TIME] = last_rej
    if reason:
        record[REJ_REASON] = reason
    if negotiator:
        record[REJ_NEGOTIATOR] = negotiator
    if running:
        record["NumRunning"] = running
    if completed:
        record["NumCompleted"] = completed
    record["NumIdle"] = idle
    record["NumJobs"] = jobs
    return record


def record_text(record: dict) -> str:
    """A record as a nested ClassAd literal."""
    parts = []
    for k, v in record.items():
        parts.append(f"{k} = {quote(v)}" if isinstance(v, str) else f"{k} = {v}")
    return "[ " + "; ".join(parts) + " ]"


def analyze_line(records: Iterable[dict]) -> str | None:
    """The summary ad's ``Analyze`` line for these records (None when there are none)."""
    inner = [f"ac{r['AutoClusterId']} = {record_text(r)}" for r in records]
    return f"Analyze = [ {'; '.join(inner)} ]" if inner else None
