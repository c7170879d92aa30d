"""Late materialization on a five-daemon pool, through the real v2 and v1 clients: a submit
with ``max_materialize`` or ``max_idle`` is queued a few jobs at a time, each job's macros
expanded as the real submit code expands them; the factory's cluster can be held,
released and removed; a schedd that restarts carries on; the user log gets the cluster
events, and the spool files go with the cluster."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from support.leftovers import procs_with, sleep_marker
from support.pools import FIVE_DAEMONS, client, daemon_pids, running_pool, wait_gone

WATCH = """
import htcondor2 as htcondor, time
def main():
    schedd = htcondor.Schedd()
    most, seen, deadline = 0, set(), time.time() + {timeout}
    while time.time() < deadline:
        ads = schedd.query("ClusterId == {c}", ["ProcId", "JobStatus", "TotalSubmitProcs",
                                               "JobMaterializeDate"])
        most = max(most, len(ads))
        for a in ads:
            seen.add((a["ProcId"], a.get("TotalSubmitProcs"), "JobMaterializeDate" in a))
        if not ads and len(seen) >= {n}:
            break
        time.sleep(0.05)
    return {{"most": most, "seen": sorted(seen), "left": len(ads)}}
"""

QUERY = """
import htcondor2 as htcondor, time
def main():
    schedd = htcondor.Schedd()
    deadline = time.time() + {timeout}
    while True:
        ads = [dict(a) for a in schedd.query({constraint!r}, ["ProcId", "JobStatus"])]
        if {predicate} or time.time() > deadline:
            return sorted((a["ProcId"], a["JobStatus"]) for a in ads)
        time.sleep(0.1)
"""

EVENTS = """
import htcondor2 as htcondor
def main():
    return [[htcondor.JobEventType(e.type).name, e.cluster, e.proc]
            for e in htcondor.JobEventLog({path!r}).events(stop_after=0)]
"""

ACT = """
import htcondor2 as htcondor
def main():
    return dict(htcondor.Schedd().act(htcondor.JobAction.{action}, {ids!r}))
"""


def call(pool, body: str, api: str = "v2", **kw):
    return client(pool, body + "\nreturn main()\n", api=api, **kw)


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    with running_pool(tmp_path_factory.mktemp("factory") / "pool", DAEMON_LIST=FIVE_DAEMONS,
                      NUM_CPUS="4", MEMORY="4096") as p:
        yield p


def submit(pool, desc: dict, count: int | None = None, items: list | None = None) -> int:
    return call(pool, f"""
import htcondor2 as htcondor
def main():
    sub = htcondor.Submit({desc!r})
    items = {items!r}
    if items is not None:
        return htcondor.Schedd().submit(sub, itemdata=iter(items)).cluster()
    return htcondor.Schedd().submit(sub, count={count!r}).cluster()
""")


def watch(pool, c: int, n: int, timeout: float = 60) -> dict:
    return call(pool, WATCH.format(c=c, n=n, timeout=timeout), timeout=timeout + 30)


def jobs(pool, constraint: str, predicate: str, timeout: float = 30) -> list:
    return [tuple(x) for x in call(pool, QUERY.format(constraint=constraint, predicate=predicate,
                                                        timeout=timeout), timeout=timeout + 30)]


def events(pool, path: Path) -> list:
    return [tuple(e) for e in call(pool, EVENTS.format(path=str(path)))]


def act(pool, action: str, ids: str) -> dict:
    return call(pool, ACT.format(action=action, ids=ids))


def spool_files(pool, c: int) -> list[Path]:
    return sorted((pool.directory / "spool").rglob(f"condor_submit.{c}.*"))


def wait_for(predicate, timeout: float = 15):
    deadline = time.monotonic() + timeout
    while not (value := predicate()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return value


# ---------------------------------------------------------------------------- materializing
def test_max_materialize_queues_a_few_jobs_at_a_time_with_their_macros(pool, tmp_path):
    log = tmp_path / "f.log"
    c = submit(pool, {"executable": "/bin/echo", "arguments": "job $(Process) of $(Cluster)",
                      "output": str(tmp_path / "out.$(Process)"), "log": str(log),
                      "max_materialize": "2"}, count=5)
    seen = watch(pool, c, 5)
    assert seen["left"] == 0 and 1 <= seen["most"] <= 2
    assert seen["seen"] == [[p, 5, True] for p in range(5)]
    for p in range(5):
        assert (tmp_path / f"out.{p}").read_text() == f"job {p} of {c}\n"
    evs = wait_for(lambda: (e := events(pool, log)) and e[-1][0] == "CLUSTER_REMOVE" and e)
    assert evs[0] == ("CLUSTER_SUBMIT", c, -1) and evs[-1] == ("CLUSTER_REMOVE", c, -1)
    assert sorted(e[2] for e in evs if e[0] == "SUBMIT") == list(range(5))
    assert sum(e[0] == "JOB_TERMINATED" for e in evs) == 5
    text = log.read_text()
    assert f"035 ({c:03d}.-01.000) " in text
    assert "Cluster removed\n\tMaterialized 5 jobs from 0 items.\tComplete\n...\n" in text
    assert wait_for(lambda: not spool_files(pool, c)), "the digest goes with the cluster"


def test_max_idle_with_item_rows(pool, tmp_path):
    log = tmp_path / "i.log"
    c = submit(pool, {"executable": "/bin/echo", "arguments": "$(Process) $(fruit) $(Row)",
                      "output": str(tmp_path / "$(fruit).out"), "log": str(log), "max_idle": "1"},
               items=[{"fruit": "apple"}, {"fruit": "pear"}, {"fruit": "plum"}])
    seen = watch(pool, c, 3)
    assert seen["left"] == 0 and [s[0] for s in seen["seen"]] == [0, 1, 2]
    got = {f: (tmp_path / f"{f}.out").read_text() for f in ("apple", "pear", "plum")}
    assert got == {"apple": "0 apple 0\n", "pear": "1 pear 1\n", "plum": "2 plum 2\n"}
    assert wait_for(lambda: "Materialized 3 jobs from -1 items.\tComplete" in log.read_text())
    assert wait_for(lambda: not spool_files(pool, c))


def test_the_v1_client_submits_a_factory_too(pool, tmp_path):
    c = client(pool, f"""
import htcondor
sub = htcondor.Submit({{"executable": "/bin/echo", "arguments": "v1 $(Process)",
                       "output": {str(tmp_path / 'v1.$(Process)')!r}, "max_materialize": "1"}})
return htcondor.Schedd().submit(sub, count=2).cluster()
""", api="v1")
    seen = watch(pool, c, 2)
    assert seen["most"] == 1 and seen["left"] == 0
    assert [(tmp_path / f"v1.{p}").read_text() for p in (0, 1)] == ["v1 0\n", "v1 1\n"]


# ---------------------------------------------------------------------------- actions
def test_hold_release_and_remove_of_the_factory_cluster(pool, tmp_path):
    marker = sleep_marker()
    log = tmp_path / "s.log"
    c = submit(pool, {"executable": "/bin/sleep", "arguments": marker, "log": str(log),
                      "max_materialize": "2"}, count=6)
    assert jobs(pool, f"ClusterId == {c} && JobStatus == 2", "len(ads) == 2") == [(0, 2), (1, 2)]
    held = act(pool, "Hold", f"{c}")
    assert held["TotalSuccess"] == 3                  # two jobs and the factory
    assert jobs(pool, f"ClusterId == {c} && JobStatus == 5", "len(ads) == 2") == [(0, 5), (1, 5)]
    assert act(pool, "Remove", f"{c}.0")["TotalSuccess"] == 1
    # paused: the removed job is not replaced
    assert jobs(pool, f"ClusterId == {c}", "len(ads) == 1") == [(1, 5)]
    assert jobs(pool, f"ClusterId == {c}", "len(ads) > 1", timeout=1.5) == [(1, 5)]
    assert act(pool, "Release", f"{c}")["TotalSuccess"] == 2
    assert jobs(pool, f"ClusterId == {c} && JobStatus == 2", "len(ads) == 2") == [(1, 2), (2, 2)]
    assert act(pool, "Remove", f"{c}")["TotalSuccess"] == 3
    assert jobs(pool, f"ClusterId == {c}", "not ads") == []
    assert wait_for(lambda: not procs_with(marker))
    assert wait_for(lambda: "Materialized 3 jobs from 0 items.\tIncomplete" in log.read_text())
    assert wait_for(lambda: not spool_files(pool, c))


# ---------------------------------------------------------------------------- restarts
def test_a_restarted_schedd_carries_on(tmp_path):
    """condor_restart -daemon schedd while the factory's first job runs: the new schedd
    takes the factory from the queue and its digest from SPOOL."""
    with running_pool(tmp_path / "p", DAEMON_LIST=FIVE_DAEMONS, NUM_CPUS="2", MEMORY="2048") as p:
        marker = sleep_marker()
        c = submit(p, {"executable": "/bin/sleep", "arguments": marker,
                       "max_materialize": "1"}, count=3)
        assert jobs(p, f"ClusterId == {c} && JobStatus == 2", "len(ads) == 1") == [(0, 2)]
        assert len(spool_files(p, c)) == 1
        old = daemon_pids(p)["SCHEDD"]
        r = subprocess.run([sys.executable, "-m", "condor_sim.tools.condor_restart", "-daemon", "schedd"],
                           env=dict(os.environ, CONDOR_CONFIG=str(p.config_file)),
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        wait_gone(old)
        assert wait_for(lambda: daemon_pids(p).get("SCHEDD") not in (None, old), timeout=30)
        # the factory is still there, at its limit: job 0 only; removing it brings job 1
        assert [j[0] for j in jobs(p, f"ClusterId == {c}", "len(ads) == 1", timeout=30)] == [0]
        assert act(p, "Remove", f"{c}.0")["TotalSuccess"] == 1
        assert [j[0] for j in jobs(p, f"ClusterId == {c} && ProcId == 1", "len(ads) == 1")] == [1]
        assert [j[0] for j in jobs(p, f"ClusterId == {c}", "len(ads) > 1", timeout=1)] == [1]
        assert act(p, "Remove", f"{c}")["TotalSuccess"] == 2
        assert jobs(p, f"ClusterId == {c}", "not ads") == []
        assert wait_for(lambda: not spool_files(p, c))
        assert wait_for(lambda: not procs_with(marker))


# ---------------------------------------------------------------------------- the tools
CLUSTER_ADS = """
import htcondor2 as htcondor, time
def main():
    schedd = htcondor.Schedd()
    deadline = time.time() + 20
    while True:
        ads = [dict(a) for a in schedd.query("ClusterId == {c}", [], opts=htcondor.QueryOpt.IncludeClusterAd)]
        if {predicate} or time.time() > deadline:
            return ads
        time.sleep(0.1)
"""


def test_condor_submit_factory_and_the_cluster_ad_in_queries(pool, tmp_path):
    """condor_submit -factory makes a factory of a description that has no limit; a
    query with IncludeClusterAd gets the cluster's ad, its job counts and factory state."""
    marker = sleep_marker()
    (tmp_path / "f.sub").write_text(f"executable = /bin/sleep\narguments = {marker}\nqueue 3\n")
    r = subprocess.run([sys.executable, "-m", "condor_sim.tools.condor_submit", "-factory", "f.sub"],
                       env=dict(os.environ, CONDOR_CONFIG=str(pool.config_file)), cwd=tmp_path,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    c = int(r.stdout.rsplit("cluster ", 1)[1].rstrip(".\n"))
    ads = call(pool, CLUSTER_ADS.format(c=c, predicate="sum(a.get('JobStatus') == 2 for a in ads) == 3"))
    [cad] = [a for a in ads if "ProcId" not in a]
    assert cad["JobMaterializeLimit"] == 3 and cad["JobMaterializeNextProcId"] == 3
    assert cad["JobMaterializeDigestFile"] == str(spool_files(pool, c)[0])
    assert (cad["JobsPresent"], cad["JobsRunning"], cad["JobsIdle"], cad["JobsHeld"]) == (3, 3, 0, 0)
    # all made, but the cluster is full: the factory has not tried past its end, so it
    # is not "done" yet (the real schedd shows such a factory as Norm too)
    assert (cad["JobFactoryPaused"], cad["JobFactoryTotalProcs"], cad["JobFactoryId"]) == (0, 3, c)
    assert sorted(a["ProcId"] for a in ads if "ProcId" in a) == [0, 1, 2]
    assert ads[0] is not None and "ProcId" not in ads[0], "the cluster ad comes before its jobs"
    assert act(pool, "Remove", f"{c}")["TotalSuccess"] == 4      # the jobs and the (finished) factory
    assert jobs(pool, f"ClusterId == {c}", "not ads") == []
    assert wait_for(lambda: not procs_with(marker))
    assert wait_for(lambda: not spool_files(pool, c))


def test_a_schedd_stopped_while_it_learns_a_digest_leaves_no_process(tmp_path):
    """A big factory takes the digest child a while; stopping the pool then kills it and
    its private queue (they are a process group of their own)."""
    with running_pool(tmp_path / "p", DAEMON_LIST=FIVE_DAEMONS, NUM_CPUS="1", MEMORY="1024") as p:
        submit(p, {"executable": "/bin/true", "max_materialize": "1"}, count=200000)
        assert wait_for(lambda: [x for x in psutil.process_iter(["cmdline"])
                                 if "digest_jobs" in " ".join(x.info["cmdline"] or [])
                                 and str(p.directory) in " ".join(x.info["cmdline"] or [])])
        children = [x for x in psutil.process_iter(["cmdline"])
                    if "digest_jobs" in " ".join(x.info["cmdline"] or [])
                    and str(p.directory) in " ".join(x.info["cmdline"] or [])]
        queues = wait_for(lambda: [q for c in children for q in c.children(recursive=True)])
        assert queues, "the digest child runs its private queue"
        p.stop(timeout=20)
        gone, alive = psutil.wait_procs(children + queues, timeout=15)
        assert not alive, [x.cmdline() for x in alive]


def test_a_burst_of_factories_is_learned_a_few_at_a_time_and_all_run(pool, tmp_path):
    """Five factories submitted at once (their digests learned two at a time): every job
    of every one runs, with its own macros."""
    clusters = call(pool, f"""
import htcondor2 as htcondor
def main():
    s = htcondor.Schedd()
    return [s.submit(htcondor.Submit({{"executable": "/bin/echo", "arguments": "$(Cluster).$(Process)",
                                       "output": {str(tmp_path)!r} + "/o.$(Cluster).$(Process)",
                                       "max_materialize": "1"}}), count=2).cluster() for _ in range(5)]
""")
    want = {f"o.{c}.{p}": f"{c}.{p}\n" for c in clusters for p in (0, 1)}
    assert wait_for(lambda: all((tmp_path / n).exists() and (tmp_path / n).read_text() == t
                                for n, t in want.items()), timeout=60)
    assert wait_for(lambda: not any(spool_files(pool, c) for c in clusters), timeout=30)


AD_COUNTS = """
import htcondor2 as htcondor, time
def main():
    coll = htcondor.Collector()
    deadline = time.time() + 30
    while True:
        sched = [dict(a) for a in coll.query(htcondor.AdType.Schedd, projection=["JobsUnmaterialized"])]
        subs = [dict(a) for a in coll.query(htcondor.AdType.Submitter, projection=["JobsUnmaterialized"])]
        got = (sched[0].get("JobsUnmaterialized") if sched else None,
               sum(a.get("JobsUnmaterialized", 0) for a in subs))
        if got == ({want}, {want}) or time.time() > deadline:
            return got
        time.sleep(0.2)
"""


def test_the_scheduler_and_submitter_ads_count_the_jobs_still_to_make(tmp_path):
    """JobsUnmaterialized, as the real ads have it: 4 jobs of a factory that may hold 2 at
    a time leave 2 to make; none once it is removed."""
    with running_pool(tmp_path / "p", DAEMON_LIST=FIVE_DAEMONS, SCHEDD_INTERVAL="1",
                      SCHEDD_MIN_INTERVAL="0") as p:
        c = submit(p, {"executable": "/bin/sleep", "arguments": "60", "requirements": "false",
                       "max_materialize": "2"}, count=4)
        assert call(p, AD_COUNTS.format(want=2), timeout=60) == [2, 2]
        assert act(p, "Remove", f"{c}")["TotalSuccess"] == 3
        assert call(p, AD_COUNTS.format(want=0), timeout=60) == [0, 0]


CLUSTER_AND_JOBS = """
import htcondor2 as htcondor
def main():
    s = htcondor.Schedd()
    opts = htcondor.QueryOpt.IncludeClusterAd
    projected = [dict(a) for a in s.query("ClusterId == {c}", ["clusterid", "procid"], opts=opts)]
    whole = [dict(a) for a in s.query("ClusterId == {c}", [], opts=opts)]
    return projected, [(a.get("ProcId"), a.get("Cmd")) for a in whole]
"""


def test_a_query_with_the_cluster_ad_keeps_its_jobs_whole(pool, tmp_path):
    """The cluster's ad comes first, then its jobs, each still with its cluster's
    attributes, projected (names in any case) or not."""
    c = submit(pool, {"executable": "/bin/sleep", "arguments": "60", "requirements": "false",
                      "max_materialize": "2"}, count=3)
    assert jobs(pool, f"ClusterId == {c}", "len(ads) == 2")
    projected, whole = call(pool, CLUSTER_AND_JOBS.format(c=c))
    assert [(a.get("ClusterId"), a.get("ProcId")) for a in projected] == [(c, None), (c, 0), (c, 1)]
    assert whole == [[None, "/bin/sleep"], [0, "/bin/sleep"], [1, "/bin/sleep"]]
    assert act(pool, "Remove", f"{c}")["TotalSuccess"] == 3


CLUSTER_AD = """
import htcondor2 as htcondor
def main():
    ads = htcondor.Schedd().query("ClusterId == {c}", ["ProcId", "Args", "JobMaterializeLimit",
                                                       "EditedClusterAttrs", "foo"],
                                  opts=htcondor.QueryOpt.IncludeClusterAd)
    return [dict(a) for a in ads]
"""


def test_condor_qedit_of_a_factory_cluster_edits_its_ad_and_the_jobs_it_makes_later(pool, tmp_path):
    """condor_qedit C ATTR VALUE edits the cluster's ad too (as on a real pool, where
    EditedClusterAttrs then names ATTR), and a job the factory makes later takes the
    cluster's value over its own."""
    c = submit(pool, {"executable": "/bin/sleep", "arguments": "$(Process)", "requirements": "false",
                      "max_materialize": "1"}, count=3)
    assert jobs(pool, f"ClusterId == {c}", "len(ads) == 1") == [(0, 1)]
    env = dict(os.environ, CONDOR_CONFIG=str(pool.config_file))
    for attr, value in (("Args", '"edited"'), ("foo", "7")):
        r = subprocess.run([sys.executable, "-m", "condor_sim.tools.condor_qedit", str(c), attr, value],
                           env=env, capture_output=True, text=True, timeout=60)
        assert (r.stdout, r.returncode) == (f'Set attribute "{attr}" for 1 matching jobs.\n', 0), r.stderr
    cluster, job0 = call(pool, CLUSTER_AD.format(c=c))
    assert "ProcId" not in cluster and cluster["Args"] == "edited" and cluster["foo"] == 7
    assert cluster["EditedClusterAttrs"] == "Args,foo"
    assert (job0["ProcId"], job0["Args"], job0["foo"]) == (0, "edited", 7)
    assert act(pool, "Remove", f"{c}.0")["TotalSuccess"] == 1
    assert jobs(pool, f"ClusterId == {c} && ProcId == 1", "len(ads) == 1") == [(1, 1)]
    [job1] = [a for a in call(pool, CLUSTER_AD.format(c=c)) if a.get("ProcId") == 1]
    assert (job1["Args"], job1["foo"]) == ("edited", 7)          # not its own "1"
    assert act(pool, "Remove", f"{c}")["TotalSuccess"] == 2
