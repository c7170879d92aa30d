"""condor_who's startd views against what the real 25.14 tool printed (fixtures/cli/condor_who):
the default view of a startd running two jobs, rendered from the slot ads the real startd
gave (``condor_who -long`` of the same moment), then the default, ``-daemons`` and ``-quick``
views of a simulated five-daemon pool running jobs, with times, pids, ports and hosts
masked."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import classad2
import pytest

from condor_sim.tools import condor_who as W
from support.captures import CLI, capture
from support.pools import client, running_pool

FIVE = "MASTER COLLECTOR NEGOTIATOR SCHEDD STARTD"


def captured(case: str) -> dict:
    return capture(CLI / "condor_who" / f"{case}.txt")


def slot_ads() -> list:
    """The two busy dynamic slots of the capture pool, as ``condor_who -long`` printed them."""
    return list(classad2.parseAds(captured("long")["stdout"]))


def capture_pid(ad):
    return ad.get("JobPid")


# The capture's job directory was a 21-character temporary path, replaced by /srv/pool/jobs
# when the captures were sanitized; the JOB_DIR heading kept the width of the original.
ORIGINAL_DIR = "/tmp/" + "x" * 11 + "/jobs"


def capture_cwd(pid):
    return ORIGINAL_DIR


def render(ads, pid_of=capture_pid) -> str:
    return W.render_jobs(ads, pid_of, capture_cwd).replace(ORIGINAL_DIR, "/srv/pool/jobs")


@pytest.mark.parametrize("case", ["wide", "logdir"])
def test_the_default_view_from_the_real_startds_ads(case):
    """Captured at the same second as ``-long``: the same running times."""
    assert render(slot_ads()) == captured(case)["stdout"]


def test_the_default_view_two_seconds_earlier():
    ads = slot_ads()
    for ad in ads:
        ad["TotalJobRunTime"] = ad["TotalJobRunTime"] - 2
    assert render(ads) == captured("noargs")["stdout"]


def test_the_verbose_views_tail_is_the_default_view():
    out = captured("verbose")["stdout"]
    assert out.endswith(render(slot_ads()))


def test_the_pieces():
    assert W.format_runtime(123) == "  0+00:02:03"
    assert W.format_runtime(86400 * 12 + 3661) == " 12+01:01:01"
    ad = classad2.ClassAd({"SlotID": 1, "DynamicSlot": True, "Name": "slot1_12@host"})
    assert W.slot_id_text(ad) == "1_12"
    assert W.slot_id_text(classad2.ClassAd({"SlotID": 2})) == "2"
    assert W.slot_id_text(classad2.ClassAd({"SlotID": 3, "DynamicSlot": True, "Name": "x@h"})) == "3_?"
    assert W.render_jobs([], capture_pid, capture_cwd) == ""
    # no pid known: the PID and JOB_DIR cells stay empty
    text = render(slot_ads()[:1], lambda ad: None)
    assert text.splitlines()[3].split() == ["htcpool@localdomain", "127.0.0.1", "1_1", "5.0", "0+00:02:03"]


# ------------------------------------------------------------------------------ against a pool
@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    # the startd advertises every second: the default view reads its ads in the collector
    with running_pool(tmp_path_factory.mktemp("who") / "p", DAEMON_LIST=FIVE, NUM_CPUS="2",
                      MEMORY="2048", STARTD_UPDATE_INTERVAL="1") as p:
        yield p


def who(pool, *args: str) -> str:
    env = dict(os.environ, CONDOR_CONFIG=str(pool.config_file))
    r = subprocess.run([sys.executable, "-m", "condor_sim.tools.condor_who", *args], env=env,
                       capture_output=True, text=True, timeout=60)
    assert (r.returncode, r.stderr) == (0, "")
    return r.stdout


def mask(text: str, pool) -> str:
    """Times, pids, ports, the host, the user and the pool's paths of both pools alike."""
    text = text.replace(str(pool.directory), "/srv/pool")
    # the simulated startd's ClientMachine is the schedd's address, the real one's its host
    text = re.sub(r"<127\.0\.0\.1:\d+\?addrs=[^>]*> (?=\d+_\d+ )", "127.0.0.1 ", text)
    text = re.sub(r"<127\.0\.0\.1:\d+(\?addrs=127\.0\.0\.1-\d+&alias=[^&>]+(&noUDP)?)?>", "<ADDR>", text)
    text = re.sub(r"\b\d+\+\d\d:\d\d:\d\d\b", "D+HH:MM:SS", text)
    text = re.sub(r"RealUID = \d+", "RealUID = UID", text)
    text = re.sub(r"(?<![.\d])\d{2,7}(?![.\d])", "PID", text)
    text = re.sub(r"^\S+@\S+ ", "USER@DOMAIN ", text, flags=re.M)
    text = re.sub(r"--Startd : \S+ ", "--Startd : HOST ", text)
    text = re.sub(r"/srv/pool/sbin/|/usr/release/sbin/", "SBIN/", text)
    text = re.sub(r"(?<= )/\S+$", "JOBDIR", text, flags=re.M)
    return "\n".join(line.rstrip() for line in re.sub(r"[ \t]+", " ", text).split("\n"))


def start_two_sleeps(pool, cwd) -> int:
    return client(pool, f"""
        import htcondor2, time
        s = htcondor2.Schedd()
        c = s.submit(htcondor2.Submit({{"executable": "/bin/sleep", "arguments": "600",
                                        "initialdir": {str(cwd)!r}}}), count=2).cluster()
        deadline = time.time() + 60
        while time.time() < deadline:
            if len(s.query(f"ClusterId == {{c}} && JobStatus == 2", ["ProcId"])) == 2:
                break
            time.sleep(0.1)
        return c
    """)


def test_the_views_of_a_pool_running_jobs(pool, tmp_path):
    cluster = start_two_sleeps(pool, tmp_path)
    try:
        deadline = time.monotonic() + 30
        out = ""
        while time.monotonic() < deadline:
            out = who(pool)
            if "has 2 job(s) running" in out:
                break
            time.sleep(0.2)
        got, want = mask(out, pool).split("\n"), mask(captured("noargs")["stdout"], pool).split("\n")
        assert got[:3] == want[:3] and got[5:] == want[5:]          # banner, headings, the end
        # owner, client, slot, job, run time (the pid and the job's directory need the slot's
        # JobPid or StarterPid, which the simulated startd does not publish yet)
        assert [r.split()[:5] for r in got[3:5]] == \
            [r.split()[:3] + [f"{cluster}.{i}", r.split()[4]] for i, r in enumerate(want[3:5])]
        rows = out.splitlines()[3:5]
        assert [r.split()[3] for r in rows] == [f"{cluster}.0", f"{cluster}.1"]
        assert [r.split()[2] for r in rows] == ["1_1", "1_2"]

        daemons = who(pool, "-daemons")
        assert mask(daemons, pool) == mask(captured("daemons")["stdout"], pool)
        quick = who(pool, "-quick")
        assert mask(quick, pool) == mask(captured("quick")["stdout"], pool)
        assert who(pool, "-af", "JobId").split() == [f"{cluster}.0", f"{cluster}.1"]
    finally:
        client(pool, f"""
            import htcondor2
            htcondor2.Schedd().act(htcondor2.JobAction.Remove, "ClusterId == {cluster}")
            return 0
        """)
