"""One job on the execute side: the core of ``condor_starter``, run in a child the startd
forks for the job.

``run_starter`` makes the slot directory ``<execute>/dir_<pid>`` with the job's working
directory ``scratch`` inside (STARTER_NESTED_SCRATCH), transfers the input, starts the
job in its own session (as the owner when root), waits for it with its rusage, kills
whatever it left behind (on Linux the starter is a child subreaper, so orphans of the
job come back to it), transfers the output and removes the directory.  Progress goes to
``report_fd`` as JSON lines with an ``event`` key.  SIGTERM asks for a graceful stop
(the job's KillSig, then SIGKILL to everything after ``kill_timeout``); SIGQUIT a fast
one (SIGKILL at once).  SIGUSR1 suspends the running job (SIGSTOP to its process group and
every process below us; report ``suspended`` with the number of processes stopped) and
SIGUSR2 continues it (SIGCONT; report ``continued``), the startd's SUSPEND_CLAIM and
CONTINUE_CLAIM; a job stopped while suspended is continued before it is killed.
"""
from __future__ import annotations

import ctypes
import json
import os
import pwd
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from typing import Callable

from . import holds, transfer
from .holds import Hold, Peers
from .syntax import join_args
from .jobspec import JOB_AD_FILE, MACHINE_AD_FILE, NULL_FILE, JobSpec, StarterError, job_spec

SAMPLE_INTERVAL = 1.0          # seconds between image size samples while the job runs
_PR_SET_CHILD_SUBREAPER = 36


class Reporter:
    """JSON lines to the startd; a startd gone away is not our problem."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __call__(self, event: str, **fields) -> None:
        data = (json.dumps({"event": event, **fields}) + "\n").encode()
        try:
            while data:
                data = data[os.write(self.fd, data):]
        except OSError:
            pass


class _Stop:
    """What the startd asked for, set from signal handlers: a stop, and whether the job
    should be suspended (the last SIGUSR1/SIGUSR2 wins)."""

    def __init__(self) -> None:
        self.graceful = False
        self.fast = False
        self.suspend = False

    @property
    def requested(self) -> bool:
        return self.graceful or self.fast


def _become_subreaper() -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _install_handlers(stop: _Stop) -> tuple[int, int]:
    """Handlers for SIGTERM/SIGQUIT/SIGCHLD that wake the wait loop through a pipe."""
    r, w = os.pipe()
    os.set_blocking(r, False)
    os.set_blocking(w, False)
    signal.set_wakeup_fd(w)

    def graceful(_signum, _frame):
        stop.graceful = True

    def fast(_signum, _frame):
        stop.fast = True

    def suspend(_signum, _frame):
        stop.suspend = True

    def resume(_signum, _frame):
        stop.suspend = False

    signal.signal(signal.SIGTERM, graceful)
    signal.signal(signal.SIGQUIT, fast)
    signal.signal(signal.SIGUSR1, suspend)
    signal.signal(signal.SIGUSR2, resume)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    return r, w


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 512):
            pass
    except (BlockingIOError, InterruptedError):
        pass


def _descendants() -> list:
    import psutil
    try:
        return psutil.Process().children(recursive=True)
    except psutil.Error:
        return []


def sample_tree(pid: int) -> tuple[int, int] | None:
    """(image size KiB, RSS KiB) over the job and every process below us; None when no
    process of the job can be measured."""
    import psutil
    procs = {p.pid: p for p in _descendants()}
    try:
        procs.setdefault(pid, psutil.Process(pid))
    except psutil.Error:
        pass
    vms = rss = 0
    seen = False
    for p in procs.values():
        try:
            if p.status() == psutil.STATUS_ZOMBIE:
                continue
            mi = p.memory_info()
        except psutil.Error:
            continue
        vms += mi.vms
        rss += mi.rss
        seen = True
    return (vms // 1024, rss // 1024) if seen else None


def kill_leftovers(pgid: int, timeout: float = 5.0) -> None:
    """SIGKILL the job's process group and every process still below us, and reap them,
    until none is left (or ``timeout`` passes)."""
    from ..procs import kill_group
    deadline = time.monotonic() + timeout
    while True:
        kill_group(pgid, signal.SIGKILL)
        left = _descendants()
        for p in left:
            try:
                p.kill()
            except Exception:
                pass
        _reap_all()
        if not left or time.monotonic() > deadline:
            return
        time.sleep(0.005)


def signal_job(pgid: int, sig: int) -> int:
    """``sig`` to the job's process group and to every live process below us (a process
    of the job that left the group too); how many processes it reached."""
    import psutil
    from ..procs import kill_group
    kill_group(pgid, sig)
    reached = 0
    for p in _descendants():
        try:
            if p.status() == psutil.STATUS_ZOMBIE:
                continue
            p.send_signal(sig)
            reached += 1
        except psutil.Error:
            continue
    return reached


def _reap_all() -> None:
    """Reap every child that has exited, without waiting for the others."""
    while True:
        try:
            wpid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if wpid == 0:
            return


def _slot_peers(slot_name: str, peers: Peers | None) -> tuple[str, Peers]:
    full = slot_name if "@" in slot_name else f"{slot_name}@{socket.gethostname().split('.')[0]}"
    return full, peers or Peers(slot=full, ap_host=socket.gethostname().split(".")[0])


def _user_ids(user: str | None) -> tuple[int, int] | None:
    if user is None:
        return None
    pw = pwd.getpwnam(user)
    return pw.pw_uid, pw.pw_gid


def _open_std(spec: JobSpec, owner: tuple[int, int] | None, slot: str) -> list[int] | Hold:
    """The job's three standard descriptors, or the hold for the first that fails."""
    fds: list[int] = []
    for which, path in enumerate((spec.stdin, spec.stdout, spec.stderr)):
        if which == 2 and spec.stderr is not None and spec.stderr == spec.stdout:
            fds.append(os.dup(fds[1]))
            continue
        name = path or NULL_FILE
        try:
            if which == 0:
                fd = os.open(name, os.O_RDONLY)
            else:
                existed = os.path.exists(name)
                fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
                if owner is not None and not existed and name != NULL_FILE:
                    os.fchown(fd, *owner)
        except OSError as e:
            for f in fds:
                os.close(f)
            return holds.std_open_failed(slot, which, name, holds.errno_of(e))
        fds.append(fd)
    return fds


def _write_ads(scratch: str, job, machine_ad, owner) -> dict[str, str]:
    env = {}
    for name, ad, var in ((JOB_AD_FILE, job, "_CONDOR_JOB_AD"),
                          (MACHINE_AD_FILE, machine_ad, "_CONDOR_MACHINE_AD")):
        if ad is None:
            continue
        path = os.path.join(scratch, name)
        with open(path, "w") as f:
            f.write(ad.printOld())
        if owner is not None:
            os.chown(path, *owner)
        env[var] = path
    return env


def _usage(ru, wall: float) -> dict:
    return {"user_cpu": round(ru.ru_utime, 6) if ru else 0.0,
            "sys_cpu": round(ru.ru_stime, 6) if ru else 0.0,
            "wall": round(wall, 6)}


def run_starter(job, *, execute_dir: str, slot_name: str, report_fd: int,
                log: Callable[[str], None], kill_timeout: float = 10.0,
                slot_env: dict[str, str] | None = None, machine_ad=None,
                peers: Peers | None = None) -> int:
    """Run ``job`` (a classad2.ClassAd) to its end, reporting on ``report_fd``; returns
    the starter's exit status (0 when the job ran, was held or was evicted; 1 when the
    starter could not set it up).  ``slot_name`` is the slot's full name (``slot1_1@vm``);
    ``peers`` names the two sides in transfer error texts."""
    pid = os.getpid()
    slot_dir = os.path.join(execute_dir, f"dir_{pid}")
    scratch = os.path.join(slot_dir, "scratch")
    report = Reporter(report_fd)
    stop = _Stop()
    wake_r, wake_w = _install_handlers(stop)
    _become_subreaper()
    try:
        return _run(job, slot_dir, scratch, slot_name, report, log, kill_timeout,
                    slot_env or {}, machine_ad, peers, stop, wake_r)
    finally:
        shutil.rmtree(slot_dir, ignore_errors=True)
        signal.set_wakeup_fd(-1)
        os.close(wake_r)
        os.close(wake_w)


def _run(job, slot_dir, scratch, slot_name, report, log, kill_timeout, slot_env, machine_ad,
         peers, stop, wake_r) -> int:
    slot, peers = _slot_peers(slot_name, peers)
    zero = {"user_cpu": 0.0, "sys_cpu": 0.0, "wall": 0.0}
    os.makedirs(scratch, mode=0o700)
    os.chmod(slot_dir, 0o755)
    extra = {"_CONDOR_SLOT": slot.split("@")[0], "CONDOR_STARTER_PID": str(os.getpid())}
    try:
        spec = job_spec(job, scratch, slot_env=slot_env, extra_env=extra)
    except StarterError as e:
        log(f"ERROR: {e}")
        log("ERROR: Failed to determine what user to run this job as, aborting")
        report("starter_failed", reason=str(e))
        return 1
    if isinstance(spec, Hold):
        return _hold(report, log, spec)
    owner = _user_ids(spec.run_as)
    if owner is not None:
        os.chown(scratch, *owner)
    spec.env.update(_write_ads(scratch, job, machine_ad, owner))

    bytes_recvd = 0
    if spec.transfer and not stop.requested:
        report("transfer_in_started")
        got = transfer.transfer_in(spec, scratch, peers, owner)
        if isinstance(got, Hold):
            return _hold(report, log, got)
        bytes_recvd, nfiles = got
        log("File transfer completed successfully.")
        report("transfer_in_finished", bytes=bytes_recvd, files=nfiles)
    if stop.requested:
        report("evicted", **zero, bytes_sent=0, bytes_recvd=bytes_recvd,
               image_size_kb=0, rss_kb=0, disk_kb=transfer.disk_kb(scratch))
        return 0
    before = transfer.snapshot(scratch)

    log(f"Starting a VANILLA universe job with ID: {spec.cluster}.{spec.proc}")
    log(f"IWD: {spec.cwd}")
    for label, path in (("Input file", spec.stdin), ("Output file", spec.stdout), ("Error file", spec.stderr)):
        if path is not None:
            log(f"{label}: {path}")
    log(f"Running job as user {spec.run_as}" if spec.run_as else
        "Running job as user same uid as parent: personal condor")
    fds = _open_std(spec, owner, slot)
    if isinstance(fds, Hold):
        return _hold(report, log, fds)
    log(f"About to exec {spec.executable} {join_args(spec.args)}")
    started = time.monotonic()
    try:
        proc = _spawn(spec, fds, report)
    except OSError as e:
        log(f"Create_Process({spec.executable},{' '.join(spec.args)}, ...) failed: {e}")
        return _hold(report, log, holds.exec_failed(slot, spec.executable, spec.args, holds.errno_of(e)))
    finally:
        for fd in fds:
            os.close(fd)
    log(f"Create_Process succeeded, pid={proc.pid}")
    report("execute", pid=proc.pid, scratch=scratch)

    status, ru, peak = _wait(proc, spec, report, stop, wake_r, kill_timeout)
    wall = time.monotonic() - started
    log(f"Process exited, pid={proc.pid}, status={status}")
    kill_leftovers(proc.pid)
    usage = _usage(ru, wall)
    disk = transfer.disk_kb(scratch)
    common = dict(image_size_kb=peak[0], rss_kb=peak[1], disk_kb=disk)

    if stop.requested:
        report("evicted", **usage, bytes_sent=0, bytes_recvd=bytes_recvd, **common)
        return 0
    by_signal = os.WIFSIGNALED(status)
    code = None if by_signal else os.WEXITSTATUS(status)
    sig = os.WTERMSIG(status) if by_signal else None
    bytes_sent = 0
    success = not by_signal and code == 0
    if spec.transfer and (spec.when_to_transfer_output != "ON_SUCCESS" or success):
        report("transfer_out_started")
        sent = transfer.transfer_out(spec, scratch, before, peers, owner)
        if isinstance(sent, Hold):
            return _hold(report, log, sent)
        bytes_sent, nfiles = sent
        log("File transfer completed successfully.")
        report("transfer_out_finished", bytes=bytes_sent, files=nfiles)
    log("All jobs have exited... starter exiting")
    report("exited", exit_code=code, exit_by_signal=by_signal, exit_signal=sig, **usage,
           bytes_sent=bytes_sent, bytes_recvd=bytes_recvd, **common)
    return 0


def _hold(report: Reporter, log, hold: Hold) -> int:
    log(hold.reason)
    report("hold", reason=hold.reason, code=hold.code, subcode=hold.subcode)
    return 0


def _spawn(spec: JobSpec, fds: list[int], report: Reporter) -> subprocess.Popen:
    """The job, in a session of its own.  Before it execs, the job's process says its pid
    to the startd itself (``job_pid``): a starter killed before it could report the
    execution must not leave the startd without the process group to kill."""
    kwargs: dict = {}
    if spec.run_as is not None:
        pw = pwd.getpwnam(spec.run_as)
        kwargs = {"user": pw.pw_uid, "group": pw.pw_gid,
                  "extra_groups": os.getgrouplist(spec.run_as, pw.pw_gid)}
    return subprocess.Popen([spec.executable, *spec.args], executable=spec.executable,
                            env=spec.env, cwd=spec.cwd, stdin=fds[0], stdout=fds[1],
                            stderr=fds[2], start_new_session=True, close_fds=True,
                            preexec_fn=lambda: report("job_pid", pid=os.getpid()), **kwargs)


def _wait(proc: subprocess.Popen, spec: JobSpec, report: Reporter, stop: _Stop, wake_r: int,
          kill_timeout: float):
    """Wait for the job while sampling its size and obeying stop requests; returns (wait
    status, rusage, (peak image KiB, peak RSS KiB))."""
    pid = proc.pid
    last: tuple[int, int] | None = None
    peak = (0, 0)
    next_sample = 0.0
    sent_kill_sig = False
    deadline: float | None = None
    killed = False
    suspended = False

    def sample() -> None:
        nonlocal last, peak
        s = sample_tree(pid)
        if s is None and last is None:
            s = (_file_kb(spec.executable), 0)
        if s is not None and s != last:
            last = s
            peak = (max(peak[0], s[0]), max(peak[1], s[1]))
            report("image_size", image_size_kb=s[0], rss_kb=s[1], memory_mb=(s[1] + 1023) // 1024)

    sample()
    next_sample = time.monotonic() + SAMPLE_INTERVAL
    while True:
        wpid, status, ru = os.wait4(pid, os.WNOHANG)
        if wpid == pid:
            proc.returncode = status          # reaped here, not by Popen
            break
        now = time.monotonic()
        if stop.requested and suspended:       # stopped processes must run to die
            suspended = False
            signal_job(pid, signal.SIGCONT)
        elif not stop.requested and stop.suspend != suspended:
            suspended = stop.suspend
            if suspended:
                report("suspended", num_pids=signal_job(pid, signal.SIGSTOP))
            else:
                signal_job(pid, signal.SIGCONT)
                report("continued")
        if stop.graceful and not sent_kill_sig and not stop.fast:
            sent_kill_sig = True
            deadline = now + kill_timeout
            try:
                os.kill(pid, spec.kill_sig)
            except ProcessLookupError:
                pass
        if not killed and (stop.fast or (deadline is not None and now >= deadline)):
            killed = True
            from ..procs import kill_tree
            kill_tree(pid, signal.SIGKILL)
            for p in _descendants():
                try:
                    p.kill()
                except Exception:
                    pass
        if now >= next_sample:
            next_sample = now + SAMPLE_INTERVAL
            sample()
        timeout = max(0.0, next_sample - now)
        if deadline is not None and not killed:
            timeout = min(timeout, max(0.0, deadline - now))
        if killed:
            timeout = min(timeout, 0.05)
        try:
            select.select([wake_r], [], [], timeout)
        except InterruptedError:
            pass
        _drain(wake_r)
    return status, ru, peak


def _file_kb(path: str) -> int:
    try:
        return (os.path.getsize(path) + 1023) // 1024
    except OSError:
        return 0


__all__ = ["run_starter", "Reporter", "sample_tree", "kill_leftovers", "signal_job"]
