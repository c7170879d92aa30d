"""The job epoch history (``JOB_EPOCH_HISTORY``, by default ``$(SPOOL)/epoch_history``):
one record per run of a job, which ``condor_history -epochs`` reads.

The real shadow appends a ``SPAWN`` record when it starts (a projection of the job ad:
the job id, owner, shadow birth date and run number) and an ``EPOCH`` record, the whole
job ad, when the run ends (the job exits, is evicted or is held).  Each record is the ad's
lines sorted by name (byte order), then ``EpochWriteDate`` and a banner::

    *** EPOCH ClusterId=2 ProcId=0 RunInstanceId=0 Owner="htcpool" CurrentTime=1795473578

The run number (``RunInstanceId``) is ``NumShadowStarts`` less one; a job without it has
no record.  Pure functions of the job's attribute texts; the schedd appends the text.

Where the records go (``job_ad_instance_recording.cpp``): ``JOB_EPOCH_HISTORY``, rotated as
the history file is (:func:`..history.maybe_rotate`) when a record would take it over
``MAX_EPOCH_HISTORY_LOG`` (20 MiB), keeping ``MAX_EPOCH_HISTORY_ROTATIONS`` (2, at least 1)
backups; and, when ``JOB_EPOCH_HISTORY_DIR`` names a directory, ``job.runs.<c>.<p>.ads`` in
it, one file per job, rotated at a fixed 100 MB with the rotation struct's default of 2
backups.  :func:`destinations` decides, :func:`append_record` writes.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterable

from ..cedar.classad_wire import is_private
from .history import maybe_rotate
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


# ------------------------------------------------------------------ where records go
DEFAULT_MAX_EPOCH_HISTORY_LOG = 20 * 1024 * 1024
DEFAULT_MAX_EPOCH_HISTORY_ROTATIONS = 2
PER_JOB_MAX_SIZE = 100 * 1024 * 1024      # fixed in the real code, no knob
PER_JOB_ROTATIONS = 2                     # HistoryFileRotationInfo's default, left as it is
PER_JOB_FILE = "job.runs.{cluster}.{proc}.ads"
INVALID_DIR = ("Invalid JOB_EPOCH_HISTORY_DIR ({dir}): must point to a valid directory; "
               "disabling per-job run instance recording.")


@dataclass(frozen=True)
class Destination:
    """One file a record is appended to, and when that file is rotated."""
    path: str
    max_size: int
    max_rotations: int


def per_job_file(directory: str, cluster: int, proc: int) -> str:
    """The job's own file in ``JOB_EPOCH_HISTORY_DIR``."""
    return os.path.join(directory, PER_JOB_FILE.format(cluster=cluster, proc=proc))


def destinations(history: str | None, directory: str | None, directory_ok: bool,
                 cluster: int, proc: int, max_log: int = DEFAULT_MAX_EPOCH_HISTORY_LOG,
                 max_rotations: int = DEFAULT_MAX_EPOCH_HISTORY_ROTATIONS) -> list[Destination]:
    """Where a record of job ``cluster.proc`` goes: the aggregate file when
    ``JOB_EPOCH_HISTORY`` is set, then the job's file when ``JOB_EPOCH_HISTORY_DIR`` is set
    and (``directory_ok``) is a directory."""
    out = []
    if history:
        out.append(Destination(history, max_log, max(1, max_rotations)))
    if directory and directory_ok:
        out.append(Destination(per_job_file(directory, cluster, proc), PER_JOB_MAX_SIZE,
                               PER_JOB_ROTATIONS))
    return out


def append_record(dest: Destination, data: bytes, now: float) -> None:
    """The file layer: rotate ``dest`` if the record would take it over its limit, then
    append the record; an OSError of the open or the write is the caller's to log."""
    maybe_rotate(dest.path, len(data), dest.max_size, dest.max_rotations, now)
    fd = os.open(dest.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)
