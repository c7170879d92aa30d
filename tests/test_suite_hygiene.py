"""The suite's own end-of-run check (support/leftovers.py, imported by tests/conftest.py):
a run that leaves a process of one of its pools running fails, with or without xdist,
names it, and kills it; a run that cleans up passes."""
from __future__ import annotations

import os
import textwrap
import time
from pathlib import Path

import psutil
import pytest

pytest_plugins = ("pytester",)

TESTS = Path(__file__).resolve().parent
CONFTEST = f'''
import sys
sys.path.insert(0, {str(TESTS)!r})
from support.leftovers import pytest_sessionfinish, pytest_testnodedown
'''
LEAKY = '''
import os
import subprocess
import sys

def test_starts_a_daemon_like_process(tmp_path):
    # what a master leaves in a daemon's environment, with the pool's config under basetemp
    env = dict(os.environ, CONDOR_CONFIG=str(tmp_path / "pool" / "condor_config"),
               CONDOR_INHERIT="1 <127.0.0.1:9> 0 0")
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"], env=env,
                            start_new_session=True)
    with open(os.environ["LEAK_FILE"], "a") as f:
        f.write(f"{proc.pid}\\n")
    if os.environ.get("CLEAN_UP"):
        proc.kill()
        proc.wait()
'''


def gone(pid: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


def run(pytester: pytest.Pytester, monkeypatch, *args: str, clean: bool = False):
    leak_file = pytester.path / "leaked.txt"
    monkeypatch.setenv("LEAK_FILE", str(leak_file))
    if clean:
        monkeypatch.setenv("CLEAN_UP", "1")
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_leaky=textwrap.dedent(LEAKY))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=120)
    pids = [int(x) for x in leak_file.read_text().split()]
    leaked = [pid for pid in pids if not gone(pid, timeout=5)]      # killed takes a moment under load
    for pid in leaked:                  # never leave one behind, whatever happened
        os.kill(pid, 9)
    return result, pids, leaked


@pytest.mark.parametrize("xdist", [False, True], ids=["plain", "xdist"])
def test_a_run_that_leaves_a_pool_process_fails(pytester: pytest.Pytester, monkeypatch, xdist):
    result, pids, leaked = run(pytester, monkeypatch, *(["-n", "2"] if xdist else []))
    result.assert_outcomes(passed=1)                 # the test passed; the run did not
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([f"*pool processes left behind by the suite: {pids[0]} *time.sleep(300)*"])
    assert leaked == [] and all(gone(pid) for pid in pids)      # and the check killed it


def test_a_run_that_cleans_up_passes(pytester: pytest.Pytester, monkeypatch):
    result, pids, leaked = run(pytester, monkeypatch, clean=True)
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.OK and leaked == []
    assert "left behind" not in result.stdout.str()


def test_a_job_left_running_by_a_pool_counts_as_left_behind(tmp_path):
    """A job's process (its scratch directory inside a pool under the base) is one of the
    pool's processes: a job a starter left behind fails the run as a daemon would."""
    import subprocess
    import sys
    from support.leftovers import leftovers
    scratch = tmp_path / "pool" / "execute" / "dir_1" / "scratch"
    env = dict(os.environ, _CONDOR_SCRATCH_DIR=str(scratch))
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"], env=env,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        while proc.pid not in [pid for pid, _ in leftovers(str(tmp_path))] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.pid in [pid for pid, _ in leftovers(str(tmp_path))]
        assert proc.pid not in [pid for pid, _ in leftovers(str(tmp_path / "elsewhere"))]
    finally:
        proc.kill()
        proc.wait()
