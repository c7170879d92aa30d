"""The user job event log writer against what real HTCondor 25.14 wrote (fixtures/userlogs:
the job logs of the capture pools and of the command-line captures): every captured log is
rebuilt, byte for byte, from the values the real reader finds in it, and what we write reads
back with the real readers (htcondor2 and the v1 htcondor 24) to the same fields."""
from __future__ import annotations

import fcntl
import json
import os
import re
import stat
import subprocess
import time
from pathlib import Path

import htcondor2
import pytest

from condor_sim.jobqueue import userlog
from support.clients import v1_python
from condor_sim.jobqueue.userlog import Event, Transfer, UserLogWriter

LOGS = Path(__file__).resolve().parent.parent / "fixtures" / "userlogs"
CAPTURED = sorted(LOGS.glob("*.log"))
VENV24 = Path(v1_python() or "/nonexistent")


@pytest.fixture
def tz():
    """Set the process's time zone (the capture machines ran in UTC) and restore it."""
    old = os.environ.get("TZ")

    def set_tz(name: str) -> None:
        os.environ["TZ"] = name
        time.tzset()
        userlog._stamp.cache_clear()

    yield set_tz
    if old is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = old
    time.tzset()
    userlog._stamp.cache_clear()


# ------------------------------------------------------------------ values out of a captured log

def split_events(text: str) -> list[str]:
    return [chunk + userlog.SYNC_LINE for chunk in text.split(userlog.SYNC_LINE)[:-1]]


def rusage(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"Usr (\d+) (\d+):(\d+):(\d+), Sys (\d+) (\d+):(\d+):(\d+)", text)
    d = [int(x) for x in m.groups()]
    return (d[0] * 86400 + d[1] * 3600 + d[2] * 60 + d[3],
            d[4] * 86400 + d[5] * 3600 + d[6] * 60 + d[7])


def usage_table(event_text: str) -> dict:
    """The usage ad behind a "Partitionable Resources" table (the reader does not give it
    back for evicted events), in the order the real one is spelled: allocation first."""
    usage: dict = {}
    rows = event_text.split("\tPartitionable Resources :", 1)
    if len(rows) < 2:
        return usage
    for line in rows[1].splitlines()[1:-1]:
        label, cells = line.strip("\t").split(" : ", 1)
        name = re.sub(r" \((MB|KB|s|Average)\)$", "", label.strip())
        use, req, alloc = cells[0:8].strip(), cells[9:17].strip(), cells[18:27].strip()
        for key, value in ((name, alloc), ("Request" + name, req), (name + "Usage", use)):
            if value:
                usage[key] = float(value) if "." in value else int(value)
    return usage


def rebuild(ev, text: str) -> str:
    """Our text for one captured event, from the fields the real reader gives for it."""
    f = dict(ev.items())
    where = (ev.cluster, ev.proc, ev.timestamp)
    kind = Event(ev.type)
    if kind is Event.SUBMIT:
        notes = dict(f["StructuredNotes"]) if "StructuredNotes" in f else None
        return userlog.submit_event(*where, f["SubmitHost"], structured_notes=notes,
                                    log_notes="" if notes else f.get("LogNotes", ""))
    if kind is Event.EXECUTE:
        return userlog.execute_event(*where, f["ExecuteHost"], slot_name=f.get("SlotName", ""),
                                     props=dict(f.get("ExecuteProps", {})))
    if kind is Event.IMAGE_SIZE:
        return userlog.image_size_event(*where, f["Size"], memory_usage_mb=f.get("MemoryUsage"),
                                        resident_set_size_kb=f.get("ResidentSetSize"),
                                        proportional_set_size_kb=f.get("ProportionalSetSize"))
    if kind is Event.JOB_EVICTED:
        return userlog.evicted_event(
            *where, reason=f.get("Reason", ""), reason_code=f.get("ReasonCode", 0),
            reason_subcode=f.get("ReasonSubCode", 0), checkpointed=f["Checkpointed"],
            terminate_and_requeued=f["TerminatedAndRequeued"],
            run_remote_usage=rusage(f["RunRemoteUsage"]),
            run_local_usage=rusage(f["RunLocalUsage"]), sent_bytes=f["SentBytes"],
            recvd_bytes=f["ReceivedBytes"], usage=usage_table(text))
    if kind is Event.JOB_TERMINATED:
        usage = usage_table(text)
        assert {k: f[k] for k in usage} == usage          # the reader flattens the table
        return userlog.terminated_event(
            *where, normal=f["TerminatedNormally"], return_value=f["ReturnValue"],
            run_remote_usage=rusage(f["RunRemoteUsage"]),
            run_local_usage=rusage(f["RunLocalUsage"]),
            total_remote_usage=rusage(f["TotalRemoteUsage"]),
            total_local_usage=rusage(f["TotalLocalUsage"]),
            sent_bytes=f["SentBytes"], recvd_bytes=f["ReceivedBytes"],
            total_sent_bytes=f["TotalSentBytes"], total_recvd_bytes=f["TotalReceivedBytes"],
            usage=usage)
    if kind is Event.JOB_ABORTED:
        return userlog.aborted_event(*where, f.get("Reason", ""))
    if kind is Event.JOB_HELD:
        return userlog.held_event(*where, f.get("HoldReason", ""), f["HoldReasonCode"],
                                  f["HoldReasonSubCode"])
    if kind is Event.JOB_RELEASED:
        return userlog.released_event(*where, f.get("Reason", ""))
    if kind is Event.JOB_SUSPENDED:
        return userlog.suspended_event(*where, f["NumberOfPIDs"])
    if kind is Event.JOB_UNSUSPENDED:
        return userlog.unsuspended_event(*where)
    if kind is Event.JOB_DISCONNECTED:
        return userlog.disconnected_event(*where, f["DisconnectReason"], f["StartdName"],
                                          f["StartdAddr"])
    if kind is Event.JOB_RECONNECTED:
        return userlog.reconnected_event(*where, f["StartdName"], f["StartdAddr"],
                                         f["StarterAddr"])
    if kind is Event.FILE_TRANSFER:
        return userlog.file_transfer_event(*where, f["Type"], host=f.get("Host", ""),
                                           queueing_delay=f.get("QueueingDelay"))
    raise AssertionError(f"no builder for event {ev.type}")


def flat(value) -> str:
    """A field as text the same way in both readers (ClassAd values as sorted attributes)."""
    if hasattr(value, "items"):
        return repr(sorted((k, str(v)) for k, v in value.items()))
    return str(value)


def read_v2(path: Path) -> list[dict]:
    return [{"type": int(e.type), "cluster": e.cluster, "proc": e.proc,
             "timestamp": e.timestamp, **{k: flat(v) for k, v in e.items()}}
            for e in htcondor2.JobEventLog(str(path)).events(0)]


V1_READER = """
import json, sys, warnings
warnings.simplefilter("ignore")
import htcondor

def flat(value):
    if hasattr(value, "items"):
        return repr(sorted((k, str(v)) for k, v in value.items()))
    return str(value)

out = []
for path in sys.argv[1:]:
    out.append([{"type": int(e.type), "cluster": e.cluster, "proc": e.proc,
                 "timestamp": e.timestamp, **{k: flat(v) for k, v in e.items()}}
                for e in htcondor.JobEventLog(path).events(0)])
print(json.dumps(out))
"""


def v1_view(events: list[dict]) -> list[dict]:
    """What the v1 reader (24.0) makes of the same events (of the real logs too): it leaves
    out an eviction's ReasonCode and ReasonSubCode, and its "Reason: ..." line unless the
    job was requeued (that reason has no "Reason: ")."""
    def dropped(e: dict) -> tuple[str, ...]:
        if e["type"] != Event.JOB_EVICTED:
            return ()
        return ("ReasonCode", "ReasonSubCode") + (
            () if e["TerminatedAndRequeued"] == "True" else ("Reason",))
    return [{k: v for k, v in e.items() if k not in dropped(e)} for e in events]


def read_v1(*paths: Path) -> list[list[dict]]:
    env = dict(os.environ, TZ=os.environ.get("TZ", "UTC"))
    done = subprocess.run([str(VENV24), "-c", V1_READER, *map(str, paths)], env=env,
                          capture_output=True, text=True, timeout=60, check=True)
    return json.loads(done.stdout)


# ---------------------------------------------------------------------------------- the tests

def test_the_capture_machines_wrote_local_time_in_utc():
    # main25: cluster 1 was queued (QDate 1795473566 in its job_queue.log) at the stamp of
    # its first submit event, so the stamps are local time of a UTC machine
    first = (LOGS / "main25-sleep.v25.log").read_text().splitlines()[0]
    assert "2026-11-23 22:39:26" in first
    assert time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(1795473566)) == "2026-11-23 22:39:26"


@pytest.mark.parametrize("path", CAPTURED, ids=lambda p: p.stem)
def test_captured_log_rebuilt_byte_for_byte(path: Path, tz, tmp_path):
    tz("UTC")
    text = path.read_text()
    chunks = split_events(text)
    events = list(htcondor2.JobEventLog(str(path)).events(0))
    assert len(events) == len(chunks) > 0
    rebuilt = [rebuild(ev, chunk) for ev, chunk in zip(events, chunks)]
    for ours, theirs in zip(rebuilt, chunks):
        assert ours == theirs
    out = tmp_path / path.name
    assert UserLogWriter(out).write_many(rebuilt)
    assert out.read_bytes() == path.read_bytes()
    assert read_v2(out) == read_v2(path)        # (equal bytes: the reader sanity-checked too)


def test_every_captured_event_kind_is_covered():
    kinds = {int(line[:3]) for p in CAPTURED for line in p.read_text().splitlines()
             if re.match(r"\d{3} \(", line)}
    assert kinds == {0, 1, 4, 5, 6, 9, 10, 11, 12, 13, 22, 23, 40}


def synthetic_events(when: float) -> list[str]:
    """The events and variants the captures do not have."""
    usage = {"Cpus": 1, "RequestCpus": 1, "CpusUsage": 0.37, "Disk": 1024, "RequestDisk": 1024,
             "DiskUsage": 57, "Memory": 128, "RequestMemory": 16, "MemoryUsage": 6,
             "TimeExecuteUsage": 3, "TimeSlotBusyUsage": 4}
    return [
        userlog.submit_event(5, 0, when, "<127.0.0.1:9618>", log_notes="DAG Node: A",
                             user_notes="my notes", warnings="something odd"),
        userlog.submit_event(5, 1, when, "<127.0.0.1:9618>",
                             structured_notes={"DAGNodeName": 'node "x"\tA',
                                               "JobBatchName": "b", "Prio": 3, "F": 1.5}),
        userlog.execute_event(5, 0, when + 1, "<127.0.0.1:9619>"),
        userlog.image_size_event(5, 0, when + 2, 1000, memory_usage_mb=1,
                                 resident_set_size_kb=900, proportional_set_size_kb=800),
        userlog.image_size_event(5, 0, when + 2, 1000),
        userlog.evicted_event(5, 0, when + 3, checkpointed=True,
                              run_remote_usage=(90061, 61), run_local_usage=(1, 2),
                              sent_bytes=10, recvd_bytes=20.5),
        userlog.evicted_event(5, 0, when + 3, terminate_and_requeued=True, normal=False,
                              signal_number=9, core_file="/tmp/core.1", reason="requeued",
                              usage=usage),
        userlog.evicted_event(5, 0, when + 3, terminate_and_requeued=True, return_value=4,
                              reason_code=1022, reason_subcode=2, reason="vacated"),
        userlog.terminated_event(5, 1, when + 4, normal=False, signal_number=11, usage=usage,
                                 total_remote_usage=(3600, 0), total_sent_bytes=5e9),
        userlog.terminated_event(5, 2, when + 4, normal=False, signal_number=6,
                                 core_file="/scratch/core.42"),
        userlog.held_event(5, 3, when + 5),
        userlog.held_event(5, 4, when + 5, "bad input", 13, 2),
        userlog.released_event(5, 3, when + 6),
        userlog.aborted_event(5, 3, when + 7),
        userlog.file_transfer_event(5, 4, when + 8, Transfer.IN_QUEUED, queueing_delay=0),
        userlog.file_transfer_event(5, 4, when + 8, Transfer.OUT_STARTED, queueing_delay=12,
                                    host="<127.0.0.1:1>"),
    ]


def test_synthetic_events_read_back(tz, tmp_path):
    tz("UTC")
    when = 1795473566.25
    path = tmp_path / "s.log"
    assert UserLogWriter(path).write_many(synthetic_events(when))
    ev = list(htcondor2.JobEventLog(str(path)).events(0))
    assert [int(e.type) for e in ev] == [0, 0, 1, 6, 6, 4, 4, 4, 5, 5, 12, 12, 13, 9, 40, 40]
    assert [e.timestamp for e in ev][:3] == [1795473566, 1795473566, 1795473567]
    assert ev[0]["SubmitHost"] == "<127.0.0.1:9618>"
    assert ev[0]["LogNotes"] == "DAG Node: A" and ev[0]["UserNotes"] == "my notes"
    assert ev[0]["Warnings"] == ("WARNING: Committed job submission into the queue with the "
                                 "following warning(s): something odd")
    notes = ev[1]["StructuredNotes"]
    assert dict(notes) == {"DAGNodeName": 'node "x"\tA', "JobBatchName": "b", "Prio": 3,
                           "F": 1.5}
    assert ev[2]["ExecuteHost"] == "<127.0.0.1:9619>" and "SlotName" not in ev[2]
    assert (ev[3]["Size"], ev[3]["MemoryUsage"], ev[3]["ResidentSetSize"],
            ev[3]["ProportionalSetSize"]) == (1000, 1, 900, 800)
    assert ev[4]["Size"] == 1000
    assert ev[5]["Checkpointed"] is True
    assert ev[5]["RunRemoteUsage"] == "Usr 1 01:01:01, Sys 0 00:01:01"
    assert (ev[5]["SentBytes"], ev[5]["ReceivedBytes"]) == (10.0, 20.0)
    assert ev[6]["TerminatedAndRequeued"] is True and ev[6]["TerminatedNormally"] is False
    assert ev[6]["TerminatedBySignal"] == 9 and ev[6]["CoreFile"] == "/tmp/core.1"
    assert ev[6]["Reason"] == "requeued"
    assert (ev[7]["ReasonCode"], ev[7]["ReasonSubCode"]) == (1022, 2)
    assert ev[7]["ReturnValue"] == 4 and ev[7]["Reason"] == "vacated"
    assert ev[8]["TerminatedNormally"] is False and ev[8]["TerminatedBySignal"] == 11
    assert ev[8]["CpusUsage"] == pytest.approx(0.37) and ev[8]["RequestMemory"] == 16
    assert ev[8]["TotalRemoteUsage"] == "Usr 0 01:00:00, Sys 0 00:00:00"
    assert ev[8]["TotalSentBytes"] == 5e9
    assert ev[9]["CoreFile"] == "/scratch/core.42"
    assert "HoldReason" not in ev[10] and ev[10]["HoldReasonCode"] == 0    # read as no reason
    assert (ev[11]["HoldReason"], ev[11]["HoldReasonCode"],
            ev[11]["HoldReasonSubCode"]) == ("bad input", 13, 2)
    assert "Reason" not in ev[12] and "Reason" not in ev[13]
    assert (ev[14]["Type"], ev[14]["QueueingDelay"]) == (1, 0)
    assert (ev[15]["Type"], ev[15]["QueueingDelay"], ev[15]["Host"]) == (5, 12, "<127.0.0.1:1>")
    # the v1 reader sees the same
    assert read_v1(path)[0] == v1_view(read_v2(path))


@pytest.mark.skipif(not VENV24.exists(), reason="no v1 client")
def test_v1_reader_reads_rebuilt_captures_alike(tz, tmp_path):
    tz("UTC")
    paths = []
    for src in CAPTURED:
        chunks = split_events(src.read_text())
        events = htcondor2.JobEventLog(str(src)).events(0)
        out = tmp_path / src.name
        UserLogWriter(out).write_many(rebuild(e, c) for e, c in zip(events, chunks))
        paths.append(out)
    v1 = read_v1(*paths, *CAPTURED)
    ours, theirs = v1[:len(paths)], v1[len(paths):]
    assert ours == theirs and all(ours)
    assert ours == [v1_view(read_v2(p)) for p in paths]


def test_usage_table_layout():
    # fractional usage pads the integers of that column to align with the decimals
    table = userlog.format_usage({"Cpus": 1, "RequestCpus": 1, "CpusUsage": 0.25,
                                  "Memory": 128, "MemoryUsage": 6, "RequestMemory": 16,
                                  "AssignedGPUs": "GPU-1", "GPUs": 1})
    assert table == (
        "\tPartitionable Resources :    Usage  Request Allocated Assigned\n"
        "\t   Cpus                 :     0.25        1         1 \n"
        "\t   GPUs                 :                           1 \"GPU-1\"\n"
        "\t   Memory (MB)          :     6          16       128 \n")
    assert userlog.format_usage({}) == ""


def test_usage_from_job_values():
    job = {"ProvisionedResources": "Cpus, Disk, GPUs, Memory", "CpusProvisioned": 1,
           "RequestCpus": 1, "CpusUsage": 0.0, "DiskProvisioned": 1024, "RequestDisk": 1024,
           "DiskUsage": 57, "GPUsProvisioned": 0, "MemoryProvisioned": 128,
           "requestmemory": 16, "MemoryUsage": 6, "ActivationExecutionDuration": 0,
           "ActivationDuration": 1, "Cmd": "/bin/echo"}
    usage = userlog.usage_from_job(job)
    assert usage == {"Cpus": 1, "RequestCpus": 1, "CpusUsage": 0.0, "Disk": 1024,
                     "RequestDisk": 1024, "DiskUsage": 57, "GPUs": 0, "Memory": 128,
                     "RequestMemory": 16, "MemoryUsage": 6, "TimeExecuteUsage": 0,
                     "TimeSlotBusyUsage": 1}
    echo = (LOGS / "main25-echo.v25.log").read_text()
    table = echo[echo.index("\tPartitionable"):echo.rindex("...")]
    assert userlog.format_usage(usage) == table


def test_submit_event_for_job_from_ad_values(tz):
    tz("UTC")
    batch = split_events((LOGS / "cli-batch.log").read_text())[0]
    job = {"ClusterId": 7, "ProcId": 0, "JobBatchName": "nightly", "Owner": "htcpool"}
    host = "<127.0.0.1:39467?addrs=127.0.0.1-39467&alias=vm>"
    ours = userlog.submit_event_for_job(job, 1795896124, host)
    assert ours == batch
    assert userlog.submit_event_for_job({"clusterid": 7, "PROCID": 0, "jobbatchname": "nightly"},
                                        1795896124, host) == batch        # names ignore case
    plain = userlog.submit_event_for_job({"ClusterId": 7, "ProcId": 0}, 1795896124, "<h>")
    assert plain.endswith("Job submitted from host: <h>\n...\n")
    assert userlog.submit_notes_of_job({"SubmitEventNotesAttrs": "Owner, Missing",
                                        "owner": "a", "DAGNodeName": "n"}) == \
        {"Owner": "a", "DAGNodeName": "n"}
    # cluster 22 of the same log: a later submit of the same batch, its notes looked up once
    (again,) = userlog.submit_events_for_cluster({**job, "ClusterId": 22}, [0], 1795896351, host)
    assert again == split_events((LOGS / "cli-batch.log").read_text())[-1]


def test_header_time_formats(tz):
    tz("America/Chicago")
    when = 1795473566.789
    assert userlog.event_time(when) == "2026-11-23 16:39:26"
    assert userlog.event_time(when, utc=True) == "2026-11-23 22:39:26Z"
    assert userlog.event_time(when, sub_second=True) == "2026-11-23 16:39:26.789"
    assert userlog.event_time(when, legacy_date=True) == "11/23 16:39:26"
    text = userlog.format_event(Event.JOB_UNSUSPENDED, 1234, 5, when, "Job was unsuspended.\n",
                                subproc=0)
    assert text == "011 (1234.005.000) 2026-11-23 16:39:26 Job was unsuspended.\n...\n"


def test_utc_stamps_read_back(tz, tmp_path):
    tz("America/Chicago")
    path = tmp_path / "utc.log"
    assert UserLogWriter(path).write(userlog.aborted_event(3, 0, 1795473566, "gone", utc=True))
    (ev,) = htcondor2.JobEventLog(str(path)).events(0)
    assert ev.timestamp == 1795473566 and ev["Reason"] == "gone"


def test_writer_creates_appends_and_unlocks(tmp_path):
    path = tmp_path / "sub" / "dir" / "job.log"
    old = os.umask(0o022)
    try:
        assert UserLogWriter(path).write(userlog.unsuspended_event(1, 0, 0))
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644             # 0664 less the umask
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o755
    assert UserLogWriter(path).write(userlog.unsuspended_event(1, 1, 0))
    assert path.read_text().count("Job was unsuspended.") == 2
    with open(path, "ab") as f:                     # no lock left behind
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)


def test_writer_reports_io_errors_instead_of_raising(tmp_path):
    blocked = UserLogWriter(tmp_path)                 # a directory
    assert blocked.write("x") is False and isinstance(blocked.last_error, OSError)
    under_file = tmp_path / "f"
    under_file.write_text("")
    writer = UserLogWriter(under_file / "job.log")
    assert writer.write_many(["x"]) is False and writer.last_error is not None


def test_ten_thousand_submit_events_in_one_write(tz, tmp_path):
    tz("UTC")
    host = "<127.0.0.1:29745?addrs=127.0.0.1-29745&alias=vm>"
    cluster_ad = {f"Attr{i}": i for i in range(150)} | {"ClusterId": 42, "ProcId": -1}
    path = tmp_path / "big.log"
    start = time.perf_counter()
    ok = UserLogWriter(path).write_many(
        userlog.submit_events_for_cluster(cluster_ad, range(10_000), 1795473566, host))
    elapsed = time.perf_counter() - start
    assert ok and elapsed < 1.0, elapsed          # about 20 ms on a laptop-class machine
    events = list(htcondor2.JobEventLog(str(path)).events(0))
    assert len(events) == 10_000
    assert [e.proc for e in events] == list(range(10_000))
    assert all(e.cluster == 42 and e.type == htcondor2.JobEventType.SUBMIT
               and e["SubmitHost"] == host and e.timestamp == 1795473566 for e in events)
