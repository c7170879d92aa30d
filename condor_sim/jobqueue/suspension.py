"""A running job suspended and continued, sans-IO: the job-ad changes the shadow sends when
the starter reports the job stopped or running again, and the schedd's status bookkeeping
that goes with them.

The real shadow (``RemoteResource::recordSuspendEvent`` / ``recordResumeEvent``) counts
the suspension (``TotalSuspensions``), stamps ``LastSuspensionTime`` and sets
``JobStatus`` 7; on continuing it adds the time spent stopped to
``CumulativeSuspensionTime`` and ``UncommittedSuspensionTime``, sets
``LastSuspensionTime`` back to 0 and ``JobStatus`` 2.  The schedd, seeing ``JobStatus``
change, records ``LastJobStatus`` and ``EnteredCurrentStatus``.  When the run ends the
uncommitted time moves to ``CommittedSuspensionTime`` (``CommitSuspensionTime``).

Jobs are name -> old-syntax expression text, as :mod:`.lifecycle` takes them; results are
ordered name -> new text.
"""
from __future__ import annotations

from typing import Dict, Mapping, Optional

from .queue import RUNNING, SUSPENDED, int_value

Updates = Dict[str, Optional[str]]
Job = Mapping[str, str]


def _int(job: Job, name: str) -> int:
    return int_value(job.get(name), 0) or 0


def _status(job: Job, status: int, now: int) -> Updates:
    out: Updates = {}
    old = _int(job, "JobStatus")
    if old != status:
        out["LastJobStatus"] = str(old)
    out["JobStatus"] = str(status)
    out["EnteredCurrentStatus"] = str(now)
    return out


def on_suspended(job: Job, now: int) -> Updates:
    """The starter stopped the job's processes."""
    out: Updates = {"TotalSuspensions": str(_int(job, "TotalSuspensions") + 1),
                    "LastSuspensionTime": str(now)}
    out.update(_status(job, SUSPENDED, now))
    return out


def on_continued(job: Job, now: int) -> Updates:
    """The starter let the job's processes run again."""
    out: Updates = {}
    cumulative = _int(job, "CumulativeSuspensionTime")
    last = _int(job, "LastSuspensionTime")
    if last > 0:
        stopped = max(0, now - last)
        cumulative += stopped
        out["UncommittedSuspensionTime"] = str(_int(job, "UncommittedSuspensionTime") + stopped)
    out["CumulativeSuspensionTime"] = str(cumulative)
    out["LastSuspensionTime"] = "0"
    out.update(_status(job, RUNNING, now))
    return out


def commit(job: Job) -> Updates:
    """The run is over: the suspended time of the runs so far counts as committed."""
    uncommitted = _int(job, "UncommittedSuspensionTime")
    if uncommitted <= 0:
        return {}
    return {"CommittedSuspensionTime": str(_int(job, "CommittedSuspensionTime") + uncommitted),
            "UncommittedSuspensionTime": "0"}


def is_suspended(job: Job) -> bool:
    return _int(job, "JobStatus") == SUSPENDED
