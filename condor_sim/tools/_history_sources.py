"""Where ``condor_history`` finds its records besides the schedd, as pure functions.

* History and epoch files: ads in the old ClassAd syntax, each followed by a ``***`` banner
  line; the banner may name the record's type first (``*** EPOCH ClusterId=1 ...``, the
  shadow's per-run records in ``JOB_EPOCH_HISTORY``), otherwise the record is a ``JOB``
  (:func:`records`).
* A user event log (``-userlog``): a job ad per submitted job, built from its events as
  HTCondor's ``userlog_to_classads`` builds it (:func:`userlog_ads`).
* ``-xml`` with nested ads written as nested ``<c>`` elements (:func:`render_xml`).
"""
from __future__ import annotations

import re
from typing import Iterable

import classad2

from condor_sim.tools import common as C

IDLE, RUNNING, REMOVED, COMPLETED, HELD = 1, 2, 3, 4, 5


# ------------------------------------------------------------------------------ files
def banner_type(line: str) -> str:
    """The record type a banner line names (upper case); ``JOB`` when it names none."""
    head = line.lstrip("*").strip().split("=", 1)[0].strip()
    if "=" not in line or not re.search(r"\s", head):
        return "JOB"
    return head.split()[0].upper()


def records(text: str) -> list[tuple[str, classad2.ClassAd]]:
    """A history or epoch file's records, oldest first, each with the type its banner names."""
    out, lines = [], []
    for line in text.splitlines():
        if line.startswith("***"):
            if lines:
                out.append((banner_type(line), classad2.parseOne("\n".join(lines))))
            lines = []
        elif line.strip():
            lines.append(line)
    if lines:
        out.append(("JOB", classad2.parseOne("\n".join(lines))))
    return out


def ads_of_type(text: str, kind: str) -> list[classad2.ClassAd]:
    return [ad for t, ad in records(text) if t == kind]


# ------------------------------------------------------------------------------ user logs
def _usage_seconds(text) -> tuple[float, float]:
    """``Usr D HH:MM:SS, Sys D HH:MM:SS`` as (user, system) seconds."""
    found = re.findall(r"(\d+) (\d+):(\d+):(\d+)", text if isinstance(text, str) else "")
    secs = [int(d) * 86400 + int(h) * 3600 + int(m) * 60 + int(s) for d, h, m, s in found]
    return (float(secs[0]), float(secs[1])) if len(secs) == 2 else (0.0, 0.0)


def _status(ad: classad2.ClassAd, status: int, when: int) -> None:
    ad["LastJobStatus"] = ad.lookup("JobStatus")
    ad["JobStatus"] = status
    ad["EnteredCurrentStatus"] = when


def _count(ad: classad2.ClassAd, attr: str) -> None:
    v = ad.get(attr)
    ad[attr] = v + 1 if isinstance(v, int) and not isinstance(v, bool) else 1


def submitted_ad(cluster: int, proc: int, when: int, submit_host: str, filename: str,
                 owner: str, now: int) -> classad2.ClassAd:
    return classad2.ClassAd({
        "MyType": "Job", "TargetType": "Machine", "ClusterId": cluster, "ProcId": proc,
        "UserLog": filename, "QDate": when, "EnteredCurrentStatus": when,
        "GlobalJobId": f"localhost#{cluster}.{proc}#{when}", "ServerTime": now,
        "SubmitHost": submit_host, "JobStatus": IDLE, "LastJobStatus": 0, "Owner": owner,
        "JobPrio": 0, "ImageSize": 0, "Cmd": "???", "LastSuspensionTime": 0, "CompletionDate": 0,
        "NumJobStarts": 0, "TotalSuspensions": 0, "NumSystemHolds": 0, "LocalUserCpu": 0.0,
        "RemoteUserCpu": 0.0, "LocalSysCpu": 0.0, "RemoteSysCpu": 0.0, "RemoteWallClockTime": 0.0})


def apply_event(ad: classad2.ClassAd, number: int, when: int, ev: dict) -> None:
    """One event's effect on the job's ad (submit is :func:`submitted_ad`)."""
    if number == 1:                                   # execute
        _status(ad, RUNNING, when)
        ad["JobCurrentStartDate"] = when
        _count(ad, "NumJobStarts")
        ad["StartdIpAddr"] = ad["RemoteHost"] = ev.get("ExecuteHost", "")
    elif number == 5:                                 # terminated
        _status(ad, COMPLETED, when)
        if "RemoteHost" in ad:
            ad["LastRemoteHost"] = ad.lookup("RemoteHost")
            del ad["RemoteHost"]
        ad["CompletionDate"] = when
        if ev.get("TerminatedNormally", True):
            ad["ExitBySignal"], ad["ExitCode"] = False, ev.get("ReturnValue", 0)
        else:
            ad["ExitBySignal"], ad["ExitSignal"] = True, ev.get("TerminatedBySignal", 0)
        ad["LastRemoteUserCpu"], ad["LastRemoteSysCpu"] = _usage_seconds(ev.get("RunRemoteUsage"))
        ad["LastLocalUserCpu"], ad["LastLocalSysCpu"] = _usage_seconds(ev.get("RunLocalUsage"))
        start = ad.get("JobCurrentStartDate")
        if isinstance(start, int):
            run = float(when - start)
            ad["LastRemoteWallClockTime"] = run
            ad["RemoteWallClockTime"] = float(ad.get("RemoteWallClockTime", 0.0)) + run
        ad["RemoteUserCpu"], ad["RemoteSysCpu"] = _usage_seconds(ev.get("TotalRemoteUsage"))
        ad["LocalUserCpu"], ad["LocalSysCpu"] = _usage_seconds(ev.get("TotalLocalUsage"))
    elif number == 4:                                 # evicted
        _status(ad, IDLE, when)
        ad["LastVacateTime"] = when
    elif number == 12:                                # held
        _status(ad, HELD, when)
        if isinstance(ev.get("HoldReason"), str):
            ad["HoldReason"] = ev["HoldReason"]
        ad["HoldReasonCode"] = ev.get("HoldReasonCode", 0)
        ad["HoldReasonSubCode"] = ev.get("HoldReasonSubCode", 0)
        _count(ad, "NumSystemHolds")
    elif number == 13:                                # released
        _status(ad, IDLE, when)
        if isinstance(ev.get("Reason"), str):
            ad["ReleaseReason"] = ev["Reason"]
    elif number == 9:                                 # aborted
        _status(ad, REMOVED, when)
        if ev.get("Reason"):
            ad["RemoveReason"] = ev["Reason"]
    elif number == 6:                                 # image size
        ad["ImageSize"] = ev.get("Size", 0)
        ad["ResidentSetSize"] = ev.get("ResidentSetSize", 0)
        ad["ProportionalSetSize"] = ev.get("ProportionalSetSize", 0)


def userlog_ads(events: Iterable[tuple[int, int, int, int, dict]], filename: str, owner: str,
                now: int, constraint: str | None = None) -> list[classad2.ClassAd]:
    """The jobs of a user log, in job id order: ``events`` are ``(number, cluster, proc,
    time, attributes)``; events of a job whose submission the log lacks are skipped."""
    jobs: dict[tuple[int, int], classad2.ClassAd] = {}
    for number, cluster, proc, when, ev in events:
        if number == 0:
            jobs[(cluster, proc)] = submitted_ad(cluster, proc, when, ev.get("SubmitHost", ""),
                                                 filename, owner, now)
        elif (cluster, proc) in jobs:
            apply_event(jobs[(cluster, proc)], number, when, ev)
    expr = classad2.ExprTree(constraint) if constraint else None
    return [jobs[k] for k in sorted(jobs) if expr is None or expr.eval(jobs[k]) is True]


def read_userlog(path: str) -> list[tuple[int, int, int, int, dict]]:
    """The events of a user log through the bindings' reader (I/O layer)."""
    import htcondor2
    out = []
    for e in htcondor2.JobEventLog(path).events(0):
        out.append((int(e.type), e.cluster, e.proc, int(e.timestamp),
                    {k: e[k] for k in e.keys()}))
    return out


# ------------------------------------------------------------------------------ -xml
def _xml_attrs(ad, indent: str) -> list[str]:
    out = []
    for k in C.sorted_attrs(ad):
        expr = ad.lookup(k)
        nested = ad.get(k) if str(expr).lstrip().startswith("[") else None
        if isinstance(nested, classad2.ClassAd):
            out.append(f'{indent}<a n="{k}"><c>\n')
            out += _xml_attrs(nested, indent + "    ")
            out.append(f"{indent}</c></a>\n")
        else:
            out.append(f'{indent}<a n="{k}">{C._xml_value(expr)}</a>\n')
    return out


def render_xml(ads: Iterable) -> str:
    """``-xml`` as condor_history writes it: a blank line after ``<classads>``, after each ad
    and after the end; nested ads as ``<c>`` elements indented one more level."""
    out = ['<?xml version="1.0"?>\n<!DOCTYPE classads SYSTEM "classads.dtd">\n<classads>\n\n']
    for ad in ads:
        out.append("<c>\n")
        out += _xml_attrs(ad, "    ")
        out.append("</c>\n\n")
    out.append("</classads>\n\n")
    return "".join(out)
