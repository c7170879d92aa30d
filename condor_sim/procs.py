"""Process plumbing shared by the master (its children), the pool handle and the tests'
launchers: start a process in its own group, kill a whole tree, reap without blocking,
wait for a process to be gone, ask who holds a lock file, and find a Python that another
user can run with this installation's packages.

Import-light (psutil only when asked), so the master can use it before its heavy imports.
"""
from __future__ import annotations

import os
import signal
import struct
import sys
import time


def spawn(path: str, argv: list[str], env: dict[str, str], *, new_session: bool = False) -> int:
    """posix_spawn ``path`` as the leader of a new process group (or session), with an
    empty signal mask whatever ours is; returns its pid."""
    group = {"setsid": True} if new_session else {"setpgroup": 0}
    return os.posix_spawn(path, argv, env, setsigmask=(), **group)


def kill_tree(pid: int, sig: int = signal.SIGKILL) -> None:
    """``sig`` to the process group ``pid`` leads, then to ``pid`` itself (in case it left
    the group); processes already gone are no error."""
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def kill_group(pgid: int, sig: int = signal.SIGKILL) -> None:
    """``sig`` to what is left of a process group whose leader is already reaped (never to
    the pid itself, which the system may have given to another process by now)."""
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def reap(pid: int) -> int | None:
    """The wait status of our child ``pid`` if it has exited (reaped now), else None.
    One someone else already reaped reads as a clean exit (status 0)."""
    try:
        wpid, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return 0
    return status if wpid else None


def alive(pid: int, proc=None) -> bool:
    """Running and not a zombie."""
    import psutil
    try:
        p = proc if proc is not None else psutil.Process(pid)
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return False


def wait_gone(pid: int, timeout: float) -> bool:
    """Poll until ``pid`` is gone (reaping it if it is ours); False after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if reap(pid) is not None and not alive(pid):
            return True
        if not alive(pid):
            return True
        time.sleep(0.01)
    return False


# struct flock differs: Linux (short type, short whence, off_t start, off_t len, pid_t pid)
# and the BSDs/macOS (off_t start, off_t len, pid_t pid, short type, short whence).
_FLOCK_LINUX = "hhqqi4x"
_FLOCK_BSD = "qqihh"


def lock_holder(path: str | os.PathLike) -> int | None:
    """The pid holding an fcntl write lock on ``path`` (-1 when the holder is not a
    process, such as an open-file-description lock), or None when it is not locked."""
    import fcntl
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        if sys.platform.startswith("linux"):
            res = fcntl.fcntl(fd, fcntl.F_GETLK, struct.pack(_FLOCK_LINUX, fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0))
            ltype, _, _, _, pid = struct.unpack(_FLOCK_LINUX, res)
        else:
            res = fcntl.fcntl(fd, fcntl.F_GETLK, struct.pack(_FLOCK_BSD, 0, 0, 0, fcntl.F_WRLCK, os.SEEK_SET))
            _, _, pid, ltype, _ = struct.unpack(_FLOCK_BSD, res)
    except OSError:
        return None
    finally:
        os.close(fd)
    if ltype == fcntl.F_UNLCK:
        return None
    return pid if pid > 0 else -1


# ------------------------------------------------------------------ process names (Linux)
_PR_SET_NAME = 15
_LIBC: list = []


def libc():
    """The C library through ctypes (None where it cannot be loaded), loaded once."""
    if not _LIBC:
        try:
            import ctypes
            _LIBC.append(ctypes.CDLL(None, use_errno=True))
        except OSError:
            _LIBC.append(None)
    return _LIBC[0]


def set_process_name(name: str) -> bool:
    """``prctl(PR_SET_NAME)``: what ``ps -o comm`` and psutil's name() show (15 bytes)."""
    lib = libc()
    try:
        return lib is not None and lib.prctl(_PR_SET_NAME, name.encode()[:15], 0, 0, 0) == 0
    except AttributeError:
        return False


def proc_areas() -> tuple[int, int, int, int] | None:
    """Where the kernel keeps our command line and initial environment
    (``/proc/self/stat`` arg_start, arg_end, env_start, env_end)."""
    try:
        with open("/proc/self/stat") as f:
            data = f.read()
        fields = data[data.rindex(")") + 2:].split()
        return int(fields[45]), int(fields[46]), int(fields[47]), int(fields[48])
    except (OSError, ValueError, IndexError):
        return None


def _arg_area() -> tuple[int, int] | None:
    a = proc_areas()
    return (a[0], a[1]) if a else None


def set_title(argv: list[str]) -> bool:
    """Make ``/proc/self/cmdline`` read ``argv``, written over the master's own command
    line (a fork inherits it); False, changing nothing, where it does not fit.

    Arguments without spaces are written the way setproctitle does (one string, the
    area's last byte not NUL: the kernel then reads up to the first NUL and tools split
    on spaces); others as NUL-separated strings padded with NULs."""
    area = _arg_area()
    if area is None:
        return False
    start, end = area
    size = end - start
    words = [a.encode() for a in argv]
    if any(b" " in w or b"\0" in w for w in words):
        text = b"\0".join(words) + b"\0"
        if len(text) > size:
            return False
        buf = text + b"\0" * (size - len(text))
    else:
        text = b" ".join(words) + b"\0"
        if len(text) + 1 > size:
            return False
        buf = text + b"\0" * (size - len(text) - 1) + b" "
    import ctypes
    ctypes.memmove(start, buf, size)
    return True


def usable_by_others(path: str) -> bool:
    """Whether any user can run this file: it, and every directory on its real path, are
    open to others."""
    real = os.path.realpath(path)
    try:
        d = os.path.dirname(real)
        while True:
            if not os.stat(d).st_mode & 0o001:
                return False
            parent = os.path.dirname(d)
            if parent == d:
                break
            d = parent
        return bool(os.stat(real).st_mode & 0o001)
    except OSError:
        return False


def python_for_others() -> tuple[str, dict[str, str]] | None:
    """An interpreter another uid can run, and the environment it needs to import this
    installation (condor_sim and the packages beside it); None if there is none.

    A venv whose base Python lives under /root (as on CI machines) is unusable by other
    users; the system Python of the same version can import the same packages."""
    if usable_by_others(sys.executable):
        return sys.executable, {}
    import site
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ver = f"{sys.version_info.major}.{sys.version_info.minor}"
    for cand in (f"/usr/bin/python{ver}", f"/usr/local/bin/python{ver}"):
        if os.path.exists(cand) and usable_by_others(cand):
            return cand, {"PYTHONPATH": os.pathsep.join([here, *site.getsitepackages()])}
    return None
