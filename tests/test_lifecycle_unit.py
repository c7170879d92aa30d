"""The job ad's changes while a job runs (condor_sim.jobqueue.lifecycle) against what the
real schedd and shadow wrote to job_queue.log (25.14 capture pools): an echo job that ran
and completed, and two sleep jobs removed while running.  The functions are fed the
capture's own times and hosts; the job must end up attribute for attribute as the real
log leaves it."""
from __future__ import annotations

from pathlib import Path

import classad2
import pytest

from condor_sim.jobqueue import classad_log as L
from condor_sim.jobqueue import lifecycle as LC

FIX = Path(__file__).resolve().parent.parent / "fixtures"
MAIN25_LOG = FIX / "job_queue" / "job_queue.log.1"
MAIN24_LOG = FIX / "lifecycle" / "main24-job_queue.log.1"
HISTORY_LONG = FIX / "lifecycle" / "main25-condor_history-long.txt"
ROUNDING = {"ResidentSetSize": "25%", "DiskUsage": "25%", "ImageSize": "25%"}


def transactions(path: Path) -> list[list[tuple]]:
    """The log's records grouped by transaction (a record outside one is its own group)."""
    out: list[list[tuple]] = []
    current: list[tuple] | None = None
    for line in path.read_text().splitlines():
        rec = L.parse_record(line)
        if rec is None:
            continue
        if rec[0] == L.BEGIN:
            current = []
        elif rec[0] == L.END:
            if current:
                out.append(current)
            current = None
        elif current is not None:
            current.append(rec)
        else:
            out.append([rec])
    return out


def run_of(path: Path, cluster: int, proc: int) -> tuple[dict, list[tuple]]:
    """The job's attributes (cluster ad under proc ad) just before the transaction that
    makes it Running, and every record on the proc ad from that transaction on."""
    key, ckey = L.job_key(cluster, proc), L.cluster_key(cluster)
    cl: dict = {}
    own: dict = {}
    after: list[tuple] | None = None
    for txn in transactions(path):
        if after is None and any(r[:4] == (L.SET, key, "JobStatus", "2") for r in txn):
            after = []
        for rec in txn:
            if len(rec) < 3 or rec[1] not in (key, ckey):
                continue
            if after is not None:
                if rec[1] == key:
                    after.append(rec)
                continue
            target = own if rec[1] == key else cl
            if rec[0] == L.SET:
                target[rec[2]] = rec[3]
            elif rec[0] == L.DELETE:
                target.pop(rec[2], None)
    assert after, f"job {cluster}.{proc} never ran in {path}"
    return {**cl, **own}, after


def replayed(job: dict, records: list[tuple]) -> dict:
    out = dict(job)
    for rec in records:
        if rec[0] == L.SET:
            out[rec[2]] = rec[3]
        elif rec[0] == L.DELETE:
            out.pop(rec[2], None)
    return out


def applied(job: dict, *steps) -> dict:
    """Apply each step (a function of the job as it stands) in turn."""
    out = dict(job)
    for step in steps:
        for name, value in step(out).items():
            if value is None:
                out.pop(name, None)
            else:
                out[name] = value
    return out


def first(records: list[tuple], name: str) -> str:
    return next(r[3] for r in records if r[0] == L.SET and r[2] == name)


def string(literal: str) -> str:
    return classad2.ExprTree(literal).eval()


MACHINE = {"Cpus": 1, "Memory": 128, "Disk": 1024, "GPUs": 0, "SlotWeight": 1}


def match_step(records: list[tuple], now: int, slot: str):
    return lambda j: LC.on_match(
        j, now, slot_name=slot, startd_sinful=string(first(records, "StartdIpAddr")),
        claim_id=string(first(records, "ClaimId")),
        public_claim_id=string(first(records, "PublicClaimId")), slot_id=1,
        machine=MACHINE, startd_principal="execute-side@matchsession/127.0.0.1")


def test_completed_echo_job_ends_as_the_real_one():
    before, records = run_of(MAIN25_LOG, 2, 0)
    t0, t1 = 1795473577, 1795473578
    ours = applied(
        before,
        match_step(records, t0, "slot1_1@vm"),
        lambda j: LC.on_activate(j, t0, machine=MACHINE, transfer_input=True),
        lambda j: LC.input_transferred(j, t0, bytes_recvd=43856, files=1),
        lambda j: LC.on_execute(j, t1, setup_duration=1),
        lambda j: LC.rounded(LC.on_usage(j, t1, {"rss_kb": 5816}, first=True), ROUNDING),
        lambda j: LC.rounded(LC.output_transfer_started(j, t1, disk_kb=57, scratch_files=10),
                             ROUNDING),
        lambda j: LC.on_exit(j, t1, {"exit_code": 0, "exit_by_signal": False, "wall": 1,
                                     "bytes_sent": 25, "output_files": 2}),
    )
    assert ours == replayed(before, records)


def test_completed_job_matches_condor_history():
    """The same run, against the real condor_history -long of the job (its values as the
    schedd serves them: reals in the ClassAd form, not the log's %f)."""
    before, records = run_of(MAIN25_LOG, 2, 0)
    ours = replayed(before, records)
    history = classad2.parseOne(HISTORY_LONG.read_text().split("\n\n")[0])  # 2.0 first
    for name in ("JobStatus", "LastJobStatus", "ExitCode", "ExitBySignal", "NumJobStarts",
                 "NumShadowStarts", "JobRunCount", "NumJobMatches", "NumJobCompletions",
                 "RemoteWallClockTime", "CumulativeSlotTime", "CommittedTime",
                 "CommittedSlotTime", "LastRemoteHost", "MachineAttrCpus0", "CpusProvisioned",
                 "MemoryProvisioned", "DiskProvisioned", "ResidentSetSize", "DiskUsage",
                 "TerminationPending", "BytesSent", "BytesRecvd", "StartdPrincipal"):
        assert classad2.ExprTree(ours[name]).eval() == history.eval(name), name
    assert str(history.lookup("MemoryUsage")) == ours["MemoryUsage"]
    for gone in ("RemoteHost", "ClaimId", "ShadowBday", "RemoteSlotID", "StartdIpAddr"):
        assert gone not in history and gone not in ours


@pytest.mark.parametrize("proc, slot, rss, image, seq", [(0, "slot1_1@vm", 1400, 2500, 1),
                                                        (1, "slot1_2@vm", 5704, None, 2)])
def test_running_job_removed_ends_as_the_real_one(proc, slot, rss, image, seq):
    before, records = run_of(MAIN24_LOG, 1, proc)
    t0, t1 = 1795473674, 1795473675
    reason = "Python-initiated action. (by user htcpool)"
    usage = {"exit_by_signal": True, "exit_signal": 15, "wall": 1, "rss_kb": rss}
    if image:
        usage["image_size_kb"] = image
    ours = applied(
        before,
        match_step(records, t0, slot),
        lambda j: LC.on_activate(j, t0, machine=MACHINE),
        lambda j: LC.on_execute(j, t0, setup_duration=0),
        lambda j: LC.rounded(LC.on_remove_running(j, t1, usage, reason), ROUNDING),
    )
    real = replayed(before, records)
    # the starter's periodic update (NumJobStarts, block counters) came in between
    real_usage_only = {"NumJobStarts", "ActivationExecutionDuration", "StatsLifetimeStarter",
                       "RecentStatsLifetimeStarter", "BlockReadKbytes", "BlockReads",
                       "BlockWriteKbytes", "BlockWrites", "RecentBlockReadKbytes",
                       "RecentBlockReads", "RecentBlockWriteKbytes", "RecentBlockWrites"}
    assert {k: v for k, v in ours.items() if k not in real_usage_only} == \
        {k: v for k, v in real.items() if k not in real_usage_only}
    assert real["NumVacatesByReason"] == "[ JobRemoved = 1 ]"


def test_changes_come_in_the_real_order():
    """The names each step writes appear in the order the real log writes them."""
    before, records = run_of(MAIN25_LOG, 2, 0)
    ups = match_step(records, 1795473577, "slot1_1@vm")(before)
    real_order = [r[2] for r in records[:len(ups)]]
    assert list(ups) == real_order
    assert ups["VacateReason"] is None


def test_second_run_keeps_first_start_and_counts():
    job = {"JobStatus": "1", "QDate": "100", "JobStartDate": "110", "JobCurrentStartDate": "110",
           "NumShadowStarts": "1", "JobRunCount": "1", "NumJobMatches": "1",
           "RemoteWallClockTime": "5.000000", "CumulativeSlotTime": "5.000000",
           "MachineAttrSlotWeight0": "1", "MaxHosts": "1", "OrigMaxHosts": "1"}
    ups = LC.on_match(job, 200, slot_name="slot1_1@vm", startd_sinful="<127.0.0.1:1>",
                      claim_id="c", public_claim_id="p", machine={"Cpus": 2, "SlotWeight": 2})
    assert "JobStartDate" not in ups and ups["JobLastStartDate"] == "110"
    assert ups["NumShadowStarts"] == ups["JobRunCount"] == "2" and ups["NumJobMatches"] == "2"
    assert ups["MachineAttrCpus0"] == "2" and "OrigMaxHosts" not in ups
    job = applied(job, lambda j: ups)
    ev = LC.on_evict(job, 230, {}, reason="Job vacated by schedd", code=LC.SCHEDD_VACATE)
    assert ev["JobStatus"] == "1" and ev["LastJobStatus"] == "2"
    assert ev["RemoteWallClockTime"] == "35.000000"            # 5 + 30
    assert ev["CumulativeSlotTime"] == "65.000000"             # 5 + 30 * weight 2
    assert ev["LastRemoteHost"] == '"slot1_1@vm"' and ev["RemoteHost"] is None
    assert ev["NumVacatesByReason"] == "[ ScheddVacate = 1 ]"
    assert ev["VacateReasonCode"] == "1022" and ev["ShadowBday"] is None
    assert "CompletionDate" not in ev and "CommittedTime" not in ev


def test_exit_by_signal_sets_signal_not_code():
    job = {"JobStatus": "2", "ShadowBday": "10", "JobCurrentStartDate": "10", "RemoteHost": '"s@h"'}
    ups = LC.on_exit(job, 12, {"exit_by_signal": True, "exit_signal": 9, "wall": 2,
                               "user_cpu": 1.5, "sys_cpu": 0.0})
    assert ups["ExitSignal"] == "9" and "ExitCode" not in ups
    assert ups["ExitReason"] == '"died on signal 9 (Killed)"'
    assert ups["RemoteUserCpu"] == "1.5" and ups["CumulativeRemoteUserCpu"] == "1.5"
    assert "RemoteSysCpu" not in ups                       # no growth, no update
    assert ups["NumJobCompletions"] == "1" and ups["JobStatus"] == "4"
    assert ups["CommittedTime"] == "2" and ups["CommittedSlotTime"] == "2.0"


def test_hold_of_running_job_keeps_it_held():
    job = {"JobStatus": "2", "ShadowBday": "10", "JobCurrentStartDate": "10",
           "JobCurrentStartExecutingDate": "11", "RemoteHost": '"s@h"'}
    ups = LC.on_hold_running(job, 20, {}, "via condor_hold (by user htcpool)", 1, 0)
    assert ups["JobStatus"] == "5" and ups["VacateReasonCode"] == "1"
    assert ups["NumVacatesByReason"] == "[ UserRequest = 1 ]"
    assert "NumVacatesPreExecution" not in ups
    assert ups["RemoteWallClockTime"] == "10.000000" and ups["CurrentHosts"] == "0"


def test_hold_changes_match_the_schedds_hold_transaction():
    from condor_sim.jobqueue import rules
    from condor_sim.jobqueue.queue import JobQueue
    q = JobQueue()
    txn = q.begin()
    txn.new_ad("1.0")
    for k, v in {"JobStatus": "2", "ReleaseReason": '"x"', "NumHolds": "1",
                 "NumHoldsByReason": "[ UserRequest = 1 ]"}.items():
        txn.set("1.0", k, v)
    q.commit(txn)
    before = dict(q.ads["1.0"].attrs)
    txn = q.begin()
    rules.hold(txn, 1, 0, "via condor_hold (by user htcpool)", 1, 0, 50)
    q.commit(txn)
    assert applied(before, lambda j: LC.hold(j, 50, "via condor_hold (by user htcpool)", 1, 0)) == \
        dict(q.ads["1.0"].attrs)


def test_vacate_reasons_are_those_of_the_captured_evictions():
    """condor_vacate_job and condor_hold of running jobs (the command-line captures' user
    log): the evicted events carry the schedd's vacate reason and code."""
    text = (FIX / "userlogs" / "cli-running.log").read_text()
    events = [e for e in text.split("...\n") if e.startswith("004 ")]
    seen = {(e.split("Code ")[1].split()[0], e.split("Reason: ")[1].splitlines()[0]) for e in events}
    running = {"JobStatus": "2", "ShadowBday": "10", "JobCurrentStartExecutingDate": "11"}
    vac = LC.vacate_request(running, "Job vacated by schedd", LC.SCHEDD_VACATE)
    held = LC.on_hold_running(running, 20, {}, "via condor_hold (by user htcpool)", 1)
    for ups in (vac, held):
        assert (ups["VacateReasonCode"], string(ups["VacateReason"])) in seen


def test_exit_with_policy_requeue_or_hold():
    from condor_sim.jobqueue import policy as P
    job = {"JobStatus": "2", "ShadowBday": "10", "JobCurrentStartDate": "10", "RemoteHost": '"s@h"',
           "MaxHosts": "1", "OrigMaxHosts": "1", **P.retry_attributes(max_retries=2)}
    result = {"exit_code": 1, "exit_by_signal": False, "wall": 5}
    after = applied(job, lambda j: LC.final_report(j, 15, result, completed=True))
    decision = P.on_exit(after, 15)
    assert decision.action == "requeue"
    ups = LC.on_exit_requeue(job, 15, result, decision.reason)
    assert ups["JobStatus"] == "1" and ups["NumJobCompletions"] == "1"
    assert ups["ExitCode"] == "1" and ups["RemoteWallClockTime"] == "5.000000"
    assert string(ups["RequeueReason"]).endswith("evaluated to FALSE")
    held = LC.on_exit_hold(job, 15, result, "custom", P.JOB_POLICY, 4)
    assert (held["JobStatus"], held["HoldReasonCode"], held["HoldReasonSubCode"]) == ("5", "3", "4")
    assert held["NumHoldsByReason"] == "[ JobPolicy = 1 ]" and held["CurrentHosts"] == "0"
