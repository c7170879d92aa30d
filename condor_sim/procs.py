"""Process plumbing shared by the master (its children), the pool handle and the tests'
launchers: start a process in its own group, kill a whole tree, reap without blocking,
wait for a process to be gone, and ask who holds a lock file.

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
