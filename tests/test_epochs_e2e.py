"""The epoch history of a running pool: JOB_EPOCH_HISTORY rotated at MAX_EPOCH_HISTORY_LOG
with MAX_EPOCH_HISTORY_ROTATIONS backups, the per-job files of JOB_EPOCH_HISTORY_DIR, and
``condor_history -epochs`` (with and without ``-directory``) reading them, for jobs
submitted through the real htcondor2 client."""
from __future__ import annotations

import os
import re
import subprocess
import sys

from support.pools import FIVE_DAEMONS, client, running_pool

# A SPAWN record is about 250 bytes and an EPOCH record about 3.7 KB here: a file of 6000
# bytes holds a whole run and the next SPAWN (4.2 KB) but not two EPOCHs (7.7 KB), so the
# file rotates before each EPOCH record but the first.
MAX_LOG = 6000
JOBS = 4

RUN_ONE_BY_ONE = """
import htcondor2 as htcondor, time
schedd = htcondor.Schedd()
def main():
    clusters = []
    for i in range({jobs}):
        c = schedd.submit(htcondor.Submit({{"executable": "/bin/true"}})).cluster()
        deadline = time.time() + 60
        while time.time() < deadline and schedd.query(f"ClusterId == {{c}}", ["ProcId"]):
            time.sleep(0.05)
        clusters.append(c)
        # the next rotation must not share this one's second (it would replace its backup)
        second = int(time.time())
        while int(time.time()) == second:
            time.sleep(0.02)
    return clusters
"""


def records(text: str) -> list[tuple[str, int, int, int]]:
    """(type, cluster, proc, run) of each record's banner, oldest first."""
    return [(m[1], int(m[2]), int(m[3]), int(m[4])) for m in re.finditer(
        r"^\*\*\* (\w+) ClusterId=(\d+) ProcId=(\d+) RunInstanceId=(\d+) ", text, re.M)]


def history_tool(pool, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, CONDOR_CONFIG=str(pool.config_file), TZ="UTC")
    return subprocess.run([sys.executable, "-m", "condor_sim.tools.condor_history", *args], env=env,
                          capture_output=True, text=True, timeout=60)


def test_epoch_history_rotates_and_per_job_files_hold_each_run(tmp_path):
    runs_dir = tmp_path / "runs"
    runs_dir.mkdir()
    with running_pool(tmp_path / "pool", DAEMON_LIST=FIVE_DAEMONS, JOB_EPOCH_HISTORY_DIR=str(runs_dir),
                      MAX_EPOCH_HISTORY_LOG=str(MAX_LOG)) as pool:
        clusters = client(pool, RUN_ONE_BY_ONE.format(jobs=JOBS) + "\nreturn main()\n", timeout=300)
        spool = pool.directory / "spool"

        # the aggregate file: rotated before the EPOCH of runs 2, 3 and 4; two backups kept
        backups = sorted(n for n in os.listdir(spool) if n.startswith("epoch_history."))
        assert len(backups) == 2 and all(re.fullmatch(r"epoch_history\.\d{8}T\d{6}", n) for n in backups)
        files = [spool / n for n in backups] + [spool / "epoch_history"]
        assert all(f.stat().st_size <= MAX_LOG for f in files)
        c1, c2, c3, c4 = clusters
        assert [records(f.read_text()) for f in files] == [
            [("EPOCH", c2, 0, 0), ("SPAWN", c3, 0, 0)],
            [("EPOCH", c3, 0, 0), ("SPAWN", c4, 0, 0)],
            [("EPOCH", c4, 0, 0)]]

        # each job's own file: its SPAWN then its EPOCH record, the same text as the aggregate's
        assert sorted(os.listdir(runs_dir)) == sorted(f"job.runs.{c}.0.ads" for c in clusters)
        for c in clusters:
            text = (runs_dir / f"job.runs.{c}.0.ads").read_text()
            assert records(text) == [("SPAWN", c, 0, 0), ("EPOCH", c, 0, 0)]
            assert "Cmd = \"/bin/true\"\n" in text and f"\nClusterId = {c}\n" in text
        last = (runs_dir / f"job.runs.{c4}.0.ads").read_text()
        assert last.endswith((spool / "epoch_history").read_text())

        # condor_history -epochs: the current file, then the backups, newest first
        r = history_tool(pool, "-epochs", "-af", "ClusterId", "ProcId", "RunInstanceID", "EpochAdType")
        assert r.returncode == 0 and r.stderr == "", r
        assert r.stdout == "".join(f"{c} 0 0 EPOCH\n" for c in (c4, c3, c2))
        r = history_tool(pool, "-epochs", "-forwards", "-af", "ClusterId")
        assert r.stdout == f"{c2}\n{c3}\n{c4}\n", r
        # and -directory the per-job files, which still have the first run
        r = history_tool(pool, "-epochs", "-directory", "-af", "ClusterId", "ProcId", "EpochAdType")
        assert r.returncode == 0 and r.stderr == "", r
        assert sorted(r.stdout.splitlines()) == sorted(f"{c} 0 EPOCH" for c in clusters)
        r = history_tool(pool, "-epochs", "-directory", str(c1), "-af", "ClusterId", "ExitCode")
        assert r.stdout == f"{c1} 0\n", r
