"""The user job event log ("log = <file>" in a submit description) in HTCondor's default text
format, as condor_utils/condor_event.cpp formats the events and write_user_log.cpp appends them.

Each event is a header line ``NNN (CCC.PPP.SSS) YYYY-MM-DD HH:MM:SS <first body line>``, more
body lines, and the line ``...``.  The functions here are pure: they take plain values (or a
dict of job-ad values) and return the event's text.  ``UserLogWriter`` is the thin file layer
that appends texts under an exclusive lock; it never raises on I/O errors.
"""
from __future__ import annotations

import fcntl
import math
import os
import time
from collections.abc import Iterable, Mapping
from enum import IntEnum
from functools import lru_cache
from typing import Any

SYNC_LINE = "...\n"

Rusage = tuple[int, int]
"""CPU time of a run as (user seconds, system seconds)."""

NO_RUSAGE: Rusage = (0, 0)


class Event(IntEnum):
    """Event numbers of the events the schedd and the shadow write (ULogEventNumber)."""
    SUBMIT = 0
    EXECUTE = 1
    EXECUTABLE_ERROR = 2
    CHECKPOINTED = 3
    JOB_EVICTED = 4
    JOB_TERMINATED = 5
    IMAGE_SIZE = 6
    SHADOW_EXCEPTION = 7
    JOB_ABORTED = 9
    JOB_SUSPENDED = 10
    JOB_UNSUSPENDED = 11
    JOB_HELD = 12
    JOB_RELEASED = 13
    JOB_DISCONNECTED = 22
    JOB_RECONNECTED = 23
    JOB_RECONNECT_FAILED = 24
    CLUSTER_SUBMIT = 35
    CLUSTER_REMOVE = 36
    FACTORY_PAUSED = 37
    FACTORY_RESUMED = 38
    FILE_TRANSFER = 40


class Transfer(IntEnum):
    """The kinds of file transfer event (FileTransferEventType)."""
    IN_QUEUED = 1
    IN_STARTED = 2
    IN_FINISHED = 3
    OUT_QUEUED = 4
    OUT_STARTED = 5
    OUT_FINISHED = 6


TRANSFER_TEXT = {
    Transfer.IN_QUEUED: "Entered queue to transfer input files",
    Transfer.IN_STARTED: "Started transferring input files",
    Transfer.IN_FINISHED: "Finished transferring input files",
    Transfer.OUT_QUEUED: "Entered queue to transfer output files",
    Transfer.OUT_STARTED: "Started transferring output files",
    Transfer.OUT_FINISHED: "Finished transferring output files",
}


# ------------------------------------------------------------------------------ the header

@lru_cache(maxsize=256)
def _stamp(seconds: int, utc: bool, legacy_date: bool) -> str:
    t = time.gmtime(seconds) if utc else time.localtime(seconds)
    return time.strftime("%m/%d %H:%M:%S" if legacy_date else "%Y-%m-%d %H:%M:%S", t)


def event_time(when: float, *, utc: bool = False, sub_second: bool = False,
               legacy_date: bool = False) -> str:
    """The header's time stamp: local time (the ISO_DATE default of user logs), or UTC with a
    trailing ``Z``; ``sub_second`` adds milliseconds, ``legacy_date`` the old ``MM/DD`` form
    (the DEFAULT_USERLOG_FORMAT_OPTIONS UTC, SUB_SECOND and LEGACY)."""
    seconds = math.floor(when)
    text = _stamp(seconds, utc, legacy_date)
    if sub_second:
        text += f".{int((when - seconds) * 1000):03d}"
    return text + "Z" if utc else text


def format_event(code: int, cluster: int, proc: int, when: float, body: str = "", *,
                 subproc: int = 0, utc: bool = False, sub_second: bool = False,
                 legacy_date: bool = False) -> str:
    """One whole event: header, ``body`` (the event's own text, whose first line continues the
    header line; every line ends in a newline) and the ``...`` line."""
    stamp = event_time(when, utc=utc, sub_second=sub_second, legacy_date=legacy_date)
    return f"{code:03d} ({cluster:03d}.{proc:03d}.{subproc:03d}) {stamp} {body}{SYNC_LINE}"


# ---------------------------------------------------------------- ClassAd values as text

def _c_isprint(byte: int) -> bool:
    return 0x20 <= byte < 0x7f


_NEW_ESCAPES = {ord('"'): '\\"', 7: "\\a", 8: "\\b", 12: "\\f", 10: "\\n", 13: "\\r", 9: "\\t",
                11: "\\v", ord("\\"): "\\\\"}


def _quote(text: str, old: bool) -> str:
    if old:
        return '"' + text.replace('"', '\\"') + '"'
    out = []
    for byte in text.encode("utf-8", "surrogateescape"):
        if byte in _NEW_ESCAPES:
            out.append(_NEW_ESCAPES[byte])
        elif _c_isprint(byte):
            out.append(chr(byte))
        else:
            out.append(f"\\{byte:03o}")
    return '"' + "".join(out) + '"'


def _real(value: float, old: bool) -> str:
    if value == 0.0:
        return "%.1f" % value
    if math.isnan(value):
        return 'real("NaN")'
    if math.isinf(value):
        return 'real("-INF")' if value < 0 else 'real("INF")'
    if not old:
        return "%1.15E" % value
    text = "%.16G" % value
    return text if any(c in text for c in ".Ee") else text + ".0"


def unparse(value: Any, *, old: bool = False) -> str:
    """A literal as ClassAd's unparser writes it (``old``: the old-ClassAd form of
    ``attr = value`` listings). Strings, ints, floats, bools and None (undefined); anything
    else (an ``ExprTree``) by its own ``str``."""
    if value is None:
        return "undefined"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _real(value, old)
    if isinstance(value, str):
        return _quote(value, old)
    return str(value)


def _pick(ad: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    """Values of ``names`` in a dict of job-ad values, ignoring the case of attribute names
    as ClassAds do (exact spellings found directly, others by one pass over the keys);
    the result is keyed by the spelling asked for, absent attributes left out."""
    found: dict[str, Any] = {}
    missing: dict[str, str] = {}
    for name in names:
        if name in ad:
            found[name] = ad[name]
        else:
            missing[name.lower()] = name
    if missing:
        for key, value in ad.items():
            name = missing.pop(key.lower(), None)
            if name is not None:
                found[name] = value
                if not missing:
                    break
    return found


# ----------------------------------------------------------------- shared pieces of bodies

def format_rusage(usage: Rusage) -> str:
    """``Usr D HH:MM:SS, Sys D HH:MM:SS`` (without the leading tab)."""
    def part(secs: int) -> str:
        days, secs = divmod(int(secs), 86400)
        hours, secs = divmod(secs, 3600)
        minutes, secs = divmod(secs, 60)
        return f"{days} {hours:02d}:{minutes:02d}:{secs:02d}"
    return f"Usr {part(usage[0])}, Sys {part(usage[1])}"


_UNITS = {"Memory": " (MB)", "Disk": " (KB)", "Gpus": " (Average)", "GpusMemory": " (MB)",
          "TimeExecute": " (s)", "TimeSlotBusy": " (s)"}


def _usage_cell(value: Any) -> tuple[str, bool]:
    """A table cell, and whether it shows a fraction: reals with a positive fractional part
    as %.2f, other reals as their integer part, anything else as ClassAds print it."""
    if isinstance(value, float) and math.isfinite(value):
        whole = math.trunc(value)
        if value - whole > 0.0:
            return "%.2f" % value, True
        return str(whole), False
    return unparse(value, old=True), False


def format_usage(usage: Mapping[str, Any]) -> str:
    """The "Partitionable Resources : Usage Request Allocated" table of the evicted and
    terminated events, from a usage ad: ``<Res>`` (allocated), ``Request<Res>``,
    ``<Res>Usage`` or ``<Res>AverageUsage`` (used), ``Assigned<Res>``. Rows sorted by
    resource name ignoring case, the name spelled as it first appears in ``usage``."""
    if not usage:
        return ""
    rows: dict[str, list[str]] = {}        # lower-case name -> [name, use, req, alloc, assigned]
    fractional = {"use": False, "req": False, "alloc": False, "assigned": False}
    loose = []
    for attr, raw in usage.items():
        value, frac = _usage_cell(raw)
        if attr.startswith("Request"):
            res, column = attr[7:], "req"
        elif attr.startswith("Assigned"):
            res, column = attr[8:], "assigned"
        elif attr.endswith("AverageUsage"):
            res, column = attr[:-12], "use"
        elif attr.endswith("Usage"):
            res, column = attr[:-5], "use"
        else:
            res, column = attr, "alloc"
        if column == "assigned":
            fractional["assigned"] = frac          # (not sticky, as in the original)
        else:
            fractional[column] |= frac
        row = rows.setdefault(res.lower(), [res, "", "", "", ""])
        row[("use", "req", "alloc", "assigned").index(column) + 1] = value
        if not res:
            loose.append(f"\t{attr} = {value}\n")
    widths = {"res": len("Memory (MB)") + 1, "use": 8, "req": 8, "alloc": 0, "assigned": 0}
    for row in rows.values():
        for i, column in enumerate(("use", "req", "alloc", "assigned"), start=1):
            if fractional[column] and row[i].isascii() and row[i].isdigit():
                row[i] += "   "
            widths[column] = max(widths[column], len(row[i]))
        widths["res"] = max(widths["res"], len(row[0]))
    alloc_w = max(widths["alloc"], 9)
    out = loose
    out.append(f"\tPartitionable Resources : {'Usage':>{widths['use']}} "
               f"{'Request':>{widths['req']}} "
               f"{'Allocated' if widths['alloc'] else '':>{alloc_w}} "
               f"{'Assigned' if widths['assigned'] else ''}\n")
    for key in sorted(rows):
        name, use, req, alloc, assigned = rows[key]
        if not name:
            continue
        label = name + _UNITS.get(name, "")
        out.append(f"\t   {label:<{widths['res'] + 8}} : {use:>{widths['use']}} "
                   f"{req:>{widths['req']}} {alloc:>{alloc_w}} {assigned}\n")
    return "".join(out)


def usage_from_job(job: Mapping[str, Any]) -> dict[str, Any]:
    """The usage ad the shadow puts in evicted and terminated events, from job-ad values:
    for each of ProvisionedResources (default "Cpus, Disk, Memory") the provisioned,
    requested, used and assigned amounts, then ActivationExecutionDuration and
    ActivationDuration as TimeExecuteUsage and TimeSlotBusyUsage."""
    names = _pick(job, ("ProvisionedResources",)).get("ProvisionedResources")
    pairs: list[tuple[str, str]] = []
    for res in str(names or "Cpus, Disk, Memory").replace(",", " ").split():
        title = res[:1].upper() + res[1:].lower()
        pairs += [(res, f"{title}Provisioned")] + [
            (attr, attr) for attr in (f"Request{title}", f"{title}Usage",
                                      f"{title}AverageUsage", f"{title}MemoryUsage",
                                      f"{title}MemoryAverageUsage", f"Assigned{title}")]
    times = [("TimeExecuteUsage", "ActivationExecutionDuration"),
             ("TimeSlotBusyUsage", "ActivationDuration")]
    values = _pick(job, [source for _, source in pairs + times])
    usage: dict[str, Any] = {}
    for target, source in pairs:
        if isinstance(values.get(source), (bool, int, float)):
            usage[target] = values[source]
    for target, source in times:
        if isinstance(values.get(source), int) and not isinstance(values[source], bool):
            usage[target] = values[source]
    return usage


def _bytes(value: float) -> str:
    return "%.0f" % value


# ------------------------------------------------------------------------------ the events

def _notes_lines(log_notes: str, user_notes: str,
                 structured_notes: Mapping[str, Any] | None) -> str:
    """A submit event's notes: the structured notes as a one-line ad (or else the log
    notes), then the user notes, each indented 4."""
    out = ""
    if structured_notes:
        attrs = "; ".join(f"{k} = {unparse(v)}" for k, v in structured_notes.items())
        out += f"    [ {attrs} ]\n"
    elif log_notes:
        out += f"    {log_notes[:8191]}\n"
    if user_notes:
        out += f"    {user_notes[:8191]}\n"
    return out


def submit_event(cluster: int, proc: int, when: float, submit_host: str, *,
                 log_notes: str = "", user_notes: str = "", warnings: str = "",
                 structured_notes: Mapping[str, Any] | None = None,
                 subproc: int = 0, utc: bool = False) -> str:
    """000 "Job submitted from host: <sinful>", then the structured notes as a one-line ad
    (or else the log notes), the user notes and the submit warnings, each indented 4."""
    body = f"Job submitted from host: {submit_host}\n" + \
        _notes_lines(log_notes, user_notes, structured_notes)
    if warnings:
        body += ("    WARNING: Committed job submission into the queue with the following "
                 f"warning(s): {warnings[:8110]}\n")
    return format_event(Event.SUBMIT, cluster, proc, when, body, subproc=subproc, utc=utc)


_NOTE_ATTRS = ("DAGNodeName", "JobBatchName")
_SUBMIT_ATTRS = ("ClusterId", "ProcId", "SubmitEventNotes", "SubmitEventUserNotes",
                 "SubmitEventNotesAttrs") + _NOTE_ATTRS


def _notes(job: Mapping[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    extra = str(values.get("SubmitEventNotesAttrs") or "").replace(",", " ").split()
    if extra:
        values = {**values, **_pick(job, [n for n in extra if n not in values])}
    return {name: values[name] for name in extra + list(_NOTE_ATTRS)
            if values.get(name) is not None}


def submit_notes_of_job(job: Mapping[str, Any]) -> dict[str, Any]:
    """The structured notes the schedd copies into a submit event: the attributes named in
    SubmitEventNotesAttrs, then DAGNodeName and JobBatchName, those that have a value."""
    return _notes(job, _pick(job, _SUBMIT_ATTRS))


def submit_event_for_job(job: Mapping[str, Any], when: float, submit_host: str, *,
                         warnings: str = "", utc: bool = False) -> str:
    """The submit event the schedd writes for a job, from its ad's values (ClusterId,
    ProcId, SubmitEventNotes, SubmitEventUserNotes and the structured notes)."""
    values = _pick(job, _SUBMIT_ATTRS)
    return submit_event(int(values["ClusterId"]), int(values["ProcId"]), when, submit_host,
                        log_notes=str(values.get("SubmitEventNotes") or ""),
                        user_notes=str(values.get("SubmitEventUserNotes") or ""),
                        warnings=warnings, structured_notes=_notes(job, values), utc=utc)


def submit_events_for_cluster(cluster_ad: Mapping[str, Any], procs: Iterable[int],
                              when: float, submit_host: str, *, warnings: str = "",
                              utc: bool = False) -> list[str]:
    """The submit events of many procs that share their cluster's notes (the usual big
    submit), the notes looked up once."""
    values = _pick(cluster_ad, _SUBMIT_ATTRS)
    notes = _notes(cluster_ad, values)
    cluster = int(values["ClusterId"])
    log_notes = str(values.get("SubmitEventNotes") or "")
    user_notes = str(values.get("SubmitEventUserNotes") or "")
    return [submit_event(cluster, proc, when, submit_host, log_notes=log_notes,
                         user_notes=user_notes, warnings=warnings, structured_notes=notes,
                         utc=utc) for proc in procs]


def cluster_submit_event(cluster: int, when: float, submit_host: str, *,
                         log_notes: str = "", user_notes: str = "",
                         structured_notes: Mapping[str, Any] | None = None,
                         utc: bool = False) -> str:
    """035 "Cluster submitted from host: <sinful>" (a job factory's cluster, proc -1),
    with the submit event's notes."""
    body = f"Cluster submitted from host: {submit_host}\n" + \
        _notes_lines(log_notes, user_notes, structured_notes)
    return format_event(Event.CLUSTER_SUBMIT, cluster, -1, when, body, utc=utc)


def factory_paused_event(cluster: int, when: float, reason: str, *, pause_code: int = 0,
                         hold_code: int = 0, utc: bool = False) -> str:
    """037 "Job Materialization Paused": the reason, then the pause and hold codes when set."""
    body = "Job Materialization Paused\n"
    if reason or pause_code:
        body += f"\t{reason}\n"
    if pause_code:
        body += f"\tPauseCode {pause_code}\n"
    if hold_code:
        body += f"\tHoldCode {hold_code}\n"
    return format_event(Event.FACTORY_PAUSED, cluster, -1, when, body, utc=utc)


def factory_resumed_event(cluster: int, when: float, reason: str = "", *, utc: bool = False) -> str:
    """038 "Job Materialization Resumed", with the reason when there is one."""
    body = "Job Materialization Resumed\n" + (f"\t{reason}\n" if reason else "")
    return format_event(Event.FACTORY_RESUMED, cluster, -1, when, body, utc=utc)


def cluster_removed_event(cluster: int, when: float, *, next_proc: int, next_row: int,
                          completion: str, notes: str = "", utc: bool = False) -> str:
    """036 "Cluster removed": how far the factory got (its next proc id and next row, as
    the cluster ad has them) and how it ended (Complete, Paused, Incomplete, Error)."""
    body = f"Cluster removed\n\tMaterialized {next_proc} jobs from {next_row} items."
    body += f"\t{completion}\n"
    if notes:
        body += f"\t{notes}\n"
    return format_event(Event.CLUSTER_REMOVE, cluster, -1, when, body, utc=utc)


def execute_event(cluster: int, proc: int, when: float, execute_host: str, *,
                  slot_name: str = "", props: Mapping[str, Any] | None = None,
                  subproc: int = 0, utc: bool = False) -> str:
    """001 "Job executing on host: <sinful>", the slot's name and the slot properties the
    shadow copies (CondorScratchDir, Cpus, Disk, GPUs, Memory, ...) as sorted
    ``attr = value`` lines."""
    body = f"Job executing on host: {execute_host}\n"
    if slot_name:
        body += f"\tSlotName: {slot_name}\n"
    if props:
        for name in sorted(props, key=str.lower):
            body += f"\t{name} = {unparse(props[name], old=True)}\n"
    return format_event(Event.EXECUTE, cluster, proc, when, body, subproc=subproc, utc=utc)


def image_size_event(cluster: int, proc: int, when: float, image_size_kb: int, *,
                     memory_usage_mb: int | None = None, resident_set_size_kb: int | None = None,
                     proportional_set_size_kb: int | None = None,
                     subproc: int = 0, utc: bool = False) -> str:
    """006 "Image size of job updated: N" and the memory figures that are known."""
    body = f"Image size of job updated: {int(image_size_kb)}\n"
    if memory_usage_mb is not None and memory_usage_mb >= 0:
        body += f"\t{int(memory_usage_mb)}  -  MemoryUsage of job (MB)\n"
    if resident_set_size_kb is not None and resident_set_size_kb >= 0:
        body += f"\t{int(resident_set_size_kb)}  -  ResidentSetSize of job (KB)\n"
    if proportional_set_size_kb is not None and proportional_set_size_kb >= 0:
        body += f"\t{int(proportional_set_size_kb)}  -  ProportionalSetSize of job (KB)\n"
    return format_event(Event.IMAGE_SIZE, cluster, proc, when, body, subproc=subproc, utc=utc)


def _termination(normal: bool, return_value: int, signal_number: int, core_file: str) -> str:
    if normal:
        return f"\t(1) Normal termination (return value {return_value})\n"
    core = f"\t(1) Corefile in: {core_file}\n" if core_file else "\t(0) No core file\n"
    return f"\t(0) Abnormal termination (signal {signal_number})\n" + core


def evicted_event(cluster: int, proc: int, when: float, *, reason: str = "",
                  reason_code: int = 0, reason_subcode: int = 0,
                  checkpointed: bool = False, terminate_and_requeued: bool = False,
                  normal: bool = True, return_value: int = 0, signal_number: int = 0,
                  core_file: str = "", run_remote_usage: Rusage = NO_RUSAGE,
                  run_local_usage: Rusage = NO_RUSAGE, sent_bytes: float = 0,
                  recvd_bytes: float = 0, usage: Mapping[str, Any] | None = None,
                  subproc: int = 0, utc: bool = False) -> str:
    """004 "Job was evicted." (with "Code N Subcode M" when the code is not 0), the run's CPU
    times and bytes, the termination when the job was requeued, the reason and the usage
    table."""
    if reason_code:
        body = f"Job was evicted. Code {reason_code} Subcode {reason_subcode}\n"
    else:
        body = "Job was evicted.\n"
    if terminate_and_requeued:
        body += "\t(0) Job terminated and was requeued\n"
    elif checkpointed:
        body += "\t(1) Job was checkpointed.\n"
    else:
        body += "\t(0) CPU times\n"
    body += (f"\t\t{format_rusage(run_remote_usage)}  -  Run Remote Usage\n"
             f"\t\t{format_rusage(run_local_usage)}  -  Run Local Usage\n"
             f"\t{_bytes(sent_bytes)}  -  Run Bytes Sent By Job\n"
             f"\t{_bytes(recvd_bytes)}  -  Run Bytes Received By Job\n")
    if terminate_and_requeued:
        body += _termination(normal, return_value, signal_number, core_file)
    if reason:
        body += f"\t{reason}\n" if terminate_and_requeued else f"\tReason: {reason}\n"
    if usage:
        body += format_usage(usage)
    return format_event(Event.JOB_EVICTED, cluster, proc, when, body, subproc=subproc, utc=utc)


def terminated_event(cluster: int, proc: int, when: float, *, normal: bool = True,
                     return_value: int = 0, signal_number: int = 0, core_file: str = "",
                     run_remote_usage: Rusage = NO_RUSAGE, run_local_usage: Rusage = NO_RUSAGE,
                     total_remote_usage: Rusage = NO_RUSAGE,
                     total_local_usage: Rusage = NO_RUSAGE,
                     sent_bytes: float = 0, recvd_bytes: float = 0,
                     total_sent_bytes: float = 0, total_recvd_bytes: float = 0,
                     usage: Mapping[str, Any] | None = None,
                     subproc: int = 0, utc: bool = False) -> str:
    """005 "Job terminated.": how (return value, or signal and core file), the CPU times of
    the run and of all runs, the bytes moved, and the usage table."""
    body = ("Job terminated.\n" + _termination(normal, return_value, signal_number, core_file)
            + f"\t\t{format_rusage(run_remote_usage)}  -  Run Remote Usage\n"
            f"\t\t{format_rusage(run_local_usage)}  -  Run Local Usage\n"
            f"\t\t{format_rusage(total_remote_usage)}  -  Total Remote Usage\n"
            f"\t\t{format_rusage(total_local_usage)}  -  Total Local Usage\n"
            f"\t{_bytes(sent_bytes)}  -  Run Bytes Sent By Job\n"
            f"\t{_bytes(recvd_bytes)}  -  Run Bytes Received By Job\n"
            f"\t{_bytes(total_sent_bytes)}  -  Total Bytes Sent By Job\n"
            f"\t{_bytes(total_recvd_bytes)}  -  Total Bytes Received By Job\n")
    if usage:
        body += format_usage(usage)
    return format_event(Event.JOB_TERMINATED, cluster, proc, when, body,
                        subproc=subproc, utc=utc)


def aborted_event(cluster: int, proc: int, when: float, reason: str = "", *,
                  subproc: int = 0, utc: bool = False) -> str:
    """009 "Job was aborted." and the removal reason."""
    body = "Job was aborted.\n" + (f"\t{reason}\n" if reason else "")
    return format_event(Event.JOB_ABORTED, cluster, proc, when, body, subproc=subproc, utc=utc)


def suspended_event(cluster: int, proc: int, when: float, num_pids: int, *,
                    subproc: int = 0, utc: bool = False) -> str:
    """010 "Job was suspended." and how many processes were stopped."""
    body = f"Job was suspended.\n\tNumber of processes actually suspended: {num_pids}\n"
    return format_event(Event.JOB_SUSPENDED, cluster, proc, when, body,
                        subproc=subproc, utc=utc)


def unsuspended_event(cluster: int, proc: int, when: float, *,
                      subproc: int = 0, utc: bool = False) -> str:
    """011 "Job was unsuspended."."""
    return format_event(Event.JOB_UNSUSPENDED, cluster, proc, when, "Job was unsuspended.\n",
                        subproc=subproc, utc=utc)


def held_event(cluster: int, proc: int, when: float, reason: str = "", code: int = 0,
               subcode: int = 0, *, subproc: int = 0, utc: bool = False) -> str:
    """012 "Job was held.", the hold reason ("Reason unspecified" if none) and its codes."""
    body = (f"Job was held.\n\t{reason or 'Reason unspecified'}\n"
            f"\tCode {code} Subcode {subcode}\n")
    return format_event(Event.JOB_HELD, cluster, proc, when, body, subproc=subproc, utc=utc)


def released_event(cluster: int, proc: int, when: float, reason: str = "", *,
                   subproc: int = 0, utc: bool = False) -> str:
    """013 "Job was released." and the release reason."""
    body = "Job was released.\n" + (f"\t{reason}\n" if reason else "")
    return format_event(Event.JOB_RELEASED, cluster, proc, when, body, subproc=subproc, utc=utc)


def disconnected_event(cluster: int, proc: int, when: float, reason: str, startd_name: str,
                       startd_addr: str, *, subproc: int = 0, utc: bool = False) -> str:
    """022 "Job disconnected, attempting to reconnect", why, and the slot tried."""
    body = ("Job disconnected, attempting to reconnect\n"
            f"    {reason[:8191]}\n"
            f"    Trying to reconnect to {startd_name} {startd_addr}\n")
    return format_event(Event.JOB_DISCONNECTED, cluster, proc, when, body,
                        subproc=subproc, utc=utc)


def reconnected_event(cluster: int, proc: int, when: float, startd_name: str,
                      startd_addr: str, starter_addr: str, *,
                      subproc: int = 0, utc: bool = False) -> str:
    """023 "Job reconnected to <slot>" and the startd's and the starter's addresses."""
    body = (f"Job reconnected to {startd_name}\n"
            f"    startd address: {startd_addr}\n"
            f"    starter address: {starter_addr}\n")
    return format_event(Event.JOB_RECONNECTED, cluster, proc, when, body,
                        subproc=subproc, utc=utc)


def file_transfer_event(cluster: int, proc: int, when: float, kind: int, *,
                        queueing_delay: int | None = None, host: str = "",
                        subproc: int = 0, utc: bool = False) -> str:
    """040 input or output transfer queued, started or finished (``Transfer``), with the
    seconds spent queued and the host transferred to when known."""
    body = TRANSFER_TEXT[Transfer(kind)] + "\n"
    if queueing_delay is not None and queueing_delay != -1:
        body += f"\tSeconds spent in queue: {queueing_delay}\n"
    if host:
        body += f"\tTransferring to host: {host}\n"
    return format_event(Event.FILE_TRANSFER, cluster, proc, when, body,
                        subproc=subproc, utc=utc)


# ---------------------------------------------------------------------------- the file layer

class UserLogWriter:
    """Appends events to one user log: opened in append mode (created with ``mode``, and
    its missing directories with 0755, as the real writer does), an exclusive ``flock``
    held for the write. I/O errors are not raised: the write returns False and
    ``last_error`` says why."""

    def __init__(self, path: str | os.PathLike[str], *, mode: int = 0o664) -> None:
        self.path = os.fspath(path)
        self.mode = mode
        self.last_error: OSError | None = None

    def write(self, event: str) -> bool:
        """Append one event's text."""
        return self.write_many((event,))

    def write_many(self, events: Iterable[str]) -> bool:
        """Append many events (for many jobs) under one open and one lock."""
        data = "".join(events).encode("utf-8", "surrogateescape")
        try:
            fd = self._open()
        except OSError as err:
            self.last_error = err
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        except OSError as err:
            self.last_error = err
            return False
        finally:
            os.close(fd)
        self.last_error = None
        return True

    def _open(self) -> int:
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)
        try:
            return os.open(self.path, flags, self.mode)
        except FileNotFoundError:
            parent = os.path.dirname(self.path)
            if not parent:
                raise
            os.makedirs(parent, mode=0o755, exist_ok=True)
            return os.open(self.path, flags, self.mode)
