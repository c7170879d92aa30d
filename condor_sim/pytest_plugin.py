"""pytest plugin: HTCondor pools as fixtures, for the test suites of projects that drive HTCondor.

Active as soon as condor-sim is installed (``pytest11`` entry point).  It gives

* ``condor_pool`` (session scope): one pool per pytest process, so one per xdist
  worker.  While it is up, ``CONDOR_CONFIG`` names it and the client library has
  re-read its config: the code under test needs no change.  After every test that
  used it, ``condor_pool.reset()`` puts it back as it started (config, paused or
  stopped daemons).
* ``condor_pool_factory``: ``condor_pool_factory(config={...})`` starts another pool for
  this test (it becomes the current client config until the test ends, unless
  ``activate=False``); stopped at the end of the test.
* ``@pytest.mark.condor_config(KEY="VALUE", ...)`` (or a dict, for names that are not
  identifiers): knobs for one test.  On ``condor_pool`` they are written to
  ``config.d`` and applied with a reconfig, and ``reset()`` takes them away after the
  test.  Knobs a daemon reads only when it starts need a pool of their own: pools from
  ``condor_pool_factory`` in a marked test start with the marker's knobs.
* ``--condor-backend=sim|external`` (ini ``condor_backend``): ``external`` uses the
  pool ``CONDOR_CONFIG`` already names (a real HTCondor) instead of starting one;
  helpers that need a pool we started skip the test with the reason.
* ``--condor-keep-pool`` (ini ``condor_keep_pool``): keep pool directories (logs,
  config) after the run; they are listed at the end.

No pool process outlives the run: fixtures stop their pools (also after failures and
on Ctrl-C); SIGTERM, SIGHUP and SIGKILL end pytest at once (even inside a client call
blocked on a paused daemon), and every pool has a watchdog process that stops it when
the pytest process that started it is gone; the controlling pytest process stops any
pool of the run still up at its very end.
"""
from __future__ import annotations

import itertools
import json
import os
from collections.abc import Mapping
from pathlib import Path

import pytest

from .registry import SIMULATED

BACKENDS = ("sim", "external")
MARKER = "condor_config"

_SETTINGS = pytest.StashKey[dict]()
_USED = pytest.StashKey[list]()
_NEXT = pytest.StashKey[object]()


# ============================================================================ options
def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("condor-sim", "HTCondor pools for tests (condor-sim)")
    group.addoption("--condor-backend", dest="condor_backend", choices=BACKENDS, default=None,
                    help="sim: start simulated pools (default); external: use the pool "
                         "CONDOR_CONFIG already names, e.g. a real HTCondor")
    group.addoption("--condor-keep-pool", dest="condor_keep_pool", action="store_true", default=None,
                    help="keep the pool directories (config, logs) after the run, for debugging")
    parser.addini("condor_backend", "condor-sim backend: sim or external (default sim)", default="sim")
    parser.addini("condor_keep_pool", "keep condor-sim pool directories after the run", type="bool",
                  default=False)
    parser.addini("condor_daemon_list", "DAEMON_LIST of the session pool (default: the five daemons of "
                  "a personal pool; 'MASTER COLLECTOR SCHEDD' for suites that never run jobs)", default="")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(KEY=VALUE, ...): HTCondor configuration for this test (condor-sim): applied to "
        "condor_pool with a reconfig and undone after the test; pools from condor_pool_factory "
        "start with it")
    backend = config.getoption("condor_backend") or str(config.getini("condor_backend") or "sim").strip()
    if backend not in BACKENDS:
        raise pytest.UsageError(f"condor_backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    keep = config.getoption("condor_keep_pool")
    if keep is None:
        keep = bool(config.getini("condor_keep_pool"))
    workerinput = getattr(config, "workerinput", None)
    registry = workerinput.get("condor_sim_registry") if workerinput else None
    config.stash[_SETTINGS] = {"backend": backend, "keep": bool(keep),
                               "registry": Path(registry) if registry else None,
                               "worker": workerinput is not None,
                               "worker_id": workerinput.get("workerid", "worker") if workerinput else "main"}


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    """xdist controller: every worker records its pools in the controller's registry."""
    node.workerinput["condor_sim_registry"] = str(_registry_path(node.config))


def pytest_report_header(config: pytest.Config) -> str:
    s = config.stash[_SETTINGS]
    extra = ", keeping pool directories" if s["keep"] else ""
    if s["backend"] == "external":
        return (f"condor-sim: backend external (CONDOR_CONFIG="
                f"{os.environ.get('CONDOR_CONFIG', '<unset>')}){extra}")
    return f"condor-sim: backend sim{extra}"


def _settings(config: pytest.Config) -> dict:
    return config.stash[_SETTINGS]


# ============================================================================ registry of pools
def _registry_path(config: pytest.Config) -> Path:
    s = config.stash[_SETTINGS]
    if s["registry"] is None:
        s["registry"] = config._tmp_path_factory.getbasetemp() / "condor-sim-pools.json"
    return s["registry"]


class _Registry:
    """The pools of this run, in a JSON file every xdist worker appends to (under a file lock);
    the controlling process stops whatever is still running at the end."""

    def __init__(self, path: Path):
        from filelock import FileLock
        self.path = path
        self.lock = FileLock(str(path) + ".lock", timeout=60)

    def _load(self) -> list[dict]:
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            return []

    def add(self, directory: Path, keep: bool, worker: str) -> None:
        with self.lock:
            entries = self._load()
            entries.append({"directory": str(directory), "owner": os.getpid(), "keep": keep,
                            "worker": worker})
            tmp = self.path.with_name(self.path.name + ".tmp")
            tmp.write_text(json.dumps(entries, indent=1))
            os.replace(tmp, self.path)

    def entries(self) -> list[dict]:
        if not self.path.exists():
            return []
        with self.lock:
            return self._load()


def _sweep(entries: list[dict]) -> list[str]:
    """Stop every pool of ``entries`` that still runs, and any process left of them."""
    from .pool import Pool, PoolError
    stopped = []
    configs = {}
    for e in entries:
        pool = Pool(e["directory"])
        configs[str(pool.config_file)] = pool
        if pool.is_running():
            try:
                pool.stop(fast=True, timeout=10)
            except PoolError:
                pass
            stopped.append(e["directory"])
    if not configs:
        return stopped
    import psutil
    left = []
    for p in psutil.process_iter(["pid", "cmdline"]):
        if p.pid == os.getpid():
            continue
        try:
            env = p.environ()
        except (psutil.Error, OSError):
            continue
        cfg = env.get("CONDOR_CONFIG")
        if cfg in configs and ("CONDOR_INHERIT" in env or
                               any("/sbin/condor_" in a for a in (p.info["cmdline"] or []))):
            left.append(p)
    for p in left:
        try:
            p.kill()
        except psutil.Error:
            pass
    if left:
        psutil.wait_procs(left, timeout=5)
        stopped.extend(sorted({str(Path(p.environ().get("CONDOR_CONFIG", "?")).parent)
                               for p in left if p.is_running()}))
    return stopped


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    s = _settings(config)
    if s["worker"] or not s["keep"] or s["registry"] is None:
        return
    entries = _Registry(s["registry"]).entries()
    if entries:
        terminalreporter.write_sep("-", "condor-sim: pool directories kept (--condor-keep-pool)")
        for e in entries:
            who = f" [{e['worker']}]" if e.get("worker") not in (None, "", "main") else ""
            terminalreporter.write_line(f"{e['directory']}{who}")


def pytest_unconfigure(config: pytest.Config) -> None:
    s = config.stash.get(_SETTINGS, None)
    if not s or s["worker"] or s["registry"] is None:
        return
    try:
        entries = _Registry(s["registry"]).entries()
    except Exception:
        return
    _sweep(entries)


# ============================================================================ markers
def marker_knobs(node) -> dict[str, str]:
    """The knobs of every ``condor_config`` marker on the test (the closest one wins)."""
    knobs: dict = {}
    for mark in reversed(list(node.iter_markers(MARKER))):
        for arg in mark.args:
            if not isinstance(arg, Mapping):
                raise pytest.UsageError(f"@pytest.mark.{MARKER} takes KEY=VALUE keywords or a dict, "
                                        f"not {arg!r}")
            knobs.update(arg)
        knobs.update(mark.kwargs)
    return knobs


# ============================================================================ fixtures
def _new_sim_pool(config: pytest.Config, tmp_path_factory, knobs: dict, security: str, name: str):
    from .testing import SimPool
    s = _settings(config)
    base = tmp_path_factory.getbasetemp()
    for i in itertools.count():
        directory = base / f"condor-pool{i}"
        try:
            directory.mkdir()
            break
        except FileExistsError:
            continue
    _Registry(_registry_path(config)).add(directory, s["keep"], s["worker_id"])
    return SimPool(directory, config=knobs, security=security, name=name)


def _finish(pool, keep: bool) -> None:
    try:
        pool.stop()
    finally:
        if not keep:
            pool.remove()


@pytest.fixture(scope="session")
def condor_pool(request: pytest.FixtureRequest, tmp_path_factory):
    """The session's HTCondor pool (one per xdist worker); ``CONDOR_CONFIG`` names it."""
    s = _settings(request.config)
    if s["backend"] == "external":
        from .testing import ExternalPool
        cfg = os.environ.get("CONDOR_CONFIG")
        if cfg and not os.path.exists(cfg):
            pytest.fail(f"--condor-backend=external: CONDOR_CONFIG names {cfg}, which does not exist",
                        pytrace=False)
        if not cfg and not os.path.exists("/etc/condor/condor_config"):
            pytest.fail("--condor-backend=external uses the pool CONDOR_CONFIG names, "
                        "but CONDOR_CONFIG is not set", pytrace=False)
        yield ExternalPool(cfg)
        return
    daemons = str(request.config.getini("condor_daemon_list") or "").strip()
    pool = _new_sim_pool(request.config, tmp_path_factory, {"DAEMON_LIST": daemons} if daemons else {},
                         "secure", f"session pool ({s['worker_id']})")
    pool.start()
    try:
        pool.activate()
        yield pool
    finally:
        _finish(pool, s["keep"])


@pytest.fixture
def condor_pool_factory(request: pytest.FixtureRequest, tmp_path_factory):
    """``condor_pool_factory(config=None, *, security="secure", activate=True, timeout=30)``
    starts a pool for this test (with the test's ``condor_config`` marker knobs under
    ``config``); every pool it started is stopped when the test ends."""
    s = _settings(request.config)
    started = []
    used = request.node.stash.setdefault(_USED, [])
    base = marker_knobs(request.node)

    def factory(config: Mapping | None = None, *, security: str = "secure", activate: bool = True,
                timeout: float = 30.0):
        if s["backend"] == "external":
            pytest.skip("condor_pool_factory starts pools of its own; this run uses "
                        "--condor-backend=external")
        knobs = {**base, **dict(config or {})}
        pool = _new_sim_pool(request.config, tmp_path_factory, knobs, security,
                             f"{request.node.name} pool {len(started) + 1}")
        started.append(pool)
        pool.start(timeout=timeout)
        used.append(pool)
        if activate:
            pool.activate()
        return pool

    yield factory
    errors = []
    for pool in reversed(started):
        try:
            _finish(pool, s["keep"])
        except Exception as e:          # stop the others all the same
            errors.append(e)
    if errors:
        raise errors[0]


@pytest.fixture(autouse=True)
def _condor_sim_per_test(request: pytest.FixtureRequest):
    """For a test that uses ``condor_pool``: apply its marker, reset the pool afterwards."""
    if "condor_pool" not in request.fixturenames:
        yield
        return
    pool = request.getfixturevalue("condor_pool")
    request.node.stash.setdefault(_USED, []).append(pool)
    knobs = marker_knobs(request.node)
    if knobs:
        if pool.backend == "external":
            pytest.skip(f"@pytest.mark.{MARKER} changes the pool's configuration; this run uses "
                        "--condor-backend=external")
        pool.reconfig(knobs)
    yield
    keep = None
    if knobs:
        # the next test has the same marker: leave its knobs in place (one reconfig, not two)
        nxt = request.node.stash.get(_NEXT, None)
        if nxt is not None and "condor_pool" in getattr(nxt, "fixturenames", ()) \
                and marker_knobs(nxt) == knobs:
            keep = knobs
    if keep and pool.backend == "sim":
        pool.reset(keep_knobs=keep)
    else:
        pool.reset()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem) -> None:
    item.stash[_NEXT] = nextitem


# ============================================================================ reports
@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call):
    report = yield
    if report.failed and report.when in ("setup", "call"):
        for pool in item.stash.get(_USED, []):
            if getattr(pool, "backend", None) != "sim":
                continue
            for name in SIMULATED:
                try:
                    lines = pool.log(name).lines[-15:]
                except Exception:
                    continue
                if lines:
                    report.sections.append((f"condor-sim {pool.name}: {pool.log_path(name).name} (last lines)",
                                            "\n".join(lines)))
    return report
