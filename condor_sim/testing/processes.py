"""Process facts the handle needs (state, children, command line, listening ports), from
/proc where there is one and psutil elsewhere."""
from __future__ import annotations

import os
import re
import socket



def _read_stat(pid: int) -> tuple[str, int] | None:
    """(state letter, start time in clock ticks) from /proc, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    rest = data[data.rfind(b")") + 2:].split()
    return rest[0].decode(), int(rest[19])


def _process_state(pid: int) -> tuple[str, float] | None:
    """(state, start key) of a process; psutil where there is no /proc."""
    if _HAVE_PROC:
        return _read_stat(pid)
    import psutil
    try:
        p = psutil.Process(pid)
        st = p.status()
        letter = {psutil.STATUS_ZOMBIE: "Z", psutil.STATUS_STOPPED: "T"}.get(st, "R")
        return letter, p.create_time()
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return None
    except psutil.AccessDenied:
        return "R", 0.0


_HAVE_PROC = os.path.isdir("/proc/self/task")


def _children(pid: int) -> list[int]:
    if _HAVE_PROC:
        kids: list[int] = []
        try:
            for tid in os.listdir(f"/proc/{pid}/task"):
                try:
                    with open(f"/proc/{pid}/task/{tid}/children") as f:
                        kids.extend(int(x) for x in f.read().split())
                except FileNotFoundError:
                    continue
            return kids
        except FileNotFoundError:
            return []
        except OSError:
            pass
    import psutil
    try:
        return [c.pid for c in psutil.Process(pid).children()]
    except psutil.Error:
        return []


def _cmdline(pid: int) -> list[str]:
    if _HAVE_PROC:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
        except OSError:
            return []
    import psutil
    try:
        return psutil.Process(pid).cmdline()
    except psutil.Error:
        return []


def _port_of(sinful: str) -> int | None:
    m = re.match(r"<[^:>]+:(\d+)", sinful or "")
    return int(m.group(1)) if m else None


def _can_connect(sinful: str) -> bool:
    port = _port_of(sinful)
    if port is None:
        return False
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False
