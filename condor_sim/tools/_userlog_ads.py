"""Job ads made from a job event log, as HTCondor's ``userlog_to_classads`` makes them for
``condor_q -userlog`` and ``condor_history -userlog``: one ad per job the log saw
submitted (events of a job whose submission the log lacks are skipped), as idle, then
moved along by what happened to it.  The owner is the user reading the log (the best
guess the real tool makes); ``Cmd`` is ``???``.

:func:`ads_from_events` is pure (events in, ads out); :func:`read_userlog` reads a log
through the bindings' own reader.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable

import classad2

IDLE, RUNNING, REMOVED, COMPLETED, HELD, SUSPENDED = 1, 2, 3, 4, 5, 7
SUBMIT, EXECUTE, EVICTED, TERMINATED, IMAGE_SIZE, SHADOW_EXCEPTION = 0, 1, 4, 5, 6, 7
ABORTED, JOB_SUSPENDED, JOB_UNSUSPENDED, JOB_HELD, JOB_RELEASED = 9, 10, 11, 12, 13
RECONNECT_FAILED = 24


@dataclass
class LogEvent:
    """What the job event log says of one event: its number, job, time and fields."""
    number: int
    cluster: int
    proc: int
    when: int
    subproc: int = 0
    fields: dict = field(default_factory=dict)


def read_userlog(path: str) -> list[LogEvent]:
    """Every event of a job event log (``htcondor2``'s reader); OSError if it cannot be read."""
    import htcondor2
    with open(path, "rb"):
        pass
    out = []
    for e in htcondor2.JobEventLog(path).events(0):
        fields = {k: e[k] for k in e.keys()}
        out.append(LogEvent(int(e.type), e.cluster, e.proc, int(e.timestamp),
                            int(fields.get("Subproc", 0) or 0), fields))
    return out


def usage_seconds(text) -> tuple[float, float]:
    """``Usr D HH:MM:SS, Sys D HH:MM:SS`` as (user, system) seconds."""
    found = re.findall(r"(\d+) (\d+):(\d+):(\d+)", text if isinstance(text, str) else "")
    secs = [int(d) * 86400 + int(h) * 3600 + int(m) * 60 + int(s) for d, h, m, s in found]
    return (float(secs[0]), float(secs[1])) if len(secs) == 2 else (0.0, 0.0)


def submitted(ev: LogEvent, log_name: str, owner: str, now: int) -> dict:
    """The ad a submit event starts."""
    return {
        "MyType": "Job", "TargetType": "Machine", "ClusterId": ev.cluster, "ProcId": ev.proc,
        "UserLog": log_name, "QDate": ev.when, "EnteredCurrentStatus": ev.when,
        "GlobalJobId": f"localhost#{ev.cluster}.{ev.proc}#{ev.when}", "ServerTime": now,
        "SubmitHost": ev.fields.get("SubmitHost", ""), "JobStatus": IDLE, "LastJobStatus": 0,
        "Owner": owner, "JobPrio": 0, "ImageSize": 0, "Cmd": "???", "LastSuspensionTime": 0,
        "CompletionDate": 0, "NumJobStarts": 0, "TotalSuspensions": 0, "NumSystemHolds": 0,
        "LocalUserCpu": 0.0, "RemoteUserCpu": 0.0, "LocalSysCpu": 0.0, "RemoteSysCpu": 0.0,
        "RemoteWallClockTime": 0.0}


def _status(ad: dict, status: int, when: int) -> None:
    ad["LastJobStatus"] = ad.get("JobStatus")
    ad["JobStatus"] = status
    ad["EnteredCurrentStatus"] = when


def _incr(ad: dict, attr: str) -> None:
    v = ad.get(attr)
    ad[attr] = v + 1 if isinstance(v, int) and not isinstance(v, bool) else 1


def _reason(value) -> str | None:
    return value if isinstance(value, str) and value else None


def apply_event(ad: dict, ev: LogEvent) -> None:
    """One event's effect on its job's ad (a submit event is :func:`submitted`)."""
    f, t = ev.fields, ev.when
    if ev.number == EXECUTE:
        _status(ad, RUNNING, t)
        ad["JobCurrentStartDate"] = t
        _incr(ad, "NumJobStarts")
        ad["StartdIpAddr"] = ad["RemoteHost"] = f.get("ExecuteHost", "")
    elif ev.number == TERMINATED:
        _status(ad, COMPLETED, t)
        if "RemoteHost" in ad:
            ad["LastRemoteHost"] = ad.pop("RemoteHost")
        ad["CompletionDate"] = t
        if f.get("TerminatedNormally", True):
            ad.update(ExitBySignal=False, ExitCode=f.get("ReturnValue", 0))
        else:
            ad.update(ExitBySignal=True, ExitSignal=f.get("TerminatedBySignal", 0))
        ad["LastLocalUserCpu"], ad["LastLocalSysCpu"] = usage_seconds(f.get("RunLocalUsage"))
        ad["LastRemoteUserCpu"], ad["LastRemoteSysCpu"] = usage_seconds(f.get("RunRemoteUsage"))
        ad["LocalUserCpu"], ad["LocalSysCpu"] = usage_seconds(f.get("TotalLocalUsage"))
        ad["RemoteUserCpu"], ad["RemoteSysCpu"] = usage_seconds(f.get("TotalRemoteUsage"))
        start = ad.get("JobCurrentStartDate")
        if isinstance(start, int):
            run = float(t - start)
            ad["LastRemoteWallClockTime"] = run
            ad["RemoteWallClockTime"] = float(ad.get("RemoteWallClockTime", 0.0)) + run
    elif ev.number == JOB_SUSPENDED:
        _status(ad, SUSPENDED, t)
        ad["LastSuspensionTime"] = t
        _incr(ad, "TotalSuspensions")
    elif ev.number == JOB_UNSUSPENDED:
        _status(ad, RUNNING, t)
    elif ev.number in (EVICTED, RECONNECT_FAILED):
        _status(ad, IDLE, t)
        ad["LastVacateTime"] = t
        if (reason := _reason(f.get("Reason"))) is not None:
            ad["LastVacateReason"] = reason
    elif ev.number == SHADOW_EXCEPTION:
        # a log read back never says the job had begun to execute: no LastVacateTime
        _status(ad, IDLE, t)
        if (reason := _reason(f.get("Message"))) is not None:
            ad["LastVacateReason"] = reason
    elif ev.number == JOB_HELD:
        before = ad.get("JobStatus")
        _status(ad, HELD, t)
        reason = f.get("HoldReason")
        if before != IDLE:
            ad["LastVacateTime"] = t
            if _reason(reason) is not None:
                ad["LastVacateReason"] = reason
        if isinstance(reason, str):
            ad["HoldReason"] = reason
        code = f.get("HoldReasonCode", 0)
        ad.update(HoldReasonCode=code, HoldReasonSubCode=f.get("HoldReasonSubCode", 0))
        if code != 1:
            _incr(ad, "NumSystemHolds")
    elif ev.number == JOB_RELEASED:
        _status(ad, IDLE, t)
        if (reason := _reason(f.get("Reason"))) is not None:
            ad["ReleaseReason"] = reason
    elif ev.number == ABORTED:
        _status(ad, REMOVED, t)
        if (reason := _reason(f.get("Reason"))) is not None:
            ad["RemoveReason"] = reason
    elif ev.number == IMAGE_SIZE:
        ad.update(ImageSize=f.get("Size", 0), ResidentSetSize=f.get("ResidentSetSize", 0),
                  ProportionalSetSize=f.get("ProportionalSetSize", 0))


def ads_from_events(events: Iterable[LogEvent], log_name: str, owner: str,
                    now: int) -> list[classad2.ClassAd]:
    """The job ads of a job event log's events, in job id order."""
    jobs: dict[tuple[int, int, int], dict] = {}
    for ev in events:
        key = (ev.cluster, ev.proc, ev.subproc)
        if ev.number == SUBMIT:
            jobs[key] = submitted(ev, log_name, owner, now)
        elif key in jobs:
            apply_event(jobs[key], ev)
    return [classad2.ClassAd(jobs[k]) for k in sorted(jobs)]
