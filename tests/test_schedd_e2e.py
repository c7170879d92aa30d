"""The schedd's job queue through the real clients (v2 ``htcondor2`` and v1 ``htcondor``):
submit, query, act, edit, history and the user event log, against one schedd process."""
from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from condor_sim.cedar.commands import Cmd
from condor_sim.cedar.stream import MessageWriter
from condor_sim.jobqueue import classad_log as L
from condor_sim.jobqueue import qmgmt as Q
from condor_sim.jobqueue.rules import round_value
from condor_sim.security import client as raw_client
from support.clients import run_client
from support.daemons import DaemonProcess

CAPTURED_AD = Path(__file__).resolve().parent.parent / "fixtures" / "job_queue" / "condor_q-long-after-submit.txt"

V2 = """
import htcondor2 as htcondor, classad2
schedd = htcondor.Schedd(classad2.ClassAd({{"MyAddress": {addr!r}, "Name": "sim",
    "CondorVersion": "$CondorVersion: 25.14.0 2026-11-23 $"}}))
"""
V1 = """
import htcondor, classad, warnings
warnings.simplefilter("ignore")
schedd = htcondor.Schedd(classad.ClassAd({{"MyAddress": {addr!r}, "Name": "sim", "MyType": "Scheduler"}}))
"""


@pytest.fixture(scope="module")
def schedd(tmp_path_factory):
    base = tmp_path_factory.mktemp("schedd")
    d = DaemonProcess(base, "schedd", overrides={"ALLOW_WRITE": "*", "ALLOW_READ": "*",
                                                 "MAX_HISTORY_LOG": "200000"})
    d.start()
    yield d
    d.stop()


def run(d, body: str, api: str = "v2", **kw):
    head = (V2 if api == "v2" else V1).format(addr=d.sinful)
    r = run_client(head + body, d.config, api=api, **kw)
    assert r["ok"], f"{r.get('error')}: {r.get('message')}\n{r.get('stderr', '')[-3000:]}"
    return r["result"]


def submit(d, n=2, extra: dict | None = None, api="v2") -> int:
    desc = {"executable": "/bin/sleep", "arguments": "600", **(extra or {})}
    if api == "v2":
        return run(d, f"return schedd.submit(htcondor.Submit({desc!r}), count={n}).cluster()")
    return run(d, f"return schedd.submit(htcondor.Submit({desc!r}), count={n}).cluster()", api="v1")


# ---------------------------------------------------------------------------- submit
def test_submit_builds_the_real_job_ad(schedd):
    log = schedd.pool_dir / "full.log"
    c = submit(schedd, 3, {"log": str(log)})
    ads = run(schedd, f"return [dict(a) for a in schedd.query('ClusterId == {c}')]")
    assert [a["ProcId"] for a in ads] == [0, 1, 2]
    real = dict(line.split(" = ", 1) for line in CAPTURED_AD.read_text().split("\n\n")[0].splitlines())
    client_only = {"CaptureTag", "UserLog", "TransferErr", "TransferOut"}
    missing = set(real) - set(ads[0]) - client_only
    assert not missing, missing
    a = ads[1]
    assert a["Owner"] == "root" and a["User"] == "root@" + a["User"].split("@")[1]
    assert re.fullmatch(rf"[^#]+#{c}\.1#\d+", a["GlobalJobId"])
    assert a["JobStatus"] == 1 and a["TotalSubmitProcs"] == 3 and a["ClusterId"] == c
    assert a["QDate"] == a["EnteredCurrentStatus"] and isinstance(a["ServerTime"], int)
    # the schedd keeps the client's value as _RAW and rounds it up (SCHEDD_ROUND_ATTR_*)
    for attr in ("DiskUsage", "ImageSize", "ExecutableSize"):
        assert str(a[attr]) == round_value(str(a[attr + "_RAW"]), "25%") and a[attr] >= a[attr + "_RAW"]
    assert a["CondorVersion"].startswith("$CondorVersion: 25.")


def test_cluster_ids_increase_and_itemdata(schedd):
    c1 = submit(schedd, 1)
    r = run(schedd, """
r = schedd.submit(htcondor.Submit({"executable": "/bin/echo", "arguments": "$(word)"}),
                  itemdata=iter([{"word": "a"}, {"word": "b"}, {"word": "c"}]))
return [r.cluster(), r.num_procs(), [a["Args"] for a in schedd.query(f"ClusterId == {r.cluster()}", ["Args"])]]
""")
    assert r[0] > c1 and r[1] == 3 and r[2] == ["a", "b", "c"]


def test_hold_true_submits_held(schedd):
    c = submit(schedd, 1, {"hold": "true"})
    a = run(schedd, f"return dict(schedd.query('ClusterId == {c}')[0])")
    assert a["JobStatus"] == 5
    assert a["HoldReason"] == "submitted on hold at user's request"
    assert a["HoldReasonCode"] == 15


def test_v1_transaction_itemdata_and_submit(schedd):
    r = run(schedd, """
sub = htcondor.Submit({"executable": "/bin/sleep", "arguments": "1"})
with schedd.transaction() as txn:
    c = sub.queue(txn, 2)
with schedd.transaction() as txn:
    r = sub.queue_with_itemdata(txn, 1, iter([{"x": "a"}, {"x": "b"}]))
s = schedd.submit(sub, count=2)
ids = sorted((a["ClusterId"], a["ProcId"]) for a in schedd.query(f"ClusterId >= {c}", ["ClusterId", "ProcId"]))
x = [dict(a) for a in schedd.xquery(f"ClusterId == {c}", ["ProcId", "Owner"], limit=1)]
return [c, r.cluster(), s.cluster(), ids, x]
""", api="v1")
    c, c2, c3, ids, x = r
    assert (c2, c3) == (c + 1, c + 2)
    assert ids == [[c, 0], [c, 1], [c2, 0], [c2, 1], [c3, 0], [c3, 1]]
    assert x == [{"ProcId": 0, "Owner": "root"}]


# ---------------------------------------------------------------------------- query
@pytest.mark.parametrize("api", ["v2", "v1"])
def test_query_constraint_projection_and_limit(schedd, api):
    c = submit(schedd, 4)
    r = run(schedd, f"""
got = schedd.query("ClusterId == {c} && ProcId >= 1", ["ProcId", "JobStatus"], limit=2)
return [dict(a) for a in got]
""", api=api)
    assert [sorted(a) for a in r] == [["JobStatus", "ProcId", "ServerTime"]] * 2 if api == "v2" \
        else [sorted(a) for a in r] == [["JobStatus", "ProcId", "ServerTime"]] * 2
    assert [a["ProcId"] for a in r] == [1, 2]


def test_summary_only_gives_the_totals(schedd):
    c = submit(schedd, 2, {"hold": "true"})
    s = run(schedd, f"""
return dict(schedd.query("ClusterId == {c}", opts=htcondor.QueryOpt.SummaryOnly)[0])
""")
    assert s["MyType"] == "Summary" and s["Jobs"] == 2 and s["Held"] == 2
    assert s["AllusersJobs"] >= 2 and "ServerTime" in s


def test_a_bad_constraint_is_an_error_not_a_crash(schedd):
    r = run_client(V2.format(addr=schedd.sinful) + 'return schedd.query("ProcId ==")', schedd.config)
    assert not r["ok"]
    assert schedd.alive()


# ---------------------------------------------------------------------------- act
def test_every_action_and_its_results(schedd):
    c = submit(schedd, 3)
    r = run(schedd, f"""
A = htcondor.JobAction
out = {{}}
out["hold"] = dict(schedd.act(A.Hold, "ClusterId == {c}", ("why", 7)))
out["hold_again"] = dict(schedd.act(A.Hold, ["{c}.0", "{c}.9"]))
out["release"] = dict(schedd.act(A.Release, ["{c}.0", "{c}.1"]))
out["release_idle"] = dict(schedd.act(A.Release, ["{c}.0"]))
out["suspend"] = dict(schedd.act(A.Suspend, ["{c}.0"]))
out["continue"] = dict(schedd.act(A.Continue, ["{c}.0"]))
out["vacate"] = dict(schedd.act(A.Vacate, ["{c}.0"]))
out["vacate_fast"] = dict(schedd.act(A.VacateFast, ["{c}.0"]))
out["jobs"] = [dict(a) for a in schedd.query("ClusterId == {c}",
    ["ProcId", "JobStatus", "HoldReason", "HoldReasonSubCode", "LastHoldReason", "ReleaseReason", "NumHolds"])]
out["remove"] = dict(schedd.act(A.Remove, "ClusterId == {c}"))
out["left"] = len(schedd.query("ClusterId == {c}"))
out["removex"] = dict(schedd.act(A.RemoveX, ["{c}.0"]))
return out
""")
    assert r["hold"]["TotalSuccess"] == 3
    assert (r["hold_again"]["TotalAlreadyDone"], r["hold_again"]["TotalNotFound"]) == (1, 1)
    assert r["release"]["TotalSuccess"] == 2 and r["release_idle"]["TotalBadStatus"] == 1
    for k in ("suspend", "continue", "vacate", "vacate_fast"):
        assert r[k]["TotalBadStatus"] == 1 and r[k]["TotalSuccess"] == 0
    j0, j1, j2 = r["jobs"]
    assert j0["JobStatus"] == 1 and j0["LastHoldReason"] == "why (by user root)"
    assert j0["ReleaseReason"] == "Python-initiated action (by user root)" and j0["NumHolds"] == 1
    assert j2["JobStatus"] == 5 and j2["HoldReasonSubCode"] == 7
    assert r["remove"]["TotalSuccess"] == 3 and r["left"] == 0       # idle and held jobs leave at once
    assert r["removex"]["TotalNotFound"] == 1


def test_v1_act_with_a_string_reason(schedd):
    c = submit(schedd, 2)
    r = run(schedd, f"""
res = schedd.act(htcondor.JobAction.Hold, "ClusterId == {c}", "stop it")
return [res["TotalSuccess"], [a["HoldReason"] for a in schedd.query("ClusterId == {c}", ["HoldReason"])]]
""", api="v1")
    assert r == [2, ["stop it (by user root)"] * 2]


# ---------------------------------------------------------------------------- edit
def test_edit_by_ids_and_constraint_and_refusals(schedd):
    c = submit(schedd, 2)
    r = run(schedd, f"""
out = [schedd.edit(["{c}.0"], "Foo", '"bar"'), schedd.edit("ClusterId == {c}", "Num", "1 + 2")]
for attr in ("ClusterId", "Owner"):
    try:
        schedd.edit(["{c}.1"], attr, "99")
        out.append("allowed")
    except Exception as e:
        out.append(type(e).__name__)
out.append([dict(a) for a in schedd.query("ClusterId == {c}", ["Foo", "Num", "ClusterId"])])
return out
""")
    assert r[0] == 1 and r[1] == 2
    assert r[2] != "allowed" and r[3] != "allowed"
    # an expression stays an expression, as in the real queue
    assert r[4][0]["Foo"] == "bar" and r[4][1]["Num"] == "1 + 2" and r[4][1]["ClusterId"] == c


def test_v1_edit(schedd):
    c = submit(schedd, 2)
    r = run(schedd, f"""
res = schedd.edit("ClusterId == {c}", "Foo", '"v1"')
return [str(res), [a["Foo"] for a in schedd.query("ClusterId == {c}", ["Foo"])]]
""", api="v1")
    assert r[1] == ["v1", "v1"]


# ---------------------------------------------------------------------------- history
@pytest.mark.parametrize("api", ["v2", "v1"])
def test_history_newest_first_with_projection_match_and_since(schedd, api):
    c = submit(schedd, 3)
    act = "htcondor.JobAction.Remove"
    r = run(schedd, f"""
schedd.act({act}, "ClusterId == {c}")
h = [dict(a) for a in schedd.history("ClusterId == {c}", ["ClusterId", "ProcId", "JobStatus"], 10)]
two = [dict(a) for a in schedd.history("ClusterId == {c}", ["ProcId"], 2)]
return [h, two]
""", api=api)
    h, two = r
    assert [a["ProcId"] for a in h] == [2, 1, 0] and all(a["JobStatus"] == 3 for a in h)
    assert [a["ProcId"] for a in two] == [2, 1]
    if api == "v2":
        since = run(schedd, f"""
return [a["ProcId"] for a in schedd.history("ClusterId == {c}", ["ProcId"], since="{c}.0")]
""")
        assert since == [2, 1]
    text = (schedd.pool_dir / "spool" / "history").read_text()
    assert re.search(rf'^\*\*\* Offset = \d+ ClusterId = {c} ProcId = 2 Owner = "root" '
                     rf'CompletionDate = -1 CurrentTime = \d+$', text, re.M)


# ---------------------------------------------------------------------------- event log
def test_user_event_log_read_by_the_real_reader(schedd):
    log = schedd.pool_dir / "events.log"
    c = submit(schedd, 1, {"log": str(log)})
    r = run(schedd, f"""
A = htcondor.JobAction
schedd.act(A.Hold, "ClusterId == {c}", ("hold it", 3))
schedd.act(A.Release, "ClusterId == {c}")
schedd.act(A.Remove, "ClusterId == {c}")
import time
deadline = time.time() + 10
while True:      # the schedd writes the events after it answers, as the real one does
    out = [[int(e.type), e.cluster, e.proc, {{k: e[k] for k in e.keys()}}]
           for e in htcondor.JobEventLog({str(log)!r}).events(0)]
    if len(out) >= 4 or time.time() > deadline:
        return out
    time.sleep(0.05)
""")
    kinds = [e[0] for e in r]
    assert kinds == [0, 12, 13, 9]
    assert all(e[1] == c and e[2] == 0 for e in r)
    assert r[0][3]["SubmitHost"] == schedd.sinful
    assert r[1][3]["HoldReason"] == "hold it (by user root)" and r[1][3]["HoldReasonCode"] == 1 \
        and r[1][3]["HoldReasonSubCode"] == 3
    assert r[2][3]["Reason"] == "Python-initiated action (by user root)"
    assert r[3][3]["Reason"] == "Python-initiated action (by user root)"


# ---------------------------------------------------------------------------- bad input
def test_a_client_that_dies_mid_transaction_leaves_nothing(schedd):
    before = run(schedd, "return len(schedd.query())")
    # a client that goes away between requests, with a submit half sent
    asyncio.run(_open_transaction_and_vanish(schedd.sinful))
    schedd.wait_for_log("closed with an open transaction; aborting it")
    assert run(schedd, "return len(schedd.query())") == before
    c = submit(schedd, 1)
    assert run(schedd, f"return len(schedd.query('ClusterId == {c}'))") == 1


async def _open_transaction_and_vanish(sinful: str) -> None:
    conn = await raw_client.open_command(sinful, Cmd.QMGMT_WRITE_CMD, "TOOL")
    await conn.send(conn.message().put_int(Q.NewCluster).getvalue())
    c = (await conn.read()).get_int()
    await conn.send(conn.message().put_int(Q.NewProc).put_int(c).getvalue())
    await conn.read()
    w = conn.message().put_int(Q.SetAttribute2).put_int(c).put_int(-1).put_string("undefined").put_string("Owner")
    await conn.send(w.put_bytes(b"\x02").getvalue())
    conn.close()


async def _qmgmt(sinful: str, requests: list[bytes]) -> list:
    """Send requests; collect each reply's first int (None when nothing came back)."""
    conn = await raw_client.open_command(sinful, Cmd.QMGMT_WRITE_CMD, "TOOL")
    out = []
    try:
        for req in requests:
            await conn.send(req)
            try:
                out.append((await asyncio.wait_for(conn.read(), 2)).get_int())
            except (asyncio.TimeoutError, raw_client.ClientRefused):
                out.append(None)
    finally:
        conn.close()
    return out


def test_hostile_qmgmt_requests_are_refused_and_the_queue_stays_whole(schedd):
    before = run(schedd, "return len(schedd.query())")
    W = lambda: MessageWriter(True)
    reqs = [
        W().put_int(Q.NewProc).put_int(2**62).getvalue(),                          # no active cluster
        W().put_int(Q.SetAttribute).put_int(2**40).put_int(-7).put_string("1").put_string("X").getvalue(),
        W().put_int(Q.NewCluster).getvalue(),
        W().put_int(Q.SetAttribute).put_int(1).put_int(0).put_string("[" * 600 + "]" * 600).put_string("X").getvalue(),
        W().put_int(Q.SetAttribute).put_int(1).put_int(0).put_string("x" * (2 << 20)).put_string("Y").getvalue(),
        W().put_int(Q.GetAttributeInt).put_int(-1).put_int(-1).put_string("JobStatus").getvalue(),
        W().put_int(Q.CommitTransactionNoFlags).getvalue(),
        W().put_int(123456).getvalue(),                                           # unknown: closes
    ]
    out = asyncio.run(_qmgmt(schedd.sinful, reqs))
    assert out[0] == -1 and out[1] == -1 and out[2] > 0
    assert out[3] == -1 and out[4] == -1 and out[5] == -1
    assert out[7] is None
    assert schedd.alive()
    assert run(schedd, "return len(schedd.query())") == before
    log = schedd.pool_dir / "spool" / "job_queue.log"
    replayed = L.replay(log.read_bytes())
    assert not replayed.torn


@pytest.fixture
def shared_schedd():
    """A schedd whose config another user can read (pytest's own directories are 0700)."""
    import os
    import shutil
    import tempfile
    if os.geteuid() != 0:
        pytest.skip("needs root to run a client as another user")
    base = Path(tempfile.mkdtemp(prefix="condor-sim-owners-"))
    os.chmod(base, 0o755)
    d = DaemonProcess(base / "pool", "schedd", overrides={"ALLOW_WRITE": "*", "ALLOW_READ": "*"})
    try:
        d.start()
        yield d
    finally:
        d.stop()
        shutil.rmtree(base, ignore_errors=True)


def test_jobs_belong_to_their_owner_and_queue_super_users(shared_schedd):
    d = shared_schedd
    c = submit(d, 1)
    try:
        r = run(d, f"""
A = htcondor.JobAction
out = [dict(schedd.act(A.Hold, ["{c}.0"]))["TotalPermissionDenied"]]
try:
    schedd.edit(["{c}.0"], "Foo", "1")
    out.append("edited")
except Exception as e:
    out.append(str(e))
mine = schedd.submit(htcondor.Submit({{"executable": "/bin/true"}}), count=1).cluster()
out.append(mine)
out.append([[a["Owner"], a["User"].split("@")[0]] for a in schedd.query(f"ClusterId == {{mine}}", ["Owner", "User"])])
out.append(sorted({{a["Owner"] for a in schedd.query(projection=["Owner"], opts=htcondor.QueryOpt.DefaultMyJobsOnly)}}))
out.append(len(schedd.query(projection=["Owner"])))
return out
""", user="nobody")
    except pytest.skip.Exception:
        raise
    assert r[0] == 1 and r[1] != "edited"
    assert r[3] == [["nobody", "nobody"]]
    assert r[4] == ["nobody"] and r[5] == 2          # "only my jobs", and everyone's without it
    # a queue super user's "only my jobs" is every job, as the real schedd decides
    assert run(d, "return len(schedd.query(projection=['Owner'], opts=htcondor.QueryOpt.DefaultMyJobsOnly))") == 2
    # root is a queue super user: it may act on anybody's jobs
    assert run(d, f'return dict(schedd.act(htcondor.JobAction.Hold, ["{r[2]}.0"]))["TotalSuccess"]') == 1


def test_concurrent_submitters_each_get_their_own_cluster(schedd):
    import subprocess
    import sys
    head = V2.format(addr=schedd.sinful)
    body = head + ("import time\nout = []\nfor i in range(5):\n"
                   "    out.append(schedd.submit(htcondor.Submit({'executable': '/bin/true'}), count=20).cluster())\n"
                   "print(out)\n")
    env = {"CONDOR_CONFIG": str(schedd.config), "PATH": "/usr/bin:/bin"}
    procs = [subprocess.Popen([sys.executable, "-c", body], env=env, stdout=subprocess.PIPE, text=True)
             for _ in range(3)]
    clusters = []
    for p in procs:
        out, _ = p.communicate(timeout=120)
        assert p.returncode == 0
        clusters += eval(out.strip().splitlines()[-1])
    assert len(set(clusters)) == 15
    counts = run(schedd, f"""
ids = {clusters!r}
return [len(schedd.query(f"ClusterId == {{c}}", ["ProcId"])) for c in ids]
""")
    assert counts == [20] * 15
    assert not L.replay((schedd.pool_dir / "spool" / "job_queue.log").read_bytes()).torn


def test_a_torn_log_tail_is_dropped_at_start_up(tmp_path):
    d = DaemonProcess(tmp_path / "torn", "schedd", overrides={"ALLOW_WRITE": "*"})
    d.start()
    try:
        c = submit(d, 2)
    finally:
        d.stop()
    log = d.pool_dir / "spool" / "job_queue.log"
    with open(log, "ab") as f:
        f.write(b"105 \n103 0.0 NextClusterNum 99\n101 99.0 Job Mac")
    d.address_file.unlink(missing_ok=True)
    d.start()
    try:
        d.wait_for_log("has the following issues: Detected unterminated log entry")
        d.wait_for_log("About to rotate ClassAd log")
        assert run(d, "return sorted([a['ClusterId'], a['ProcId']] for a in schedd.query())") == [[c, 0], [c, 1]]
        assert submit(d, 1) == c + 1
        assert d.alive()
    finally:
        d.stop()


def test_history_rotates_and_is_read_across_its_files(tmp_path):
    d = DaemonProcess(tmp_path / "rot", "schedd", overrides={"ALLOW_WRITE": "*", "MAX_HISTORY_LOG": "30000",
                                                              "MAX_HISTORY_ROTATIONS": "2"})
    d.start()
    try:
        c = submit(d, 20)
        ids = run(d, f"""
schedd.act(htcondor.JobAction.Remove, "ClusterId == {c}")
import time
deadline = time.time() + 10
while schedd.query(projection=["ProcId"], limit=1) and time.time() < deadline:
    time.sleep(0.05)
return [a["ProcId"] for a in schedd.history(None, ["ProcId"], 100)]
""")
        assert ids == list(range(19, -1, -1))
        files = sorted(p.name for p in (d.pool_dir / "spool").iterdir() if p.name.startswith("history"))
        assert files[0] == "history" and len(files) == 2 and re.fullmatch(r"history\.\d{8}T\d{6}", files[1])
    finally:
        d.stop()


def test_write_is_needed_to_change_the_queue_and_read_to_see_it(tmp_path):
    # ADMINISTRATOR and DAEMON imply WRITE: the pool's owner has both by default
    nobody = {k: "nobody@nowhere" for k in ("ALLOW_WRITE", "ALLOW_ADMINISTRATOR", "ALLOW_DAEMON")}
    d = DaemonProcess(tmp_path / "ro", "schedd", overrides=nobody)
    d.start()
    try:
        r = run_client(V2.format(addr=d.sinful) +
                       'return schedd.submit(htcondor.Submit({"executable": "/bin/true"})).cluster()',
                       d.config)
        assert not r["ok"] and 'Received "DENIED" from server for user root@' in r["message"], r
        assert run(d, "return len(schedd.query())") == 0
        assert "PERMISSION DENIED" in d.log_text("SchedLog")
    finally:
        d.stop()
