"""The job epoch history (``JOB_EPOCH_HISTORY``, by default ``$(SPOOL)/epoch_history``):
one record per run of a job, which ``condor_history -epochs`` reads.

The real shadow appends a ``SPAWN`` record when it starts (a projection of the job ad:
the job id, owner, shadow birth date and run number) and an ``EPOCH`` record, the whole
job ad, when the run ends (the job exits, is evicted or is held).  Each record is the ad's
lines sorted by name (byte order), then ``EpochWriteDate`` and a banner::

    *** EPOCH ClusterId=2 ProcId=0 RunInstanceId=0 Owner="htcpool" CurrentTime=1795473578

The run number (``RunInstanceId``) is ``NumShadowStarts`` less one; a job without it has
no record.  Pure functions of the job's attribute texts; the schedd appends the text.
"""
from __future__ import annotations

from typing import Iterable

from ..cedar.classad_wire import is_private
from .queue import int_value, quote, unquote

SPAWN, EPOCH = "SPAWN", "EPOCH"
# what a SPAWN record keeps of the job ad (SPAWN_JOB_ATTRS adds to it)
SPAWN_ATTRIBUTES = ("ClusterId", "ProcId", "NumShadowStarts", "Owner", "ShadowBday",
                    "RunInstanceID", "EpochAdType")


# What reaches the schedd's copy of the job ad only with the shadow's last update, after
# the shadow has written the EPOCH record (the starter's I/O and lifetime statistics, and
# the raw resident set size, which the schedd rounds); names compared without case.
AFTER_EPOCH = frozenset(n.lower() for n in (
    "BlockReadKbytes", "BlockReads", "BlockWriteKbytes", "BlockWrites", "RecentBlockReadKbytes",
    "RecentBlockReads", "RecentBlockWriteKbytes", "RecentBlockWrites", "StatsLifetimeStarter",
    "RecentStatsLifetimeStarter", "ResidentSetSize_RAW"))


def shadow_copy(job: dict[str, str], *, shadow_sinful: str, uid_domain: str, version: str) -> dict[str, str]:
    """The job ad as the shadow holds it at the end of a run: what the schedd's copy has,
    but for :data:`AFTER_EPOCH`, and the shadow's own attributes, which never reach the
    schedd (its address, version and the job's user and domain as it runs them)."""
    out = {k: v for k, v in job.items() if k.lower() not in AFTER_EPOCH}
    addr = quote(shadow_sinful)
    owner = unquote(job.get("Owner")) or ""
    out.update({"MyAddress": addr, "ShadowIpAddr": addr, "TransferSocket": addr,
                "ShadowVersion": quote(version), "UidDomain": quote(uid_domain),
                "OsUser": quote(owner), "ProvisionedResources": quote("Cpus Memory Disk Swap GPUs")})
    return out


def run_instance_id(job: dict[str, str]) -> int | None:
    starts = int_value(job.get("NumShadowStarts"), None)
    return starts - 1 if isinstance(starts, int) and starts > 0 else None


def epoch_record(job: dict[str, str], banner: str, now: int,
                 only: Iterable[str] | None = None) -> str | None:
    """The record of the job's current run under ``banner`` (``SPAWN`` or ``EPOCH``),
    keeping only the attributes named in ``only`` when given; None when the job has no
    run number."""
    run_id = run_instance_id(job)
    cluster, proc = int_value(job.get("ClusterId"), None), int_value(job.get("ProcId"), None)
    if run_id is None or cluster is None or proc is None:
        return None
    keep = {n.lower() for n in only} if only is not None else None
    record = {k: v for k, v in job.items()
              if not is_private(k) and (keep is None or k.lower() in keep)}
    lower = {k.lower() for k in record}
    owner = unquote(job.get("Owner")) or "?"
    for name, value in (("RunInstanceID", str(run_id)), ("EpochAdType", quote(banner)),
                        ("ClusterId", str(cluster)), ("ProcId", str(proc)), ("Owner", quote(owner))):
        if name.lower() not in lower:
            record[name] = value
    lines = [f"{k} = {record[k]}\n" for k in sorted(record)]      # byte order, as the real file
    lines.append(f"EpochWriteDate = {now}\n")
    lines.append(f'*** {banner} ClusterId={cluster} ProcId={proc} RunInstanceId={run_id} '
                 f'Owner="{owner}" CurrentTime={now}\n')
    return "".join(lines)


def spawn_attributes(extra: str | None) -> list[str] | None:
    """What a SPAWN record keeps: the base attributes and ``SPAWN_JOB_ATTRS``; None (the
    whole ad) when that knob is ``all``."""
    words = [w for w in (extra or "").replace(",", " ").split() if w]
    if len(words) == 1 and words[0].lower() == "all":
        return None
    return list(SPAWN_ATTRIBUTES) + words
