"""The log lines of a running job (the running-jobs section of condor_sim.texts), each
formatted with the values of the real capture and found, word for word, in the daemon log
the real 25.14 pool wrote (fixtures/real-logs: main25 ran and completed an echo job, main24
also removed two running sleep jobs)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from condor_sim import texts as T

LOGS = Path(__file__).resolve().parent.parent / "fixtures" / "real-logs"
STAMP = re.compile(r"^\d\d/\d\d/\d\d \d\d:\d\d:\d\d ")
PID = re.compile(r"^\(pid:\d+\) ")

SCHEDD = "<127.0.0.1:29745?addrs=127.0.0.1-29745&alias=vm>"
STARTD = "<127.0.0.1:29706?addrs=127.0.0.1-29706&alias=vm>"
STARTD24 = "<127.0.0.1:29766?addrs=127.0.0.1-29766&alias=vm>"
SCRATCH = "/srv/rc/pools/main25/execute/dir_7040/scratch"
HEADER = T.SHADOW_JOB_HEADER.format(job="2.0", pid=7039)
CHILD = T.SHADOW_CHILD_HEADER.format(job="2.0", pid=7039, child=7041)
HEADER24 = T.SHADOW_JOB_HEADER.format(job="1.0", pid=8194)
SLOT = "slot1_1"

CASES = [
    # log, constant, values, text before the constant's (a shadow job header)
    ("main25/NegotiatorLog", "NEGOTIATION_CYCLE_STARTED", {}, ""),
    ("main25/NegotiatorLog", "NEGOTIATION_PHASE_1", {}, ""),
    ("main25/NegotiatorLog", "NEGOTIATION_GETTING_PRIVATE_ADS", {}, ""),
    ("main25/NegotiatorLog", "NEGOTIATION_GETTING_ADS", {}, ""),
    ("main25/NegotiatorLog", "NEGOTIATION_SORTING_ADS", {"count": 2}, ""),
    ("main25/NegotiatorLog", "NEGOTIATION_GOT_ADS", {"public": 2, "private": 1}, ""),
    ("main25/NegotiatorLog", "NEGOTIATION_PUBLIC_ADS", {"submitters": 1, "startds": 1}, ""),
    ("main25/NegotiatorLog", "NEGOTIATION_PHASE_2", {}, ""),
    ("main25/NegotiatorLog", "NEGOTIATION_SIGNIFICANT_ATTRS",
     {"attrs": "CatalogID,catalogs,CatalogSize,RequestCpus,RequestDisk,RequestedCatalogIDs,"
               "RequestedCatalogs,RequestGPUs,RequestMemory"}, ""),
    ("main25/NegotiatorLog", "NEGOTIATION_PHASE_3", {}, ""),
    ("main25/NegotiatorLog", "PREFETCH_ROUND", {"count": 1}, ""),
    ("main25/NegotiatorLog", "PREFETCH_SUBMITTER", {"submitter": "htcpool@vm"}, ""),
    ("main25/NegotiatorLog", "NEGOTIATION_NO_MORE_JOBS", {}, ""),
    ("main25/NegotiatorLog", "PREFETCH_SUMMARY", {"attempted": 1, "successful": 1}, ""),
    ("main25/NegotiatorLog", "NEGOTIATION_PHASE_4", {}, ""),
    ("main25/NegotiatorLog", "NEGOTIATING_WITH", {"submitter": "htcpool@vm", "schedd": SCHEDD}, ""),
    ("main25/NegotiatorLog", "SECONDS_FOR_SUBMITTER", {"seconds": 0}, ""),
    ("main25/NegotiatorLog", "SECONDS_FOR_SCHEDD", {"seconds": 0}, ""),
    ("main25/NegotiatorLog", "NEGOTIATION_REQUEST",
     {"cluster": 2, "proc": 0, "autocluster": 1, "n": 1, "total": 1}, ""),
    ("main25/NegotiatorLog", "MATCHED", {"job": "2.0", "submitter": "htcpool@vm", "schedd": SCHEDD,
                                         "preempting": "none", "startd": STARTD, "slot": "slot1@vm"}, ""),
    ("main25/MatchLog", "MATCHED", {"job": "2.0", "submitter": "htcpool@vm", "schedd": SCHEDD,
                                    "preempting": "none", "startd": STARTD, "slot": "slot1@vm"}, ""),
    ("main25/NegotiatorLog", "SUCCESSFULLY_MATCHED", {"slot": "slot1@vm"}, ""),
    ("main25/NegotiatorLog", "RESOURCES_USED", {"count": 1}, ""),
    ("main25/NegotiatorLog", "NEGOTIATION_CYCLE_FINISHED", {}, ""),

    ("main25/SchedLog", "SCHEDD_NEGOTIATING_FOR",
     {"submitter": "htcpool@vm", "name": "vm", "host": "127.0.0.1"}, ""),
    ("main25/SchedLog", "SCHEDD_REBUILT_RUNNABLE", {"seconds": 0.0}, ""),
    ("main25/SchedLog", "SCHEDD_NEGOTIATION_ENDED", {"matched": 1}, ""),
    ("main25/SchedLog", "SCHEDD_FINISHED_NEGOTIATING", {"owner": "htcpool", "matched": 1, "rejected": 0}, ""),
    ("main25/SchedLog", "SCHEDD_SHADOW_BIRTHDATE", {"job": "2.0"}, ""),
    ("main25/SchedLog", "SCHEDD_STARTED_SHADOW",
     {"job": "2.0", "slot": "slot1_1@vm", "startd": STARTD, "owner": "htcpool", "pid": 7039}, ""),
    ("main25/SchedLog", "SCHEDD_SHADOW_EXIT_REASON", {"pid": 7039, "job": "2.0", "reason": 100}, ""),
    ("main25/SchedLog", "SCHEDD_MATCH_DELETED",
     {"slot": "slot1_1@vm", "startd": STARTD, "owner": "htcpool", "job": "2.0"}, ""),
    ("main25/SchedLog", "SCHEDD_RELEASED_CLAIM", {"slot": "slot1_1@vm", "startd": STARTD, "owner": "htcpool"}, ""),

    ("main25/ShadowLog", "SHADOW_INITIALIZING", {"universe": "VANILLA", "job": "2.0"}, ""),
    ("main25/ShadowLog", "SHADOW_REQUEST_ACCEPTED", {"slot": "slot1_1@vm", "startd": STARTD}, HEADER),
    ("main25/ShadowLog", "SANDBOX_TOO_SMALL_TO_QUEUE", {"size": 43856, "limit": 104857600}, CHILD),
    ("main25/ShadowLog", "TRANSFER_EXIT_INFO",
     {"success": "True", "code": 0, "subcode": 0, "error": "", "ack": "BOTH", "line": 0,
      "files": 1, "retry": "False"}, CHILD),
    ("main25/ShadowLog", "FILE_TRANSFER_SUCCEEDED", {}, HEADER),
    ("main25/ShadowLog", "SHADOW_DEACTIVATE_JOB_DONE", {}, HEADER),
    ("main25/ShadowLog", "SHADOW_JOB_TERMINATED", {"job": "2.0", "how": T.TERMINATED_EXITED, "value": 0},
     HEADER),
    ("main25/ShadowLog", "SHADOW_EXIT_REASON", {"reason": 100}, HEADER),
    ("main24/ShadowLog", "SHADOW_GRACEFUL_REMOVAL", {}, HEADER24),
    ("main24/ShadowLog", "SHADOW_DEACTIVATE", {}, HEADER24),
    ("main24/ShadowLog", "SHADOW_JOB_EVICTED", {"job": "1.0", "slot": "slot1_1@vm"}, HEADER24),

    ("main25/StarterLog.slot1_1", "STARTER_SHADOW",
     {"shadow": "<127.0.0.1:29704?addrs=127.0.0.1-29704&alias=vm&noUDP>"}, ""),
    ("main25/StarterLog.slot1_1", "STARTER_SUBMIT_HOST", {"host": "127.0.0.1"}, ""),
    ("main25/StarterLog.slot1_1", "STARTER_ORIG_NAME", {}, ""),
    ("main25/StarterLog.slot1_1", "STARTER_ORIG_IWD", {}, ""),
    ("main25/StarterLog.slot1_1", "STARTER_CHIRP_SUMMARY", {"io": "false", "updates": "false", "delayed": "true"}, ""),
    ("main25/StarterLog.slot1_1", "STARTER_IO_PROXY", {}, ""),
    ("main25/StarterLog.slot1_1", "STARTER_LIMITS_DONE", {}, ""),
    ("main25/StarterLog.slot1_1", "STARTER_ASKS_GUIDANCE", {"topic": "JobSetup"}, ""),
    ("main25/StarterLog.slot1_1", "STARTER_ASKS_GUIDANCE", {"topic": "JobEnvironment"}, ""),
    ("main25/StarterLog.slot1_1", "STARTER_RUNTIME_ADS",
     {"job_ad": SCRATCH + "/.job.ad", "machine_ad": SCRATCH + "/.machine.ad"}, ""),
    ("main25/StarterLog.slot1_1", "FILE_TRANSFER_SUCCEEDED", {}, ""),
    ("main25/StarterLog.slot1_1", "SANDBOX_TOO_SMALL_TO_QUEUE", {"size": 25, "limit": 104857600}, ""),
    ("main25/StarterLog.slot1_1", "STARTER_GUIDANCE", {"guidance": "StartJob"}, ""),
    ("main25/StarterLog.slot1_1", "STARTER_START_AS_GUIDED", {}, ""),
    ("main24/StarterLog.slot1_1", "STARTER_GUIDANCE", {"guidance": "CarryOn"}, ""),
    ("main24/StarterLog.slot1_1", "STARTER_CARRY_ON", {}, ""),
    ("main25/StarterLog.slot1_1", "STARTER_EXECUTE_NOW", {"job": "2.0"}, ""),
    ("main25/StarterLog.slot1_1", "STARTER_STARTING_JOB", {"universe": "VANILLA", "job": "2.0"}, ""),
    ("main25/StarterLog.slot1_1", "STARTER_IWD", {"iwd": SCRATCH}, ""),
    ("main25/StarterLog.slot1_1", "STARTER_OUTPUT_FILE", {"path": SCRATCH + "/_condor_stdout"}, ""),
    ("main25/StarterLog.slot1_1", "STARTER_ERROR_FILE", {"path": SCRATCH + "/_condor_stderr"}, ""),
    ("main25/StarterLog.slot1_1", "STARTER_RENICE", {"expr": "0", "value": 0}, ""),
    ("main25/StarterLog.slot1_1", "STARTER_SAME_UID", {}, ""),
    ("main25/StarterLog.slot1_1", "STARTER_ABOUT_TO_EXEC",
     {"command": SCRATCH + "/echo hello from a capture job"}, ""),
    ("main25/StarterLog.slot1_1", "STARTER_PROCESS_CREATED", {"pid": 7043}, ""),
    ("main25/StarterLog.slot1_1", "STARTER_PROCESS_EXITED", {"pid": 7043, "status": 0}, ""),
    ("main25/StarterLog.slot1_1", "STARTER_REAPER_DONE", {}, ""),
    ("main25/StarterLog.slot1_1", "STARTER_ALL_EXITED", {}, ""),
    ("main24/StarterLog.slot1_1", "STARTER_VACATE_CODE",
     {"code": 1009, "subcode": 0, "reason": "Claim deactivated"}, ""),
    ("main24/StarterLog.slot1_1", "STARTER_SHUTDOWN_GRACEFUL", {}, ""),
    ("main24/StarterLog.slot1_1", "STARTER_PROCESS_SIGNALED", {"pid": 8198, "signal": 15}, ""),

    ("main25/StartLog", "STARTD_BIND_DEVICES", {"tag": "GPUs", "constraint": ""}, ""),
    ("main25/StartLog", "STARTD_NEW_DSLOT", {"slot": SLOT}, ""),
    ("main25/StartLog", "STARTD_DSLOT_RESOURCES",
     {"slot": SLOT, "cpus": 1, "memory": 128, "swap": 0, "disk": 1024, "gpus": 0}, ""),
    ("main25/StartLog", "STARTD_REQUEST_ACCEPTED", {"slot": "slot1"}, ""),
    ("main25/StartLog", "STARTD_REMOTE_OWNER", {"slot": SLOT, "owner": "htcpool@vm"}, ""),
    ("main25/StartLog", "STARTD_CHANGING_STATE", {"slot": SLOT, "old": "Owner", "new": "Claimed"}, ""),
    ("main25/StartLog", "STARTD_CLAIMED", {"slot": SLOT}, ""),
    ("main25/StartLog", "STARTD_ACTIVATE_REQUEST", {"slot": SLOT, "ip": "127.0.0.1"}, ""),
    ("main25/StartLog", "STARTD_REMOTE_JOB", {"slot": SLOT, "job": "2.0"}, ""),
    ("main25/StartLog", "STARTD_UNIVERSE", {"slot": SLOT, "universe": "VANILLA", "number": 5}, ""),
    ("main25/StartLog", "STARTD_ACTIVATED", {"slot": SLOT, "pid": 7040}, ""),
    ("main25/StartLog", "STARTD_CHANGING_ACTIVITY", {"slot": SLOT, "old": "Idle", "new": "Busy"}, ""),
    ("main25/StartLog", "STARTD_FINAL_UPDATE", {"slot": SLOT, "job": "2.0", "unread": 0}, ""),
    ("main25/StartLog", "STARTD_CHANGING_ACTIVITY", {"slot": SLOT, "old": "Busy", "new": "Cleaning"}, ""),
    ("main25/StartLog", "STARTD_FINAL_UPDATE_ASSUMED", {"slot": SLOT, "job": "2.0"}, ""),
    ("main25/StartLog", "STARTD_STARTER_EXITED", {"pid": 7040, "status": 0}, ""),
    ("main25/StartLog", "STARTD_STARTER_GONE", {"slot": SLOT, "state": "Claimed", "activity": "Cleaning"}, ""),
    ("main25/StartLog", "STARTD_CHANGING_ACTIVITY", {"slot": SLOT, "old": "Cleaning", "new": "Idle"}, ""),
    ("main25/StartLog", "STARTD_DEACTIVATED_JOB_DONE", {"slot": SLOT}, ""),
    ("main24/StartLog", "STARTD_DEACTIVATED", {"slot": SLOT}, ""),
    ("main25/StartLog", "STARTD_RELEASE_CLAIM", {"slot": SLOT}, ""),
    ("main25/StartLog", "STARTD_CHANGING_STATE_ACTIVITY",
     {"slot": SLOT, "old_state": "Claimed", "old_activity": "Idle", "new_state": "Preempting",
      "new_activity": "Killing"}, ""),
    ("main25/StartLog", "STARTD_NO_PREEMPTING_CLAIM", {"slot": SLOT}, ""),
    ("main25/StartLog", "STARTD_NOT_OWNER", {"slot": SLOT}, ""),
    ("main25/StartLog", "STARTD_CHANGING_STATE", {"slot": SLOT, "old": "Owner", "new": "Unclaimed"}, ""),
    ("main25/StartLog", "STARTD_DSLOT_DELETED", {"slot": SLOT, "name": SLOT}, ""),
    ("main24/StartLog", "STARTD_CHANGING_STATE_ACTIVITY",
     {"slot": "slot1_2", "old_state": "Claimed", "old_activity": "Cleaning", "new_state": "Preempting",
      "new_activity": "Vacating"}, ""),
]


def bodies(log: str) -> set[str]:
    """The log's lines without their time stamp and ``(pid:N)`` header."""
    return {PID.sub("", STAMP.sub("", line)) for line in (LOGS / log).read_text().splitlines()}


@pytest.mark.parametrize("log, name, values, header", CASES, ids=[f"{c[1]}-{c[0]}" for c in CASES])
def test_constant_is_a_captured_line(log, name, values, header):
    line = header + getattr(T, name).format(**values)
    assert line in bodies(log)


def test_every_constant_of_the_section_is_checked():
    text = (Path(T.__file__)).read_text()
    section = text[text.index("# -- running jobs"):]
    names = set(re.findall(r"^([A-Z][A-Z0-9_]+) = ", section, re.M))
    checked = {c[1] for c in CASES} | {"SHADOW_JOB_HEADER", "SHADOW_CHILD_HEADER",
                                       "TERMINATED_EXITED", "TERMINATED_SIGNALED"}
    assert names - checked == set()
