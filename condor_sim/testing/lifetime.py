"""What keeps a pool from outliving the process that started it: the pools this process
runs, an atexit hook, and the watchdog process each pool gets (it stops the pool when the
pipe from its starter closes, whatever killed the starter)."""
from __future__ import annotations

import atexit
import os
import threading

# ============================================================================ a pool we started
_LIVE: dict = {}         # pools started by this process and not stopped yet
_LIVE_LOCK = threading.Lock()
_HOOKS_INSTALLED = False

# The watchdog: a tiny process that stops a pool if the process that started it dies
# without stopping it (SIGKILL, a crashed xdist worker).  It learns of the death from
# EOF on its stdin, a pipe whose other end only the starting process holds.
WATCHDOG = r"""
import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGHUP, signal.SIG_IGN)
got = b""
while True:
    try:
        chunk = os.read(0, 64)
    except InterruptedError:
        continue
    if not chunk:
        break
    got += chunk
if b"stopped" in got:
    sys.exit(0)
from condor_sim.pool import Pool
pool = Pool(sys.argv[1])
for p in pool.processes():          # a pause()d daemon could not act on a stop
    try:
        p.resume()
    except Exception:
        pass
try:
    pool.stop(fast=True, timeout=10)
except Exception:
    pass
try:
    for p in pool.processes():
        p.kill()
except Exception:
    pass
"""


def _stop_all_live(fast: bool = True) -> None:
    with _LIVE_LOCK:
        # only in the process that started them (not in a forked child exiting)
        pools = [p for p in _LIVE.values() if p._owner == os.getpid()]
    for p in pools:
        try:
            p.stop(fast=fast, timeout=10)
        except Exception:
            pass


def _install_process_hooks() -> None:
    """A normal exit stops this process's pools at once (atexit).  SIGTERM and SIGHUP keep
    their disposition: a Python handler cannot run while the main thread is blocked in a
    client call (on a pause()d daemon, say), so a handler would make the process immune to
    SIGTERM.  The process dies as it would without us, and each pool's watchdog, seeing
    its pipe close, stops that pool."""
    global _HOOKS_INSTALLED
    if _HOOKS_INSTALLED:
        return
    _HOOKS_INSTALLED = True
    atexit.register(_stop_all_live)
