"""A running job suspended and continued, sans-IO: the job-ad changes the shadow sends when
the starter reports the job stopped or running again, and the schedd's status bookkeeping
that goes with them.

The real shadow (``RemoteResource::recordSuspendEvent`` / ``recordResumeEvent``) counts
the suspension (``TotalSuspensions``), stamps ``LastSuspensionTime`` and sets
``JobStatus`` 7; on continuing it adds the time spent stopped to
``CumulativeSuspensionTime``, sets ``LastSuspensionTime`` back to 0 and ``JobStatus`` 2.
The schedd, seeing ``JobStatus`` change, records ``LastJobStatus``; a real 25.14 schedd
leaves ``EnteredCurrentStatus`` at the start of the run.  The shadow also counts the
time in its own copy of the ad (``UncommittedSuspensionTime``, which the schedd never
sees) and, when the run ends, adds it to ``CommittedSuspensionTime``
(``CommitSuspensionTime``).

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


def _status(job: Job, status: int) -> Updates:
    out: Updates = {}
    old = _int(job, "JobStatus")
    if old != status:
        out["LastJobStatus"] = str(old)
    out["JobStatus"] = str(status)
    return out


def on_suspended(job: Job, now: int) -> Updates:
    """The starter stopped the job's processes."""
    out: Updates = {"TotalSuspensions": str(_int(job, "TotalSuspensions") + 1),
                    "LastSuspensionTime": str(now)}
    out.update(_status(job, SUSPENDED))
    return out


def on_continued(job: Job, now: int) -> tuple[Updates, int]:
    """The starter let the job's processes run again: the changes to the job ad, and the
    seconds it was stopped (which the shadow keeps as uncommitted)."""
    out: Updates = {}
    cumulative = _int(job, "CumulativeSuspensionTime")
    last = _int(job, "LastSuspensionTime")
    stopped = max(0, now - last) if last > 0 else 0
    out["CumulativeSuspensionTime"] = str(cumulative + stopped)
    out["LastSuspensionTime"] = "0"
    out.update(_status(job, RUNNING))
    return out, stopped


def commit(job: Job, uncommitted: int) -> Updates:
    """The run is over: the time it spent suspended counts as committed."""
    if uncommitted <= 0:
        return {}
    return {"CommittedSuspensionTime": str(_int(job, "CommittedSuspensionTime") + uncommitted)}


def is_suspended(job: Job) -> bool:
    return _int(job, "JobStatus") == SUSPENDED
