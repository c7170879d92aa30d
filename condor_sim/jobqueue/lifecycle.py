"""What a job ad goes through while the job runs, sans-IO: the attribute changes the schedd
and its shadow write at each step, in the order the real ones write them to job_queue.log.

Each function takes the job as it stands (attribute name -> old-syntax expression text,
as :class:`~condor_sim.jobqueue.queue.JobQueue` keeps it) and returns the changes, an
ordered ``dict`` name -> new expression text, where ``None`` means "delete the attribute".
Applying them in order (``txn.set`` / ``txn.delete``) leaves the job as the real log
does, the names in the real log's order (a name the daemons write twice in one step
appears once, at its last place).

The steps, with the code of the real daemons they mirror:

* :func:`on_match`: the schedd marks the job running (``mark_serial_job_running``) and
  records the claim when it starts the shadow (``add_shadow_rec``, ``InsertMachineAttrs``,
  ``add_shadow_birthdate``).
* :func:`on_activate`: the shadow's first update once the claim is activated (what the
  slot provides); :func:`input_transferred` when the input sandbox has arrived.
* :func:`on_execute`: the moment the starter began executing the job.
* :func:`on_usage`: a periodic update from the starter (image size, RSS, CPU times);
  :func:`output_transfer_started` / :func:`output_transferred` around the output sandbox.
* :func:`on_exit`: the job exited by itself: the starter's final report, the shadow's
  ``terminateJob`` (committed time, ``TerminationPending``), then the schedd
  (``JobStatus`` 4, ``delete_shadow_rec``'s wall clock and claim clean-up).
* :func:`on_exit_requeue`, :func:`on_exit_hold`: the job exited, but its policy
  (:func:`condor_sim.jobqueue.policy.on_exit`) runs it again or holds it.
* :func:`on_evict`: the run ended without the job exiting (vacate, a lost starter,
  a failed activation): the run's wall time is added up and the job is idle again.
* :func:`vacate_request`, :func:`on_hold_running`, :func:`on_remove_running`: the
  schedd interrupting a running job for condor_vacate_job / condor_hold / condor_rm
  (:func:`hold` is the schedd's hold itself, as changes).

Not here: the owner record's totals (``TotalCompletedJobs``...), the user log events
(:mod:`~condor_sim.jobqueue.userlog`), and the cluster-only FirstJobMatchDate, which the
schedd keeps in memory (:func:`first_match_date`).

Floats the schedd writes itself (``SetAttributeFloat``) appear as ``%f`` (``1.000000``);
floats the shadow sends are ClassAd reals (``43856.0``), as in the real log.
Attributes the schedd rounds (``SCHEDD_ROUND_ATTR_*``) are returned raw; pass the result
through :func:`rounded` to add the ``_RAW`` twin and the rounded value.
"""
from __future__ import annotations

from typing import Dict, Iterable, Mapping, Optional

from .queue import COMPLETED, HELD, IDLE, REMOVED, RUNNING, int_value, quote, unquote
from .rules import HOLD_REASON_NAMES, reason_counts, round_value

Updates = Dict[str, Optional[str]]  # name -> expression text, or None to delete
Job = Mapping[str, str]

# SYSTEM_JOB_MACHINE_ATTRS's default
DEFAULT_MACHINE_ATTRS = ("Cpus", "SlotWeight")
# CONDOR_HOLD_CODE values the schedd and shadow write as vacate codes
USER_REQUEST = 1
SCHEDD_VACATE = 1022
JOB_REMOVED = 1023
JOB_SHOULD_REQUEUE = 1005
SHADOW_EXCEPTION = 1002
VACATE_CODE_NAMES = {1: "UserRequest", 3: "JobPolicy", 26: "SystemPolicy", 1000: "JobPolicyVacate",
                     1001: "SystemPolicyVacate", 1002: "ShadowException",
                     1003: "JobNotStarted", 1004: "UserVacateJob", 1005: "JobShouldRequeue",
                     1006: "FailedToActivateClaim", 1007: "StarterError",
                     1008: "ReconnectFailed", 1009: "ClaimDeactivated",
                     1010: "StartdVacateCommand", 1011: "StartdPreemptExpression",
                     1013: "StartdShutdown", 1022: "ScheddVacate", 1023: "JobRemoved"}
# the texts glibc's strsignal gives (the starter's ExitReason quotes them)
SIGNAL_NAMES = {1: "Hangup", 2: "Interrupt", 3: "Quit", 4: "Illegal instruction",
                5: "Trace/breakpoint trap", 6: "Aborted", 7: "Bus error",
                8: "Floating point exception", 9: "Killed", 10: "User defined signal 1",
                11: "Segmentation fault", 12: "User defined signal 2", 13: "Broken pipe",
                14: "Alarm clock", 15: "Terminated", 24: "CPU time limit exceeded",
                25: "File size limit exceeded"}


# ------------------------------------------------------------------ value texts

def _int(job: Job, name: str, default: int = 0) -> int:
    v = int_value(job.get(name))
    return default if v is None else v


def _float(job: Job, name: str, default: float = 0.0) -> float:
    text = job.get(name)
    try:
        return float(text) if text is not None else default
    except ValueError:
        return default


def real(value: float) -> str:
    """A real as the ClassAd unparser writes it (what the shadow's updates carry)."""
    text = "%.16G" % value
    return text if any(c in text for c in ".EN") else text + ".0"


def schedd_float(value: float) -> str:
    """A real as the schedd's own SetAttributeFloat writes it (``%f``)."""
    return "%f" % value


def _bool(value: bool) -> str:
    return "true" if value else "false"


def exit_reason_text(signal: int) -> str:
    """The starter's ExitReason for a job killed by ``signal``."""
    name = SIGNAL_NAMES.get(signal, f"Unknown signal {signal}")
    return f"died on signal {signal} ({name})"


def rounded(updates: Updates, rounding: Mapping[str, str]) -> Updates:
    """``updates`` with each attribute named in ``rounding`` (SCHEDD_ROUND_ATTR_<attr>)
    written as the schedd does: ``<attr>_RAW`` first, then the rounded value."""
    out: Updates = {}
    for name, value in updates.items():
        rule = rounding.get(name)
        if rule and value is not None:
            r = round_value(value, rule)
            if r is not None:
                out[name + "_RAW"] = value
                out[name] = r
                continue
        out[name] = value
    return out


# ------------------------------------------------------------------ the match

def mark_running(job: Job, now: int) -> Updates:
    """``mark_serial_job_running``: the job is running once the schedd has a match for it."""
    out: Updates = {}
    if job.get("OrigMaxHosts") is None:
        out["OrigMaxHosts"] = job.get("MaxHosts") or "1"
    old = _int(job, "JobStatus", IDLE)
    if old != RUNNING:
        out["LastJobStatus"] = str(old)
    out["JobStatus"] = str(RUNNING)
    out["EnteredCurrentStatus"] = str(now)
    out["LastSuspensionTime"] = "0"
    out["CurrentHosts"] = "1"
    return out


def machine_attrs(machine: Mapping[str, object], job: Job,
                  system_attrs: Iterable[str] = DEFAULT_MACHINE_ATTRS) -> Updates:
    """``MachineAttr<name>0`` for each attribute the job (JobMachineAttrs) or the
    configuration (SYSTEM_JOB_MACHINE_ATTRS) asks for, valued from the slot's ad;
    an attribute the slot lacks is ``undefined``."""
    names = [n for n in (unquote(job.get("JobMachineAttrs")) or "").replace(",", " ").split() if n]
    for n in system_attrs:
        if n.lower() not in {x.lower() for x in names}:
            names.append(n)
    lowered = {k.lower(): v for k, v in machine.items()}
    out: Updates = {}
    for n in names:
        out[f"MachineAttr{n}0"] = _literal(lowered.get(n.lower()))
    return out


def _literal(value: object) -> str:
    """A slot-ad value (a Python value, or already expression text) as expression text."""
    if value is None:
        return "undefined"
    if isinstance(value, bool):
        return _bool(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return real(value)
    return str(value)


def on_match(job: Job, now: int, *, slot_name: str, startd_sinful: str, claim_id: str,
             public_claim_id: str, slot_id: int = 1, machine: Optional[Mapping[str, object]] = None,
             startd_principal: Optional[str] = None, remote_pool: Optional[str] = None,
             system_machine_attrs: Iterable[str] = DEFAULT_MACHINE_ATTRS) -> Updates:
    """The schedd's changes when it takes a match and starts the job's shadow: the job
    turns Running, then the claim, the slot and the shadow's birth are recorded.

    ``claim_id`` is the whole (private) claim id, ``public_claim_id`` its public form
    (``<addr>#<startd birth>#<seq>#...``); ``startd_principal`` the session's
    ``execute-side@matchsession/<ip>``."""
    out = mark_running(job, now)
    out["ClaimId"] = quote(claim_id)
    out["PublicClaimId"] = quote(public_claim_id)
    out["StartdIpAddr"] = quote(startd_sinful)
    out["LastJobLeaseRenewal"] = str(now)
    out["RemoteHost"] = quote(slot_name)
    out["RemoteSlotID"] = str(slot_id)
    out["NumJobMatches"] = str(_int(job, "NumJobMatches") + 1)
    out["LastMatchTime"] = str(now)
    out.update(machine_attrs(machine or {}, job, system_machine_attrs))
    if remote_pool:
        out["RemotePool"] = quote(remote_pool)
    if startd_principal:
        out["StartdPrincipal"] = quote(startd_principal)
    out.update(shadow_birthday(job, now))
    return out


def shadow_birthday(job: Job, now: int) -> Updates:
    """``add_shadow_birthdate`` for a new (not reconnecting) shadow."""
    out: Updates = {"ShadowBday": str(now)}
    if job.get("JobStartDate") is None:
        out["JobStartDate"] = str(now)
    if job.get("JobCurrentStartDate") is not None:
        out["JobLastStartDate"] = job["JobCurrentStartDate"]
    out["JobCurrentStartDate"] = str(now)
    starts = _int(job, "NumShadowStarts") + 1
    if _int(job, "JobUniverse", 5) == 7:          # scheduler universe: JobRunCount only
        out["JobRunCount"] = str(_int(job, "JobRunCount") + 1)
    else:
        out["NumShadowStarts"] = str(starts)
        out["JobRunCount"] = str(starts)
    out["VacateReason"] = None
    out["VacateReasonCode"] = None
    out["VacateReasonSubCode"] = None
    return out


def first_match_date(cluster_ad: Job, now: int) -> Updates:
    """FirstJobMatchDate: the real schedd puts it on the cluster ad in memory only (no log
    record), at the cluster's first match; it shows in condor_q and the history."""
    return {} if cluster_ad.get("FirstJobMatchDate") is not None else {"FirstJobMatchDate": str(now)}


# ------------------------------------------------------------------ activation and execution

def on_activate(job: Job, now: int, *, machine: Mapping[str, object],
                transfer_input: bool = False, input_files: int = 1) -> Updates:
    """The shadow's first update once the starter accepted the job: the resources the
    slot provides, the wait since submission, zeroed run counters and, with file
    transfer, the start of the input transfer."""
    lowered = {k.lower(): v for k, v in machine.items()}
    out: Updates = {
        "BytesRecvd": "0.0", "BytesSent": "0.0",
        "CpusProvisioned": _literal(lowered.get("cpus", 1)),
        "DiskProvisioned": _literal(lowered.get("disk", 0)),
        "GPUsProvisioned": _literal(lowered.get("gpus", 0)),
        "InitialWaitDuration": str(now - _int(job, "QDate", now)),
        "JobCurrentReconnectAttempt": "undefined",
        "LastJobLeaseRenewal": str(now),
        "MemoryProvisioned": _literal(lowered.get("memory", 0)),
    }
    if transfer_input:
        out["NumInputTransferStarts"] = str(_int(job, "NumInputTransferStarts") + 1)
    out["RemoteSysCpu"] = "0.0"
    out["RemoteUserCpu"] = "0.0"
    out["TransferInputFileCounts"] = f"[ CEDAR = {input_files} ]"
    out["TransferInputStats"] = "[  ]"
    if transfer_input:
        out["TransferInStarted"] = str(now)
    out["TransferOutputStats"] = "[  ]"
    if transfer_input:
        out["TransferQueued"] = "false"
        out["TransferringInput"] = "true"
    return out


def input_transferred(job: Job, now: int, *, bytes_recvd: int, files: int) -> Updates:
    """The shadow's update when the input sandbox has arrived."""
    return {"BytesRecvd": real(float(bytes_recvd)), "TransferInFinished": str(now),
            "TransferInputStats": _xfer_stats(bytes_recvd, files),
            "TransferringInput": "false"}


def output_transfer_started(job: Job, now: int, *, disk_kb: Optional[int] = None,
                            scratch_files: int = 0) -> Updates:
    """The starter's update as the job's output starts back (the job has exited)."""
    out: Updates = {"BlockReadKbytes": "0", "BlockReads": "0", "BlockWriteKbytes": "0",
                    "BlockWrites": "0", "CpusUsage": "0.0"}
    if disk_kb is not None:
        out["DiskUsage"] = str(int(disk_kb))
    out["ExecuteDirWasEncrypted"] = "false"
    out["LastJobLeaseRenewal"] = str(now)
    out["MemoryUsage"] = "((ResidentSetSize + 1023) / 1024)"
    out["NumOutputTransferStarts"] = str(_int(job, "NumOutputTransferStarts") + 1)
    out.update({"RecentBlockReadKbytes": "0", "RecentBlockReads": "0",
                "RecentBlockWriteKbytes": "0", "RecentBlockWrites": "0",
                "RecentStatsLifetimeStarter": "0", "ScratchDirFileCount": str(scratch_files),
                "StatsLifetimeStarter": "0", "TransferOutStarted": str(now),
                "TransferringOutput": "true"})
    return out


def output_transferred(job: Job, now: int, *, bytes_sent: int, files: int) -> Updates:
    """The shadow's update when the output sandbox is back."""
    return {"BytesSent": real(float(bytes_sent)), "TransferOutFinished": str(now),
            "TransferOutputStats": _xfer_stats(bytes_sent, files),
            "TransferringOutput": "false"}


def _xfer_stats(size: int, files: int) -> str:
    return (f"[ CedarSizeBytesTotal = {size}; CedarFilesCountTotal = {files}; "
            f"CedarSizeBytesLastRun = {size}; CedarFilesCountLastRun = {files} ]")


def on_execute(job: Job, now: int, *, setup_duration: int = 0) -> Updates:
    """The shadow's update when the starter reports the job executing (the slot's
    resources went in with :func:`on_activate`); ``setup_duration``: seconds from the
    activation to the start."""
    return {"ActivationSetupDuration": str(setup_duration),
            "JobCurrentStartExecutingDate": str(now),
            "LastJobLeaseRenewal": str(now)}


# ------------------------------------------------------------------ while running

def _cpu(job: Job, usage: Mapping[str, float]) -> Updates:
    """Remote CPU times only grow: a larger report moves the run's value and adds the
    difference to the cumulative one (RemoteResource::updateFromStarter)."""
    out: Updates = {}
    for key, run, total in (("sys_cpu", "RemoteSysCpu", "CumulativeRemoteSysCpu"),
                            ("user_cpu", "RemoteUserCpu", "CumulativeRemoteUserCpu")):
        value = usage.get(key)
        if value is None:
            continue
        prev = _float(job, run)
        if float(value) > prev:
            out[total] = real(_float(job, total) + float(value) - prev)
            out[run] = real(float(value))
    return out


def on_usage(job: Job, now: int, usage: Mapping[str, float], *, first: bool = False) -> Updates:
    """A periodic update from the starter.  ``first``: the first one after the job began
    executing, which carries the shadow's NumJobStarts increment.  ``usage`` keys:
    ``image_size_kb``, ``rss_kb``, ``disk_kb``, ``user_cpu``, ``sys_cpu``."""
    out: Updates = {"ActivationExecutionDuration": str(usage.get("execution_duration", 0)),
                    "BlockReadKbytes": "0", "BlockReads": "0", "BlockWriteKbytes": "0",
                    "BlockWrites": "0"}
    image = usage.get("image_size_kb")
    if image is not None and int(image) > _int(job, "ImageSize"):
        out["ImageSize"] = str(int(image))
    out["LastJobLeaseRenewal"] = str(now)
    out["MemoryUsage"] = "((ResidentSetSize + 1023) / 1024)"
    if first:
        out["NumJobStarts"] = str(_int(job, "NumJobStarts") + 1)
    out.update({"RecentBlockReadKbytes": "0", "RecentBlockReads": "0",
                "RecentBlockWriteKbytes": "0", "RecentBlockWrites": "0",
                "RecentStatsLifetimeStarter": "0"})
    rss = usage.get("rss_kb")
    if rss is not None:
        out["ResidentSetSize"] = str(int(rss))
    out["StatsLifetimeStarter"] = "0"
    disk = usage.get("disk_kb")
    if disk is not None:
        out["DiskUsage"] = str(int(disk))
    out.update(_cpu(job, usage))
    return out


# ------------------------------------------------------------------ the end of a run

def final_report(job: Job, now: int, result: Mapping[str, object], *, completed: bool) -> Updates:
    """The starter's final update: how long the activation took, how the job ended,
    its last usage and, for a job that exited by itself, one more completion."""
    wall = int(result.get("wall", 0) or 0)
    out: Updates = {"ActivationDuration": str(int(result.get("activation_duration", wall) or 0)),
                    "ActivationTeardownDuration": str(int(result.get("teardown_duration", 0) or 0)),
                    "CpusUsage": real(float(result.get("cpus_usage", 0.0) or 0.0))}
    if "disk_kb" in result and result["disk_kb"] is not None:
        out["DiskUsage"] = str(int(result["disk_kb"]))
    if job.get("ExecuteDirWasEncrypted") is None:
        out["ExecuteDirWasEncrypted"] = "false"
    if "exit_by_signal" not in result and "exit_code" not in result:
        pass                                          # the starter had no exit to report
    elif result.get("exit_by_signal"):
        sig = int(result.get("exit_signal") or 0)
        out["ExitBySignal"] = "true"
        out["ExitReason"] = quote(exit_reason_text(sig))
        out["ExitSignal"] = str(sig)
    else:
        out["ExitBySignal"] = "false"
        out["ExitCode"] = str(int(result.get("exit_code") or 0))
    image = result.get("image_size_kb")
    if image is not None and int(image) > _int(job, "ImageSize"):
        out["ImageSize"] = str(int(image))
    out["LastJobLeaseRenewal"] = str(now)
    out["MemoryUsage"] = "((ResidentSetSize + 1023) / 1024)"
    if completed:
        out["NumJobCompletions"] = str(_int(job, "NumJobCompletions") + 1)
    rss = result.get("rss_kb")
    if rss is not None:
        out["ResidentSetSize"] = str(int(rss))
    out.update(_cpu(job, result))
    if job.get("TransferOutStarted") is not None:
        out["SpooledOutputFiles"] = '""'
        out["StderrMtime"] = str(int(result.get("stderr_mtime", now)))
        out["StdoutMtime"] = str(int(result.get("stdout_mtime", now)))
    return out


def _output_report(job: Job, now: int, result: Mapping[str, object]) -> Updates:
    """After the final report: the run's transfer dates and, with the output sandbox
    back, what it held (BytesSent and friends count this run only)."""
    out: Updates = {}
    if job.get("TransferOutStarted") is not None:
        if job.get("TransferInStarted") is not None:
            out["JobCurrentFinishTransferInputDate"] = job.get("TransferInFinished", "-1")
        out["JobCurrentFinishTransferOutputDate"] = "-1"
        if job.get("TransferInStarted") is not None:
            out["JobCurrentStartTransferInputDate"] = job["TransferInStarted"]
        out["JobCurrentStartTransferOutputDate"] = job["TransferOutStarted"]
        sent = int(result.get("bytes_sent", 0) or 0)
        out.update(output_transferred(job, now, bytes_sent=sent,
                                      files=int(result.get("output_files", 0) or 0)))
    elif result.get("bytes_sent") is not None:
        out["BytesSent"] = real(float(result["bytes_sent"]))
    return out


def _committed(job: Job, now: int) -> Updates:
    """terminateJob: the run counts as committed time (weighted by the slot)."""
    start = _int(job, "JobCurrentStartDate")
    if start <= 0:
        return {}
    delta = now - start
    weight = _float(job, "MachineAttrSlotWeight0", 1.0)
    return {"CommittedSlotTime": real(_float(job, "CommittedSlotTime") + weight * delta),
            "CommittedTime": str(_int(job, "CommittedTime") + delta)}


def _wall_clock(job: Job, now: int) -> Updates:
    """update_remote_wall_clock: the run's wall time, added to the job's total and, times
    the slot weight, to CumulativeSlotTime (written with %f)."""
    bday = _int(job, "ShadowBday")
    if not bday:
        return {}
    delta = float(now - bday)
    weight = _float(job, "MachineAttrSlotWeight0", 1.0)
    return {"LastRemoteWallClockTime": schedd_float(delta),
            "RemoteWallClockTime": schedd_float(_float(job, "RemoteWallClockTime") + delta),
            "WallClockCheckpoint": None,
            "CumulativeSlotTime": schedd_float(_float(job, "CumulativeSlotTime") + delta * weight)}


_CLAIM_ATTRS = ("ClaimId", "PublicClaimId", "ClaimIds", "PublicClaimIds", "StartdIpAddr",
                "RemoteHost", "RemotePool", "RemoteSlotID", "DelegatedProxyExpiration",
                "TransferringInput", "TransferringOutput", "TransferQueued")


def shadow_gone(job: Job, now: int) -> Updates:
    """delete_shadow_rec: the wall clock, the Last* copies of the claim's attributes, and
    the claim's attributes removed."""
    out = _wall_clock(job, now)
    if job.get("RemoteHost") is not None:
        out["LastRemoteHost"] = job["RemoteHost"]
    if job.get("RemotePool") is not None:
        out["LastRemotePool"] = job["RemotePool"]
    else:
        out["LastRemotePool"] = None
    if job.get("PublicClaimId") is not None:
        out["LastPublicClaimId"] = job["PublicClaimId"]
    if job.get("PublicClaimIds") is not None:
        out["LastPublicClaimIds"] = job["PublicClaimIds"]
    for name in _CLAIM_ATTRS:
        out[name] = None
    out["ShadowBday"] = None
    return out


def _apply(job: Job, updates: Updates) -> dict:
    """The job as it reads after ``updates`` (for the steps that follow)."""
    merged = dict(job)
    for k, v in updates.items():
        if v is None:
            merged.pop(k, None)
        else:
            merged[k] = v
    return merged


def _chain(job: Job, *steps) -> Updates:
    """Run steps (functions of the job as it stands) one after the other, each seeing the
    previous ones' changes; the changes in order, a later value of a name replacing an
    earlier one at the later place (as a second SetAttribute would)."""
    out: Updates = {}
    current = dict(job)
    for step in steps:
        ups = step(current)
        for k, v in ups.items():
            out.pop(k, None)
            out[k] = v
        current = _apply(current, ups)
    return out


def shadow_exit_view(job: Job, now: int, result: Mapping[str, object]) -> Job:
    """The job ad as the shadow holds it when the job has exited, before it tells the
    schedd: what it writes to the epoch history."""
    return _apply(job, _chain(job, lambda j: final_report(j, now, result, completed=True),
                              lambda j: _output_report(j, now, result)))


def on_exit(job: Job, now: int, result: Mapping[str, object]) -> Updates:
    """The job exited by itself and leaves the queue as Completed: the starter's final
    report (``result``: ``exit_code``, ``exit_by_signal``, ``exit_signal``, ``user_cpu``,
    ``sys_cpu``, ``wall``, ``bytes_sent``, ``bytes_recvd``, ``image_size_kb``, ``rss_kb``,
    ``disk_kb``), the shadow's terminate update, the schedd's Completed status and its
    clean-up of the shadow and the claim."""
    return _chain(
        job,
        lambda j: final_report(j, now, result, completed=True),
        lambda j: _output_report(j, now, result),
        lambda j: {**_committed(j, now), "TerminationPending": "true"},
        lambda j: _set_status(j, COMPLETED, now),
        lambda j: shadow_gone(j, now),
        lambda j: {"CurrentHosts": "0", "CompletionDate": str(now), "JobFinishedHookDone": str(now)},
    )


def _set_status(job: Job, status: int, now: int) -> Updates:
    out: Updates = {}
    old = _int(job, "JobStatus", IDLE)
    if old != status:
        out["LastJobStatus"] = str(old)
    out["JobStatus"] = str(status)
    out["EnteredCurrentStatus"] = str(now)
    return out


def vacate_request(job: Job, reason: str, code: int, subcode: int = 0) -> Updates:
    """What the schedd writes when it interrupts a running job (abort_job_myself), unless
    a vacate reason is already there: the reason and codes, counted per code as
    qmgmt's SetAttribute of VacateReasonCode does (NumVacates, NumVacatesByReason;
    a job that had not begun executing counts in the PreExecution twins too)."""
    if job.get("VacateReason") is not None:
        return {}
    out: Updates = {"VacateReason": quote(reason)}
    pre = (_int(job, "JobCurrentStartExecutingDate") == 0
           or _int(job, "ShadowBday") > _int(job, "JobCurrentStartExecutingDate"))
    by = VACATE_CODE_NAMES.get(code, "Unspecified")
    for suffix in ("", "PreExecution") if pre else ("",):
        out["NumVacates" + suffix] = str(_int(job, "NumVacates" + suffix) + 1)
        counts = reason_counts(job.get("NumVacatesByReason" + suffix))
        counts[by] = counts.get(by, 0) + 1
        out["NumVacatesByReason" + suffix] = "[ " + "; ".join(f"{k} = {v}" for k, v in counts.items()) + " ]"
    out["VacateReasonCode"] = str(code)
    out["VacateReasonSubCode"] = str(subcode)
    return out


def _stopped(job: Job, now: int) -> Updates:
    """_mark_job_stopped: no hosts, no shadow birthday and, for a job still Running,
    Idle again."""
    out: Updates = {"CurrentHosts": "0", "ShadowBday": None}
    if _int(job, "JobStatus") in (RUNNING, 6, 7):
        out.update(_set_status(job, IDLE, now))
        out["LastSuspensionTime"] = "0"
        if job.get("OrigMaxHosts") is not None:
            out["MaxHosts"] = job["OrigMaxHosts"]
        out["RemotePool"] = None
    return out


def on_evict(job: Job, now: int, usage: Mapping[str, object], *, requeue: bool = True,
             reason: str = "", code: int = 0, subcode: int = 0) -> Updates:
    """The run ended without the job exiting (condor_vacate_job, the startd's preemption,
    a starter lost for good): the starter's last report, the shadow's evict update
    (LastVacateTime, the vacate reason: the one the schedd set, else ``reason`` or
    "Unspecified job interruption"), then the schedd's clean-up; with ``requeue`` the job
    is Idle again (when it was still Running)."""
    def evict(j: Job) -> Updates:
        out: Updates = {"LastVacateTime": str(now)}
        if j.get("VacateReason") is None:
            text, c = (reason, code) if reason else ("Unspecified job interruption", JOB_SHOULD_REQUEUE)
            out.update(vacate_request(j, text, c, subcode))
        return out
    steps = [lambda j: final_report(j, now, usage, completed=False) if usage else {},
             evict, lambda j: shadow_gone(j, now)]
    if requeue:
        steps.append(lambda j: _stopped(j, now))
    else:
        steps.append(lambda j: {"CurrentHosts": "0"})
    return _chain(job, *steps)


def hold(job: Job, now: int, reason: str, code: int, subcode: int = 0) -> Updates:
    """The schedd's holdJobRaw (what :func:`condor_sim.jobqueue.rules.hold` writes in a
    transaction), as changes."""
    out: Updates = {"HoldReason": quote(reason), "NumHolds": str(_int(job, "NumHolds") + 1)}
    counts = reason_counts(job.get("NumHoldsByReason"))
    by = HOLD_REASON_NAMES.get(code) or VACATE_CODE_NAMES.get(code) or f"Code{code}"
    counts[by] = counts.get(by, 0) + 1
    out["NumHoldsByReason"] = "[ " + "; ".join(f"{k} = {v}" for k, v in counts.items()) + " ]"
    out["HoldReasonCode"] = str(code)
    out["HoldReasonSubCode"] = str(subcode)
    st = _set_status(job, HELD, now)
    st.pop("EnteredCurrentStatus")
    out.update(st)
    if job.get("ReleaseReason") is not None:
        out["LastReleaseReason"] = job["ReleaseReason"]
        out["ReleaseReason"] = None
    out["EnteredCurrentStatus"] = str(now)
    out["LastSuspensionTime"] = "0"
    return out


def on_hold_running(job: Job, now: int, usage: Mapping[str, object], reason: str, code: int,
                    subcode: int = 0) -> Updates:
    """A running job put on hold (condor_hold, or a periodic hold): the schedd's hold
    unless the job is already Held (a caller that applied ``rules.hold`` in the user's
    transaction), the vacate reason it gives the shadow, then the run's end and clean-up
    (the job stays Held)."""
    def held(j: Job) -> Updates:
        return {} if _int(j, "JobStatus") == HELD else hold(j, now, reason, code, subcode)
    return _chain(job, held,
                  lambda j: vacate_request(j, reason, code, subcode),
                  lambda j: final_report(j, now, usage, completed=False) if usage else {},
                  lambda j: {"LastVacateTime": str(now)},
                  lambda j: shadow_gone(j, now),
                  lambda j: {"CurrentHosts": "0"})


def on_remove_running(job: Job, now: int, usage: Mapping[str, object], reason: str) -> Updates:
    """A running job removed: the schedd's Removed status and RemoveReason, the vacate
    reason (code 1023, JobRemoved) it gives the shadow, the starter's last report, the
    shadow's remove update, then the clean-up; the job then leaves the queue."""
    def removed(j: Job) -> Updates:
        if _int(j, "JobStatus") == REMOVED:
            return {}
        out = _set_status(j, REMOVED, now)
        out.pop("EnteredCurrentStatus")
        out["RemoveReason"] = quote(reason)
        out["EnteredCurrentStatus"] = str(now)
        out["JobStatusOnRelease"] = None
        return out
    return _chain(job, removed,
                  lambda j: vacate_request(j, reason, JOB_REMOVED),
                  lambda j: final_report(j, now, usage, completed=False) if usage else {},
                  lambda j: {"LastVacateTime": str(now)},
                  lambda j: {"JobStatus": str(REMOVED), "EnteredCurrentStatus": str(now)},
                  lambda j: shadow_gone(j, now),
                  lambda j: {"CurrentHosts": "0", "JobAbortEventLogged": "1",
                             "JobFinishedHookDone": str(now)})


def on_exit_requeue(job: Job, now: int, result: Mapping[str, object], reason: str) -> Updates:
    """The job exited but OnExitRemove was false: the final report (a completion all the
    same), the shadow's requeue update (RequeueReason), then the schedd's clean-up; the
    job is Idle again."""
    return _chain(job,
                  lambda j: final_report(j, now, result, completed=True),
                  lambda j: _output_report(j, now, result),
                  lambda j: {"RequeueReason": quote(reason)},
                  lambda j: shadow_gone(j, now),
                  lambda j: _stopped(j, now))


def on_exit_hold(job: Job, now: int, result: Mapping[str, object], reason: str, code: int,
                 subcode: int = 0) -> Updates:
    """The job exited and its policy holds it (OnExitHold, or a periodic hold seen at
    exit): the final report, then the hold and the schedd's clean-up."""
    return _chain(job,
                  lambda j: final_report(j, now, result, completed=True),
                  lambda j: _output_report(j, now, result),
                  lambda j: hold(j, now, reason, code, subcode),
                  lambda j: shadow_gone(j, now),
                  lambda j: {"CurrentHosts": "0"})
