"""The pytest plugin (``condor_sim.pytest_plugin``) and its pool handle (``condor_sim.handle``).

Most tests run an inner pytest (pytester, in a subprocess) that uses the plugin exactly as
a downstream project would: it is active through the ``pytest11`` entry point, nothing
is imported by hand.  After each inner run every process of every pool it started must
be gone; ``pool_processes_under`` asks the OS (psutil) for them.
"""
from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from condor_sim.testing import DaemonLog, RestartMode, SimPool

pytest_plugins = ("pytester",)


# ---------------------------------------------------------------------------- helpers
def pool_processes_under(root: Path) -> list[psutil.Process]:
    """Live processes of any pool whose directory is below ``root``: a CONDOR_CONFIG or a
    command line there (the watchdog has neither, it is not a pool process)."""
    root_s = str(root)
    found = []
    for p in psutil.process_iter(["pid", "cmdline"]):
        if p.pid == os.getpid():
            continue
        try:
            if p.status() == psutil.STATUS_ZOMBIE:
                continue
            cmd = p.info["cmdline"] or []
            cfg = p.environ().get("CONDOR_CONFIG", "")
        except (psutil.Error, OSError):
            continue
        if cfg.startswith(root_s) or any(a.startswith(root_s) and "/sbin/condor_" in a for a in cmd):
            found.append(p)
    return found


def assert_no_pool_process(root: Path, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        left = pool_processes_under(root)
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert not left, "left running: " + "; ".join(f"{p.pid} {' '.join(p.cmdline())}" for p in left)


def pool_dirs_under(root: Path) -> list[Path]:
    return sorted(p.parent for p in root.glob("**/condor-pool*/condor_config"))


def inner(pytester: pytest.Pytester, *args: str, timeout: float = 120) -> pytest.RunResult:
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=timeout)
    assert_no_pool_process(pytester.path)
    return result


def write(pytester: pytest.Pytester, name: str, text: str) -> Path:
    path = pytester.path / name
    path.write_text(textwrap.dedent(text))
    return path


# ---------------------------------------------------------------------------- both fixtures, the marker
FIXTURES = '''
import os
import pytest
import htcondor2

def interval(pool, daemon="SCHEDD"):
    return pool.remote_param(daemon)["SCHEDD_INTERVAL"]

def test_condor_config_names_the_pool(condor_pool):
    assert os.environ["CONDOR_CONFIG"] == str(condor_pool.config_file)
    assert condor_pool.env["CONDOR_CONFIG"] == str(condor_pool.config_file)
    assert condor_pool.local_dir == condor_pool.config_file.parent.resolve()
    # code under test uses the default objects and reaches this pool
    schedd_ad = htcondor2.Collector().locate(htcondor2.DaemonType.Schedd)
    assert schedd_ad["MyAddress"] == condor_pool.address("SCHEDD")
    assert htcondor2.param["LOCAL_DIR"] == str(condor_pool.local_dir)
    assert condor_pool.collector().locate(htcondor2.DaemonType.Master)["MyAddress"] == condor_pool.address("MASTER")
    assert isinstance(condor_pool.schedd(), htcondor2.Schedd)
    assert interval(condor_pool) == "5"
    assert any("STARTING UP" in line for line in condor_pool.log("MASTER").lines)
    # a child process gets the pool through the environment
    out = condor_pool.run_command([sys_executable(), "-c", "import htcondor2; print(htcondor2.param['LOCAL_DIR'])"])
    assert out.stdout.strip() == str(condor_pool.local_dir), out.stderr

def sys_executable():
    import sys
    return sys.executable

@pytest.mark.condor_config(SCHEDD_INTERVAL=17, MY_KNOB="from the marker")
def test_marker_applies_to_the_session_pool(condor_pool):
    assert interval(condor_pool) == "17"
    assert condor_pool.remote_param("MASTER")["MY_KNOB"] == "from the marker"
    assert htcondor2.param["SCHEDD_INTERVAL"] == "17"      # the client's own view, reloaded

@pytest.mark.condor_config({"MY_KNOB": "from a dict", "SCHEDD_INTERVAL": "2"})
class TestMarkerOnAClass:
    @pytest.mark.condor_config(SCHEDD_INTERVAL=3)
    def test_closest_marker_and_class_marker(self, condor_pool):
        assert interval(condor_pool) == "3"
        assert condor_pool.remote_param("SCHEDD")["MY_KNOB"] == "from a dict"

def test_marker_was_undone_and_faults_are_undone(condor_pool):
    assert interval(condor_pool) == "5"
    assert "MY_KNOB" not in condor_pool.remote_param("MASTER")
    before = condor_pool.pid("SCHEDD")
    log = condor_pool.log("MASTER").mark()
    assert condor_pool.kill("SCHEDD") == before
    log.wait_for(rf"The SCHEDD \\(pid {before}\\) died due to signal 9")
    condor_pool.pause("COLLECTOR")
    os.environ["LEFT_BY_TEST"] = str(before)

def test_reset_revived_and_resumed(condor_pool):
    assert condor_pool.pid("SCHEDD") != int(os.environ.pop("LEFT_BY_TEST"))
    assert htcondor2.Collector().locate(htcondor2.DaemonType.Schedd)["MyAddress"] == condor_pool.address("SCHEDD")

@pytest.mark.condor_config(SCHEDD_INTERVAL=9)
def test_factory(condor_pool, condor_pool_factory):
    session_cfg = str(condor_pool.config_file)
    other = condor_pool_factory(config={"MASTER_UPDATE_INTERVAL": "7"})
    assert other.config_file != condor_pool.config_file
    assert os.environ["CONDOR_CONFIG"] == str(other.config_file)      # the newest pool is current
    assert other.remote_param("MASTER")["MASTER_UPDATE_INTERVAL"] == "7"
    assert interval(other) == "9"                                     # marker knobs too
    assert interval(condor_pool) == "9"
    # two pools at once: each handle's objects reach its own pool
    assert other.collector().locate(htcondor2.DaemonType.Schedd)["MyAddress"] == other.address("SCHEDD")
    assert condor_pool.collector().locate(htcondor2.DaemonType.Schedd)["MyAddress"] == condor_pool.address("SCHEDD")
    quiet = condor_pool_factory(activate=False)
    assert os.environ["CONDOR_CONFIG"] == str(other.config_file)
    assert quiet.collector().locate(htcondor2.DaemonType.Master)["MyAddress"] == quiet.address("MASTER")
    with open(os.environ["POOLS_FILE"], "a") as f:
        f.write(f"{other.directory}\\n{quiet.directory}\\n")
    os.environ["SESSION_CFG"] = session_cfg

def test_factory_pools_are_gone_and_config_restored(condor_pool):
    assert os.environ["CONDOR_CONFIG"] == os.environ.pop("SESSION_CFG")
    for d in open(os.environ["POOLS_FILE"]).read().split():
        assert not os.path.exists(d)          # stopped and removed
    assert interval(condor_pool) == "5"

def test_without_the_fixture():
    # (the session pool is still the client config: session fixtures live until the end)
    assert os.environ["CONDOR_CONFIG"].endswith("/condor_config")
'''


def test_fixtures_marker_and_reset(pytester: pytest.Pytester, monkeypatch):
    monkeypatch.delenv("CONDOR_CONFIG", raising=False)
    monkeypatch.setenv("POOLS_FILE", str(pytester.path / "pools.txt"))
    write(pytester, "test_fixtures.py", FIXTURES)
    result = inner(pytester, "-v")
    result.assert_outcomes(passed=8)
    result.stdout.fnmatch_lines(["*condor-sim: backend sim*"])
    # every pool directory is gone (not kept), the registry names all three
    assert pool_dirs_under(pytester.path) == []
    registry = next(pytester.path.glob("runpytest-*/condor-sim-pools.json"))
    assert registry.read_text().count('"directory"') == 3


SAME_MARKER = '''
import os
import pytest

def reconfigs(pool):
    return sum("Got SIGHUP" in line for line in pool.log("MASTER").lines)

def interval(pool):
    return pool.remote_param("SCHEDD")["SCHEDD_INTERVAL"]

def test_before(condor_pool):
    os.environ["RECONFIGS"] = str(reconfigs(condor_pool))

@pytest.mark.condor_config(SCHEDD_INTERVAL=7)
class TestSameMarker:
    def test_a(self, condor_pool):
        assert interval(condor_pool) == "7"

    def test_b(self, condor_pool):
        assert interval(condor_pool) == "7"
        (condor_pool.directory / "config.d" / "50-by-hand").write_text("X = 1\\n")

    def test_c(self, condor_pool):
        assert interval(condor_pool) == "7"
        assert not (condor_pool.directory / "config.d" / "50-by-hand").exists()

def test_after(condor_pool):
    assert interval(condor_pool) == "5"
    # applied once for a, kept for b, b's own file undone (one reconfig, knobs kept), kept for c, undone
    assert reconfigs(condor_pool) == int(os.environ["RECONFIGS"]) + 3
'''


def test_same_marker_on_consecutive_tests_reconfigures_once(pytester: pytest.Pytester):
    write(pytester, "test_same.py", SAME_MARKER)
    inner(pytester).assert_outcomes(passed=5)


# ---------------------------------------------------------------------------- failures
FAILING = '''
import pytest

def test_breaks_the_pool_and_fails(condor_pool):
    condor_pool.kill("SCHEDD")
    condor_pool.pause("COLLECTOR")
    assert False, "on purpose"

def test_still_fine(condor_pool):
    assert condor_pool.pid("SCHEDD")
    condor_pool.collector().locate(__import__("htcondor2").DaemonType.Schedd)

def test_factory_pool_of_a_failing_test(condor_pool_factory):
    condor_pool_factory()
    raise RuntimeError("on purpose")

@pytest.fixture
def broken(condor_pool):
    raise RuntimeError("fixture broken on purpose")

def test_fixture_error(broken):
    pass

def test_master_killed(condor_pool):
    condor_pool.kill("MASTER")
    assert not condor_pool.is_running()

def test_pool_back_after_master_was_killed(condor_pool):
    assert condor_pool.is_running() and condor_pool.pid("SCHEDD")
'''


def test_teardown_after_failures(pytester: pytest.Pytester):
    write(pytester, "test_failing.py", FAILING)
    result = inner(pytester, "-rA")
    result.assert_outcomes(passed=3, failed=2, errors=1)
    # the failure report carries the tail of the pool's logs
    result.stdout.fnmatch_lines(["*condor-sim session pool (main): MasterLog (last lines)*"])
    assert pool_dirs_under(pytester.path) == []


def test_pool_that_cannot_start_is_an_error_not_a_hang(pytester: pytest.Pytester):
    write(pytester, "test_nostart.py", '''
        def test_bad_config(condor_pool_factory):
            condor_pool_factory(config={"DAEMON_LIST": "MASTER COLLECTOR SCHEDD"}, timeout=0.01)
    ''')
    result = inner(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*did not become ready*"])


# ---------------------------------------------------------------------------- options
KEEP = '''
def test_uses_pool(condor_pool):
    assert condor_pool.is_running()
'''


@pytest.mark.parametrize("how", ["option", "ini"])
def test_keep_pool(pytester: pytest.Pytester, how):
    write(pytester, "test_keep.py", KEEP)
    if how == "ini":
        pytester.makeini("[pytest]\ncondor_keep_pool = true\n")
        result = inner(pytester)
    else:
        result = inner(pytester, "--condor-keep-pool")
    result.assert_outcomes(passed=1)
    kept = pool_dirs_under(pytester.path)
    assert len(kept) == 1 and (kept[0] / "log" / "MasterLog").exists()
    result.stdout.fnmatch_lines(["*condor-sim: pool directories kept*", f"{kept[0]}*"])


def test_bad_backend_is_a_usage_error(pytester: pytest.Pytester):
    pytester.makeini("[pytest]\ncondor_backend = docker\n")
    write(pytester, "test_x.py", "def test_x():\n    pass\n")
    result = pytester.runpytest_subprocess()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*condor_backend must be one of sim, external*"])


EXTERNAL = '''
import os
import pytest
import htcondor2

def test_uses_the_pool_condor_config_names(condor_pool):
    assert condor_pool.backend == "external"
    assert str(condor_pool.config_file) == os.environ["CONDOR_CONFIG"] == os.environ["OUTER_CONFIG"]
    assert condor_pool.schedd() is not None
    assert condor_pool.collector().locate(htcondor2.DaemonType.Schedd)["MyAddress"]
    assert condor_pool.remote_param("SCHEDD")["SCHEDD_INTERVAL"] == "5"
    assert condor_pool.log("SCHEDD").lines

def test_kill_skips(condor_pool):
    condor_pool.kill("SCHEDD")

def test_pause_skips(condor_pool):
    condor_pool.pause("SCHEDD")

def test_restart_skips(condor_pool):
    condor_pool.restart("crash")

@pytest.mark.condor_config(SCHEDD_INTERVAL=17)
def test_marker_skips(condor_pool):
    pass

def test_factory_skips(condor_pool_factory):
    condor_pool_factory()
'''


@pytest.mark.parametrize("how", ["option", "ini"])
def test_external_backend(pytester: pytest.Pytester, monkeypatch, tmp_path, how):
    pool = SimPool(tmp_path / "external").start()
    try:
        monkeypatch.setenv("CONDOR_CONFIG", str(pool.config_file))
        monkeypatch.setenv("OUTER_CONFIG", str(pool.config_file))
        write(pytester, "test_external.py", EXTERNAL)
        if how == "ini":
            pytester.makeini("[pytest]\ncondor_backend = external\n")
            result = inner(pytester, "-rs")
        else:
            result = inner(pytester, "-rs", "--condor-backend=external")
        result.assert_outcomes(passed=1, skipped=5)
        result.stdout.fnmatch_lines([
            "*condor-sim: backend external*",
            "SKIPPED*kill('SCHEDD') needs a pool started by condor-sim; this run uses --condor-backend=external*",
            "SKIPPED*condor_config changes the pool's configuration*external*",
            "SKIPPED*condor_pool_factory starts pools of its own*external*",
        ])
        assert pool.pids().keys() == {"MASTER", "COLLECTOR", "NEGOTIATOR", "SCHEDD", "STARTD"}     # untouched
        assert pool_dirs_under(pytester.path) == []
    finally:
        pool.stop()
        pool.remove()


def test_external_backend_without_condor_config(pytester: pytest.Pytester, monkeypatch):
    monkeypatch.delenv("CONDOR_CONFIG", raising=False)
    write(pytester, "test_ext.py", "def test_x(condor_pool):\n    pass\n")
    result = inner(pytester, "--condor-backend=external")
    if os.path.exists("/etc/condor/condor_config"):
        pytest.skip("this machine has /etc/condor/condor_config")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*CONDOR_CONFIG is not set*"])


# ---------------------------------------------------------------------------- xdist
XDIST = '''
import os
import pytest

@pytest.mark.parametrize("i", range(4))
def test_worker_pool(condor_pool, i):
    assert os.environ["CONDOR_CONFIG"] == str(condor_pool.config_file)
    assert condor_pool.pid("SCHEDD")
    with open(os.environ["WORKERS_FILE"], "a") as f:
        f.write(f"{os.environ['PYTEST_XDIST_WORKER']} {condor_pool.directory} {condor_pool.address('SCHEDD')}\\n")
    if i == 0:
        condor_pool.kill("SCHEDD")
        assert False, "on purpose, with a dead schedd"
'''


def test_xdist_one_pool_per_worker(pytester: pytest.Pytester, monkeypatch):
    out = pytester.path / "workers.txt"
    monkeypatch.setenv("WORKERS_FILE", str(out))
    write(pytester, "test_xdist.py", XDIST)
    result = inner(pytester, "-n", "2")
    got = result.parseoutcomes()
    assert (got.get("passed"), got.get("failed"), got.get("errors", got.get("error"))) == (3, 1, None), \
        "\n".join(result.outlines[-120:])
    rows = [line.split() for line in out.read_text().splitlines()]
    workers = {r[0] for r in rows}
    assert workers == {"gw0", "gw1"}
    by_worker = {}
    for w, d, addr in rows:
        by_worker.setdefault(w, set()).add(d)
    assert all(len(d) == 1 for d in by_worker.values())              # one pool per worker
    assert by_worker["gw0"] != by_worker["gw1"]                      # different directories
    ports = {w: {a for ww, _, a in rows if ww == w} for w in workers}
    assert not ports["gw0"] & ports["gw1"]                           # different addresses
    assert pool_dirs_under(pytester.path) == []


# ---------------------------------------------------------------------------- interrupted runs
SLEEPER = '''
import os
import time

def test_sleeps(condor_pool):
    with open(os.environ["STARTED_FILE"], "a") as f:
        f.write(str(condor_pool.config_file) + "\\n")
    time.sleep(120)
'''


@pytest.mark.parametrize("sig,xdist", [(signal.SIGINT, False), (signal.SIGTERM, False), (signal.SIGKILL, False),
                                       (signal.SIGINT, True)],
                         ids=["SIGINT", "SIGTERM", "SIGKILL", "xdist-SIGINT"])
def test_interrupted_run_leaves_no_pool_process(pytester: pytest.Pytester, sig, xdist):
    started = pytester.path / "started.txt"
    write(pytester, "test_sleeper.py", SLEEPER)
    if xdist:
        write(pytester, "test_sleeper2.py", SLEEPER)
    env = dict(os.environ, STARTED_FILE=str(started))
    env.pop("CONDOR_CONFIG", None)
    args = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--basetemp={pytester.path / 'bt'}"]
    if xdist:
        args += ["-n", "2"]
    proc = subprocess.Popen(args, cwd=pytester.path, env=env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        want = 2 if xdist else 1
        deadline = time.monotonic() + 60
        while not (started.exists() and len(started.read_text().split()) >= want):
            assert proc.poll() is None, proc.stdout.read().decode()
            assert time.monotonic() < deadline, "the inner run never started its pool"
            time.sleep(0.05)
        configs = started.read_text().split()
        assert len(pool_processes_under(pytester.path)) >= 3 * want
        if xdist:
            os.killpg(proc.pid, sig)         # Ctrl-C in a terminal: the whole foreground group
        else:
            proc.send_signal(sig)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert_no_pool_process(pytester.path)
    assert not any(SimPool(Path(cfg).parent).is_running() for cfg in configs)


# ---------------------------------------------------------------------------- the handle itself
@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    p = SimPool(tmp_path_factory.mktemp("handle") / "pool").start()
    p.activate()          # the client objects the handle returns use this process's config
    yield p
    p.stop()              # (deactivates it)
    assert not p.processes()
    p.remove()


def test_reset_is_fast_when_nothing_changed(pool):
    pool.reset()
    times = []
    for _ in range(50):
        t0 = time.perf_counter()
        pool.reset()
        times.append(time.perf_counter() - t0)
    assert statistics.median(times) < 0.020, times


def test_reconfig_then_reset(pool):
    assert pool.remote_param("SCHEDD")["SCHEDD_INTERVAL"] == "5"
    pool.reconfig({"SCHEDD_INTERVAL": 11})
    pool.reconfig({"MASTER_UPDATE_INTERVAL": 13})                    # adds to the first
    assert pool.remote_param("SCHEDD")["SCHEDD_INTERVAL"] == "11"
    assert pool.remote_param("MASTER")["MASTER_UPDATE_INTERVAL"] == "13"
    # a test that edits the config files itself is undone as well
    (pool.directory / "config.d" / "50-by-hand").write_text("SCHEDD_INTERVAL = 12\n")
    pool.reset()
    assert not (pool.directory / "config.d" / "50-by-hand").exists()
    assert pool.remote_param("SCHEDD")["SCHEDD_INTERVAL"] == "5"
    assert pool.remote_param("MASTER")["MASTER_UPDATE_INTERVAL"] == "5"


def test_reconfig_rejects_bad_knobs(pool):
    with pytest.raises(ValueError):
        pool.reconfig({"NOT A NAME": 1})
    with pytest.raises(ValueError):
        pool.reconfig({"X": "two\nlines"})


def test_pause_and_resume(pool):
    pid = pool.pause("SCHEDD")
    assert psutil.Process(pid).status() == psutil.STATUS_STOPPED
    pool.resume("SCHEDD")
    assert psutil.Process(pid).status() != psutil.STATUS_STOPPED
    pool.pause("SCHEDD")
    pool.pause("COLLECTOR")
    pool.resume()
    assert all(psutil.Process(p).status() != psutil.STATUS_STOPPED for p in pool.pids().values())


def test_kill_and_master_backoff_then_reset(pool):
    log = pool.log("MASTER").mark()
    old = pool.kill("SCHEDD")
    log.wait_for(rf"The SCHEDD \(pid {old}\) died due to signal 9")
    log.wait_for(r"restarting .*/sbin/condor_schedd in \d+ seconds")
    assert "SCHEDD" not in pool.pids()
    pool.reset()
    new = pool.pid("SCHEDD")
    assert new and new != old
    assert pool.locate("SCHEDD")["MyAddress"] == pool.address("SCHEDD")


def test_kill_the_collector_then_reset(pool):
    pool.kill("COLLECTOR")
    pool.reset()
    import htcondor2
    with pool.use_config():
        ad = htcondor2.Collector().locate(htcondor2.DaemonType.Schedd)
    assert ad["MyAddress"] == pool.address("SCHEDD")


@pytest.mark.parametrize("mode", list(RestartMode))
def test_restart_one_daemon(pool, mode):
    old = pool.pids()
    pool.restart(mode, "SCHEDD")
    new = pool.pids()
    assert new["SCHEDD"] != old["SCHEDD"]
    assert new["MASTER"] == old["MASTER"] and new["COLLECTOR"] == old["COLLECTOR"]


@pytest.mark.parametrize("mode", ["graceful", "fast", "crash"])
def test_restart_whole_pool(pool, mode):
    old = pool.pids()
    log = pool.log("MASTER").mark()
    pool.restart(mode)
    new = pool.pids()
    assert set(new) == {"MASTER", "COLLECTOR", "NEGOTIATOR", "SCHEDD", "STARTD"}
    assert new["SCHEDD"] != old["SCHEDD"] and new["COLLECTOR"] != old["COLLECTOR"]
    if mode == "crash":
        assert new["MASTER"] != old["MASTER"]
    else:
        assert new["MASTER"] == old["MASTER"]                     # the master re-execs itself
        log.wait_for(r"Doing exec\( .*condor_master")
    import htcondor2
    with pool.use_config():
        assert htcondor2.Collector().locate(htcondor2.DaemonType.Schedd)["MyAddress"] == pool.address("SCHEDD")


def test_kill_master_then_reset_starts_the_pool_again(pool):
    old = pool.pids()
    pool.kill("MASTER")
    assert not pool.is_running() and not pool.processes()
    pool.reset()
    assert pool.is_running() and pool.pid("SCHEDD") not in (None, old["SCHEDD"])


def test_daemon_log_views(tmp_path):
    path = tmp_path / "SchedLog"
    log = DaemonLog(path)
    assert log.lines == [] and log.search("x") is None
    path.write_text("one\ntwo\npart")
    assert log.lines == ["one", "two"]                 # a line being written is not a line yet
    later = log.mark()
    with open(path, "a") as f:
        f.write("ial\nthree\n")
    assert later.lines == ["ial", "three"]
    assert log.wait_for(r"th(re)e").group(1) == "re"
    assert "partial" in log
    with pytest.raises(TimeoutError, match="no line of .* matched /nope/"):
        log.wait_for("nope", timeout=0.05)
    path.write_text("rotated\n")                       # shorter than the mark: read from the start
    assert later.lines == ["rotated"]


def test_plugin_is_active_through_the_entry_point(pytester: pytest.Pytester):
    result = pytester.runpytest_subprocess("--fixtures", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["condor_pool*", "condor_pool_factory*"])
    result = pytester.runpytest_subprocess("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.condor_config(KEY=VALUE, ...)*"])
    result = pytester.runpytest_subprocess("--help")
    result.stdout.fnmatch_lines(["*--condor-backend=*", "*--condor-keep-pool*"])


BLOCKED = '''
import os
import htcondor2

def test_blocks_on_a_paused_collector(condor_pool):
    condor_pool.pause("COLLECTOR")
    with open(os.environ["STARTED_FILE"], "a") as f:
        f.write(str(condor_pool.config_file) + "\\n")
    htcondor2.Collector().query(htcondor2.AdTypes.Any)     # blocks: the collector is stopped
'''


def test_sigterm_ends_a_run_blocked_in_a_client_call(pytester: pytest.Pytester):
    """pause() is SIGSTOP, so the query blocks inside the C library; SIGTERM must still end
    pytest, and the watchdog must still stop the pool (the paused daemon too)."""
    started = pytester.path / "started.txt"
    write(pytester, "test_blocked.py", BLOCKED)
    env = dict(os.environ, STARTED_FILE=str(started))
    env.pop("CONDOR_CONFIG", None)
    proc = subprocess.Popen([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                             f"--basetemp={pytester.path / 'bt'}"], cwd=pytester.path, env=env,
                            start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not (started.exists() and started.read_text().strip()):
            assert proc.poll() is None, proc.stdout.read().decode()
            assert time.monotonic() < deadline, "the inner run never paused its collector"
            time.sleep(0.05)
        stopped = [p for p in pool_processes_under(pytester.path) if p.status() == psutil.STATUS_STOPPED]
        assert stopped, "the collector is not paused"
        # poll until the client is connected to the paused collector: the call is blocked
        port = int(SimPool(Path(started.read_text().split()[0]).parent).address("COLLECTOR")
                   .split(":")[1].split("?")[0].rstrip(">"))
        inner_pytest = psutil.Process(proc.pid)
        conns = getattr(inner_pytest, "net_connections", inner_pytest.connections)
        while not any(c.raddr and c.raddr.port == port for c in conns(kind="tcp")):
            assert time.monotonic() < deadline, "the client never connected"
            time.sleep(0.05)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
        assert time.monotonic() - t0 < 5
        assert proc.returncode == -signal.SIGTERM
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert_no_pool_process(pytester.path)


# ---------------------------------------------------------------------------- fixture factories
PROC_CONFTEST = '''
from condor_sim.factories import condor_pool_proc

second_pool = condor_pool_proc(config={"SCHEDD_INTERVAL": "42"})
open_pool = condor_pool_proc(security="plaintext", scope="module")
'''
PROC_TESTS = '''
import htcondor2

def test_a_second_session_pool(condor_pool, second_pool):
    assert second_pool.directory != condor_pool.directory
    assert second_pool.remote_param("SCHEDD")["SCHEDD_INTERVAL"] == "42"
    assert condor_pool.remote_param("SCHEDD")["SCHEDD_INTERVAL"] == "5"
    # not activated: the process's client still talks to the session pool
    ad = htcondor2.Collector().locate(htcondor2.DaemonType.Schedd)
    assert ad["MyAddress"] == condor_pool.address("SCHEDD")

def test_the_same_pool_again(second_pool):
    with open("dirs.txt", "a") as f:
        f.write(str(second_pool.directory) + "\\n")

def test_still_the_same(second_pool):
    with open("dirs.txt", "a") as f:
        f.write(str(second_pool.directory) + "\\n")

def test_plaintext(open_pool):
    with open_pool.use_config():
        ads = htcondor2.Collector().query(htcondor2.AdTypes.Schedd, projection=["Name"])
    assert len(ads) == 1
'''


def test_condor_pool_proc_declares_more_session_pools(pytester: pytest.Pytester):
    write(pytester, "conftest.py", PROC_CONFTEST)
    write(pytester, "test_pools.py", PROC_TESTS)
    result = inner(pytester)
    result.assert_outcomes(passed=4)
    dirs = (pytester.path / "dirs.txt").read_text().split()
    assert len(dirs) == 2 and dirs[0] == dirs[1]          # session scope: one pool for both
    assert pool_dirs_under(pytester.path) == []


def test_condor_pool_proc_skips_with_an_external_backend(pytester: pytest.Pytester, monkeypatch):
    write(pytester, "conftest.py", PROC_CONFTEST)
    write(pytester, "test_pools.py", "def test_it(second_pool):\n    pass\n")
    result = inner(pytester, "--condor-backend=external", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*starts a pool of its own*"])
