"""The job queue in a whole pool: it survives SIGKILL and restarts, is compacted at a
graceful stop, and the collector hears of it (Scheduler totals and Submitter ads)."""
from __future__ import annotations

import os
import re
import signal
import time

from condor_sim.jobqueue import classad_log as L
from support.pools import client, daemon_pids, log, running_pool, started_pid

SUBMIT = """
import htcondor2
s = htcondor2.Schedd()
r = s.submit(htcondor2.Submit({{"executable": "/bin/sleep", "arguments": "60"}}), count={n})
return r.cluster()
"""
SUBMIT_V1 = """
import htcondor
s = htcondor.Schedd()
return s.submit(htcondor.Submit({{"executable": "/bin/sleep"}}), count={n}).cluster()
"""
QUEUE = """
import htcondor2
return sorted([a["ClusterId"], a["ProcId"], a["JobStatus"]]
              for a in htcondor2.Schedd().query(projection=["ClusterId", "ProcId", "JobStatus"]))
"""
HOLD = """
import htcondor2
return htcondor2.Schedd().act(htcondor2.JobAction.Hold, "ClusterId == {c}")["TotalSuccess"]
"""


def test_kill_9_loses_no_committed_job_and_cluster_ids_keep_growing(tmp_path):
    with running_pool(tmp_path / "p") as pool:
        c1 = client(pool, SUBMIT.format(n=3))
        c2 = client(pool, SUBMIT_V1.format(n=2), api="v1")
        assert client(pool, HOLD.format(c=c2)) == 2
        before = client(pool, QUEUE)
        pid = started_pid(pool, "SCHEDD")               # the pid the MasterLog gives
        assert pid == daemon_pids(pool)["SCHEDD"]
        mark = len(log(pool))
        os.kill(pid, signal.SIGKILL)
        new = started_pid(pool, "SCHEDD", start=mark)
        assert new != pid
        deadline = time.monotonic() + 20
        while True:          # the restarted schedd answers once it has replayed its log
            try:
                after = client(pool, QUEUE)
                break
            except AssertionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        assert after == before
        assert [j[2] for j in after] == [1, 1, 1, 5, 5]
        c3 = client(pool, SUBMIT.format(n=1))
        assert c1 < c2 < c3


def test_graceful_restart_compacts_the_log_and_keeps_the_queue(tmp_path):
    with running_pool(tmp_path / "p") as pool:
        c = client(pool, SUBMIT.format(n=2))
        client(pool, HOLD.format(c=c))
        spool = pool.directory / "spool"
        before = L.replay((spool / "job_queue.log").read_bytes())
        pool.stop(timeout=20)
        assert "Cleaning job queue..." in log(pool, "SchedLog")
        compacted = (spool / "job_queue.log").read_bytes()
        assert compacted.startswith(f"107 {before.sequence + 1} CreationTimestamp {before.created}\n".encode())
        assert b"105 " not in compacted                        # one ad after another, no transactions
        assert (spool / f"job_queue.log.{before.sequence}").exists()
        after = L.replay(compacted)
        assert {k: a.attrs for k, a in after.ads.items()} == {k: a.attrs for k, a in before.ads.items()}
        pool.start(timeout=30)
        assert client(pool, QUEUE) == [[c, 0, 5], [c, 1, 5]]
        assert client(pool, SUBMIT.format(n=1)) == c + 1


ADS = """
import htcondor2, time
coll = htcondor2.Collector()
deadline = time.time() + {wait}
while True:
    sch = coll.query(htcondor2.AdType.Schedd, projection=["TotalIdleJobs", "TotalHeldJobs", "TotalJobAds", "NumUsers"])
    sub = coll.query(htcondor2.AdType.Submitter, projection=["Name", "IdleJobs", "HeldJobs", "RunningJobs"])
    got = [dict(sch[0]) if sch else {{}}, [dict(a) for a in sub]]
    if (got[0].get("TotalJobAds") == {jobs} and got[0].get("TotalHeldJobs") == {held} and got[1]
            and got[1][0].get("HeldJobs") == {held}) \
            or time.time() > deadline:
        return [got, time.time()]
    time.sleep(0.1)
"""


def test_the_collector_hears_of_changes_within_seconds(tmp_path):
    # a long SCHEDD_INTERVAL: only the change-triggered update can bring the news
    with running_pool(tmp_path / "p", SCHEDD_INTERVAL=300, SCHEDD_MIN_INTERVAL=1) as pool:
        c = client(pool, SUBMIT.format(n=3))
        client(pool, HOLD.format(c=c))
        t0 = time.time()
        (sched, subs), seen = client(pool, ADS.format(wait=10, jobs=3, held=3))
        assert sched == {"TotalIdleJobs": 0, "TotalHeldJobs": 3, "TotalJobAds": 3, "NumUsers": 1}
        assert seen - t0 < 5
        assert len(subs) == 1 and subs[0]["HeldJobs"] == 3 and subs[0]["IdleJobs"] == 0
        assert re.fullmatch(r"root@.+", subs[0]["Name"])
        assert "3 new idle jobs submitted" in log(pool, "SchedLog")
