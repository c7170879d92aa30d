"""A handle on one simulated personal pool: create it, start it, wait for it, stop it.

Used by the ``condor-sim`` command and by the pytest plugin.  It only launches
processes, reads the files a real pool leaves in its directory and runs the *real*
client library in a child process; it never reaches into a daemon's memory.

Which processes belong to the pool:

* the master is the process holding the fcntl lock on ``DIR/lock/InstanceLock`` (the
  real master's instance lock; a dead master holds no lock, so a recycled pid can
  never be mistaken for it), else the pid in ``DIR/run/condor_master.pid``; either way
  it must be a live ``condor_master`` whose environment has our ``CONDOR_CONFIG``;
* its daemons and their helpers are its descendants, plus any process whose
  environment has our ``CONDOR_CONFIG`` and either ``CONDOR_INHERIT`` (everything a
  master started, and their children) or a command line naming ``DIR/sbin/condor_*``
  (orphans whose master was killed).
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from . import procs as ptools
from .poolconfig import create_pool_dir
from .registry import DAEMONS

PID_FILE = "run/condor_master.pid"        # written by our master (condor_sim/daemons/master.py)
MASTER_STDERR = "run/condor_master.stderr"
INSTANCE_LOCK = "lock/InstanceLock"

# Address files as the generated condor_config places them (config-and-logs.md §1.9).
ADDRESS_FILES = {name: s.address_file for name, s in DAEMONS.items()}


class PoolError(RuntimeError):
    pass


_CONFIG_ERROR = re.compile(r"^(Configuration Error|Config source Error|ERROR: COLLECTOR_HOST).*$", re.M)


def config_error(text: str) -> str:
    """The configuration errors the client library (or the master) printed, each once."""
    out: list[str] = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if _CONFIG_ERROR.match(line):
            block = line if not line.startswith("Configuration Error") or i + 1 >= len(lines) \
                else f"{line}\n{lines[i + 1]}"
            if block not in out:
                out.append(block)
    return "\n".join(out)


class _StartupWatch:
    """Reads the MasterLog as it grows, for a child that exits while the pool starts (the
    master would restart it after a back-off; a starting pool has no reason to wait)."""

    _DIED = re.compile(r"The (\w+) \(pid \d+\) (exited with status [1-9]\d*|died due to signal \d+[^\n]*)")

    def __init__(self, path: Path):
        self.path = path
        self.pos = 0
        try:
            self.pos = path.stat().st_size     # only what this start-up writes
        except OSError:
            pass
        self.next_check = 0.0

    def child_died(self) -> str | None:
        now = time.monotonic()
        if now < self.next_check:
            return None
        self.next_check = now + 0.1
        try:
            with open(self.path, "rb") as f:
                f.seek(self.pos)
                data = f.read()
        except OSError:
            return None
        cut = data.rfind(b"\n") + 1
        self.pos += cut
        m = self._DIED.search(data[:cut].decode(errors="replace"))
        return f"the {m.group(1)} {m.group(2)}" if m else None


class PoolAlreadyRunning(PoolError):
    def __init__(self, directory: Path, pid: int):
        super().__init__(f"a pool is already running in {directory} (condor_master pid {pid})")
        self.pid = pid


class PoolNotRunning(PoolError):
    def __init__(self, directory: Path):
        super().__init__(f"no pool is running in {directory}")


def default_directory() -> Path:
    d = os.environ.get("CONDOR_SIM_DIR")
    return Path(d).expanduser() if d else Path.home() / ".condor-sim" / "pool"


# The readiness probe: the real client, in its own interpreter (its config is per process).
READY_PROBE = r"""
import json, os, sys, time
deadline = time.monotonic() + float(sys.argv[1])
local_dir = sys.argv[2]
import htcondor2
MYTYPE = {"MASTER": "DaemonMaster", "SCHEDD": "Scheduler", "NEGOTIATOR": "Negotiator", "STARTD": "Machine"}
EXE = {"condor_" + n.lower(): t for n, t in MYTYPE.items()}
names = {n.upper() for n in str(htcondor2.param.get("DAEMON_LIST", "")).replace(",", " ").split()}
need = {}
for n in names | {"MASTER"}:
    # a daemon listed under its own name (SCHEDD2 = $(SCHEDD)) counts by its executable
    kind = MYTYPE.get(n) or EXE.get(os.path.basename(str(htcondor2.param.get(n) or "")))
    if kind:
        need[kind] = need.get(kind, 0) + 1
wanted = set(need)
coll_files = [os.path.join(local_dir, "log", ".collector_address.super"),
              os.path.join(local_dir, "log", ".collector_address")]
last = "collector address file not written yet"
while time.monotonic() < deadline:
    if not any(os.path.exists(p) for p in coll_files):
        time.sleep(0.003)
        continue
    try:
        coll = htcondor2.Collector()
        ads = coll.query(htcondor2.AdType.Any,
                         constraint=" || ".join(f'MyType == "{t}"' for t in sorted(wanted)),
                         projection=["MyType", "Name", "MyAddress", "MyPid"])
        seen, count = {}, {}
        for ad in ads:
            seen.setdefault(ad.get("MyType"), ad)
            count[ad.get("MyType")] = count.get(ad.get("MyType"), 0) + 1
        missing = {t for t in wanted if count.get(t, 0) < need[t]}
        if missing:
            last = "no ad yet for " + ", ".join(sorted(missing))
            time.sleep(0.005)
            continue
        found = {}
        for kind, t in (("DaemonMaster", htcondor2.DaemonType.Master),
                        ("Scheduler", htcondor2.DaemonType.Schedd)):
            if kind in wanted:
                loc = coll.locate(t)
                have = [a.get("MyAddress") for a in ads if a.get("MyType") == kind]
                if loc.get("MyAddress") not in have:
                    raise RuntimeError(f"locate({kind}) gave {loc.get('MyAddress')}, "
                                       f"the collector has {', '.join(map(str, have))}")
        out = {t: {"Name": ad.get("Name"), "MyAddress": ad.get("MyAddress"), "MyPid": ad.get("MyPid")}
               for t, ad in seen.items()}
        print(json.dumps(out))
        sys.exit(0)
    except Exception as e:
        last = f"{type(e).__name__}: {e}"
        time.sleep(0.005)
print(json.dumps({"error": last}))
sys.exit(1)
"""


class Pool:
    """One pool directory (``DIR/condor_config``, ``DIR/log`` ...) and the processes running it."""

    def __init__(self, directory: str | os.PathLike | None = None, config: dict | None = None,
                 security: str = "secure"):
        self.directory = Path(directory if directory is not None else default_directory()).expanduser()
        self.directory = self.directory.absolute()
        self.local_dir = self.directory
        self.config_file = self.directory / "condor_config"
        self.config = {str(k): str(v) for k, v in (config or {}).items()}
        self.security = security
        self.last_ready: dict = {}
        self.startup_seconds: float | None = None
        self._spawned: int | None = None

    def __repr__(self) -> str:
        return f"Pool({str(self.directory)!r})"

    # ------------------------------------------------------------------ environment
    @property
    def env(self) -> dict[str, str]:
        """The environment for a client of this pool: ours, minus stray knobs, plus CONDOR_CONFIG."""
        env = {k: v for k, v in os.environ.items()
               if not k.upper().startswith("_CONDOR_")
               and k not in ("CONDOR_INHERIT", "CONDOR_PRIVATE_INHERIT", "CONDOR_SIM_BACKGROUND_FD")}
        env["CONDOR_CONFIG"] = str(self.config_file)
        return env

    def export_line(self) -> str:
        return f"export CONDOR_CONFIG={self.config_file}"

    # ------------------------------------------------------------------ layout
    def create(self) -> Path:
        """Write (or refresh) the pool directory and its condor_config."""
        self.directory.mkdir(parents=True, exist_ok=True)
        ensure_bytecode()
        return create_pool_dir(self.directory, self.security, self.config)

    @property
    def master_executable(self) -> Path:
        return self.directory / "sbin" / "condor_master"

    # ------------------------------------------------------------------ which processes
    def _is_ours(self, proc: psutil.Process, want_master: bool = False) -> bool:
        try:
            if proc.status() == psutil.STATUS_ZOMBIE:
                return False
            if want_master and not any("condor_master" in a for a in proc.cmdline()):
                return False
            env = proc.environ()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            return False
        return _same_file(_config_of(proc, env), self.config_file)

    def _lock_holder(self) -> int | None:
        pid = ptools.lock_holder(self.directory / INSTANCE_LOCK)
        return pid if pid and pid > 0 else None

    def master_pid(self) -> int | None:
        """The pid of this pool's running condor_master, or None."""
        candidates = []
        holder = self._lock_holder()
        if holder:
            candidates.append(holder)
        try:
            candidates.append(int((self.directory / PID_FILE).read_text().split()[0]))
        except (OSError, ValueError, IndexError):
            pass
        for pid in candidates:
            try:
                if self._is_ours(psutil.Process(pid), want_master=True):
                    return pid
            except psutil.NoSuchProcess:
                continue
        return None

    def is_running(self) -> bool:
        return self.master_pid() is not None

    def processes(self) -> list[psutil.Process]:
        """Every live process of this pool (the master, its daemons and their children)."""
        found: dict[int, psutil.Process] = {}
        me = os.getpid()
        sbin = str(self.directory / "sbin") + os.sep
        master = self.master_pid()
        if master:
            try:
                mp = psutil.Process(master)
                found[master] = mp
                for c in mp.children(recursive=True):
                    found[c.pid] = c
            except psutil.NoSuchProcess:
                pass
        for p in psutil.process_iter(["pid", "cmdline"]):
            if p.pid in found or p.pid == me:
                continue
            try:
                cmdline = p.info["cmdline"] or []
                named = any(a.startswith(sbin) for a in cmdline)
                env = p.environ()
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
            if not _same_file(_config_of(p, env), self.config_file):
                continue
            if named or "CONDOR_INHERIT" in env:
                found[p.pid] = p
                try:
                    for c in p.children(recursive=True):
                        found[c.pid] = c
                except psutil.NoSuchProcess:
                    pass
        alive = []
        for p in found.values():
            try:
                if p.status() != psutil.STATUS_ZOMBIE:
                    alive.append(p)
            except psutil.NoSuchProcess:
                pass
        return sorted(alive, key=lambda p: p.pid)

    # ------------------------------------------------------------------ start
    def start(self, timeout: float = 30.0, create: bool = True) -> float:
        """Launch condor_master in the background and wait until the pool is ready.

        Returns the seconds from launch to ready.  Raises PoolAlreadyRunning if a
        master already runs for this directory, PoolError if it does not come up."""
        pid = self.master_pid()
        if pid:
            raise PoolAlreadyRunning(self.directory, pid)
        self.kill_all(self.processes())      # orphans of a master that was killed
        if create or not self.config_file.exists():
            self.create()
        (self.directory / "run").mkdir(exist_ok=True)
        t0 = time.monotonic()
        probe = self._start_probe(timeout)
        try:
            self._spawned = self._launch_master()
            self._wait_probe(probe, timeout, t0)
        except BaseException:
            _kill(probe)
            self._cleanup_after_failed_start()
            raise
        self.startup_seconds = time.monotonic() - t0
        return self.startup_seconds

    def _launch_master(self) -> int:
        exe = str(self.master_executable)
        devnull = os.open(os.devnull, os.O_RDWR)
        err = os.open(self.directory / MASTER_STDERR, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            return os.posix_spawn(exe, [exe, "-f"], self.env, setsid=True,
                                  file_actions=[(os.POSIX_SPAWN_DUP2, devnull, 0),
                                                (os.POSIX_SPAWN_DUP2, devnull, 1),
                                                (os.POSIX_SPAWN_DUP2, err, 2)])
        finally:
            os.close(devnull)
            os.close(err)

    def _start_probe(self, timeout: float) -> subprocess.Popen:
        # The probe reads DAEMON_LIST from the pool's config (through the client library)
        # and waits for the ad of each daemon in it that advertises to the collector.
        return subprocess.Popen([sys.executable, "-c", READY_PROBE, str(timeout), str(self.directory)],
                                env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, cwd="/", text=True)

    def _wait_probe(self, probe: subprocess.Popen, timeout: float, t0: float) -> dict:
        import selectors
        deadline = t0 + timeout + 5
        sel = selectors.DefaultSelector()
        sel.register(probe.stdout, selectors.EVENT_READ)
        watch = _StartupWatch(self.directory / "log" / "MasterLog")
        while True:
            # the probe prints its one line and exits: its stdout wakes us at once
            sel.select(0.05)
            rc = probe.poll()
            if rc is None and probe.stdout in (k.fileobj for k, _ in sel.select(0)):
                try:
                    rc = probe.wait(timeout=2)
                except subprocess.TimeoutExpired:
                    rc = None
            if rc is not None:
                out, err = probe.communicate()
                last = out.strip().splitlines()[-1] if out.strip() else "{}"
                try:
                    result = json.loads(last)
                except ValueError:
                    result = {"error": (out + err).strip()[-2000:]}
                sel.close()
                if rc == 0:
                    self.last_ready = result
                    return result
                problem = config_error(err) or config_error(self._master_stderr())
                if problem:
                    raise PoolError(f"the pool's configuration has an error:\n{problem}")
                raise PoolError(f"the pool in {self.directory} did not become ready within {timeout:g} s: "
                                f"{result.get('error', err.strip()[-500:])}{self.diagnostics()}")
            if self._spawned and not ptools.alive(self._spawned):
                # the master died (or, with our own child, exited) before the pool was ready
                if not self.is_running():
                    _kill(probe)
                    problem = config_error(self._master_stderr())
                    if problem:
                        raise PoolError(f"the pool's configuration has an error:\n{problem}")
                    raise PoolError(f"condor_master exited during startup{self.diagnostics()}")
            died = watch.child_died()
            if died:
                _kill(probe)
                raise PoolError(f"{died} during start-up{self.daemon_log_tail(died.split()[1])}"
                                f"{self.diagnostics()}")
            if time.monotonic() > deadline:
                _kill(probe)
                raise PoolError(f"the pool in {self.directory} did not become ready within {timeout:g} s"
                                f"{self.diagnostics()}")

    def _master_stderr(self) -> str:
        try:
            return (self.directory / MASTER_STDERR).read_text(errors="replace")
        except OSError:
            return ""

    def daemon_log_tail(self, subsys: str, lines: int = 15) -> str:
        """The last lines of a daemon's log, for an error message ("" if none)."""
        from .registry import DAEMONS
        spec = DAEMONS.get(subsys.upper())
        if spec is None:
            return ""
        try:
            text = (self.directory / "log" / spec.log_name).read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return f"\n{spec.log_name} (tail):\n" + "\n".join(text[-lines:])

    def wait_ready(self, timeout: float = 30.0) -> dict:
        """Wait until the real client sees the master's and schedd's ads and locate() works."""
        t0 = time.monotonic()
        return self._wait_probe(self._start_probe(timeout), timeout, t0)

    def diagnostics(self) -> str:
        """The master's stderr and the tail of its log, for error messages ("" if none)."""
        parts = []
        err = self.directory / MASTER_STDERR
        try:
            text = err.read_text(errors="replace").strip()
            if text:
                parts.append("condor_master stderr:\n" + text[-3000:])
        except OSError:
            pass
        log = self.directory / "log" / "MasterLog"
        try:
            lines = log.read_text(errors="replace").splitlines()[-25:]
            parts.append("MasterLog (tail):\n" + "\n".join(lines))
        except OSError:
            pass
        return ("\n" + "\n".join(parts)) if parts else ""

    def _cleanup_after_failed_start(self) -> None:
        try:
            self.stop(fast=True, timeout=5)
        except PoolError:
            pass
        self.kill_all(self.processes())

    # ------------------------------------------------------------------ stop
    def stop(self, fast: bool = False, timeout: float = 30.0) -> None:
        """Signal the master (SIGTERM, or SIGQUIT if ``fast``), wait for the pool to exit,
        then kill whatever of it is left.  Raises PoolNotRunning if nothing ran."""
        before = self.processes()
        pid = self.master_pid()
        if pid is None and not before:
            self.reap()
            raise PoolNotRunning(self.directory)
        if pid is not None:
            try:
                os.kill(pid, signal.SIGQUIT if fast else signal.SIGTERM)
            except ProcessLookupError:
                pass
            ptools.wait_gone(pid, timeout)
        self.reap()
        # The master waits for its children before it exits; anything left now is stuck
        # or orphaned (e.g. its master was SIGKILLed).  Give orphans a moment to notice.
        left = [p for p in set(before) | set(self.processes()) if ptools.alive(p.pid, p)]
        if left:
            deadline = time.monotonic() + (2.0 if pid is not None else 0.5)
            while left and time.monotonic() < deadline:
                time.sleep(0.02)
                left = [p for p in left if ptools.alive(p.pid, p)]
        self.kill_all(left)

    def kill_all(self, procs) -> None:
        """SIGKILL these processes (and the process group each leads) and wait, up to 5 s,
        until they are gone.  A zombie counts as gone: it is dead, and only its parent can
        reap it (we do, for children of ours)."""
        left = [p for p in procs if ptools.alive(p.pid, p)]
        for p in left:
            ptools.kill_tree(p.pid)
        killed, deadline = left, time.monotonic() + 5
        while left and time.monotonic() < deadline:
            time.sleep(0.01)
            left = [p for p in left if ptools.alive(p.pid, p)]
        for p in killed:
            ptools.reap(p.pid)                          # our own child: reap it
        self.reap()

    def reap(self) -> None:
        """Collect the exit status of the master this Pool launched, if it has exited, so
        that it does not linger as a zombie of the caller."""
        if self._spawned:
            try:
                wpid, _ = os.waitpid(self._spawned, os.WNOHANG)
                if wpid:
                    self._spawned = None
            except ChildProcessError:
                self._spawned = None

    # ------------------------------------------------------------------ status
    def address(self, subsys: str) -> str | None:
        rel = ADDRESS_FILES.get(subsys.upper())
        if rel is None:
            return None
        for path in (self.directory / (rel + ".super"), self.directory / rel):
            try:
                line = path.read_text().splitlines()[0].strip()
            except (OSError, IndexError):
                continue
            if line.startswith("<"):
                return line
        return None

    def status(self) -> dict:
        """Daemons, pids and addresses, from the processes and the address files."""
        master = self.master_pid()
        daemons = []
        if master:
            daemons.append({"name": "MASTER", "pid": master, "address": self.address("MASTER")})
            sbin = str(self.directory / "sbin" / "condor_")
            for p in self.processes():
                if p.pid == master:
                    continue
                try:
                    cmd = p.cmdline()
                    if p.ppid() != master:
                        continue       # e.g. a daemon's forked config check: same cmdline
                except psutil.Error:
                    continue
                name = daemon_name(cmd, sbin)
                if name is None:
                    continue
                daemons.append({"name": name, "pid": p.pid, "address": self.address(name)})
        return {"directory": str(self.directory), "config_file": str(self.config_file),
                "running": master is not None, "master_pid": master, "daemons": daemons}


# ---------------------------------------------------------------------- helpers
def daemon_name(cmdline: list[str], sbin_prefix: str) -> str | None:
    """The DAEMON_LIST name of a pool process from its command line: ``$(SBIN)/condor_X``
    gives X, and ``-local-name L`` (a daemon listed under its own name, such as
    ``SCHEDD2 = $(SCHEDD)``) gives L; None for a process that is not a daemon of the pool."""
    exe = next((a for a in cmdline if a.startswith(sbin_prefix)), None)
    if exe is None:
        return None
    if "-local-name" in cmdline[:-1]:
        return cmdline[cmdline.index("-local-name") + 1].upper()
    return exe[len(sbin_prefix):].upper()


_BYTECODE_DONE = False


def ensure_bytecode() -> None:
    """Compile condor_sim's modules to ``__pycache__`` if they are not already.

    Every daemon is a fresh interpreter that imports the whole package; without cached
    bytecode each one compiles it from source (an editable install under
    PYTHONDONTWRITEBYTECODE never caches it), which is a third of a daemon's start-up.
    A pip-installed package has this done at install time.  Best effort."""
    global _BYTECODE_DONE
    if _BYTECODE_DONE:
        return
    _BYTECODE_DONE = True
    try:
        import compileall
        pkg = Path(__file__).resolve().parent
        if os.access(pkg, os.W_OK):
            compileall.compile_dir(str(pkg), quiet=2, workers=1)
    except Exception:
        pass

def _config_of(proc: psutil.Process, env: dict) -> str | None:
    """The process's CONDOR_CONFIG, made absolute against its own working directory."""
    cfg = env.get("CONDOR_CONFIG")
    if cfg and not os.path.isabs(cfg):
        try:
            cfg = os.path.join(proc.cwd(), cfg)
        except psutil.Error:
            return None
    return cfg


def _same_file(a: str | None, b: Path) -> bool:
    if not a:
        return False
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(a) == str(b)


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
    try:
        proc.communicate(timeout=5)
    except Exception:
        pass
