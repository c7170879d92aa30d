"""Which pool the client library of this process talks to (``CONDOR_CONFIG``), switched
per pool and restored."""
from __future__ import annotations

import contextlib
import os
import sys
import threading



class ClientConfig:
    """The client library's configuration is per process: this keeps a stack of pools that
    ``CONDOR_CONFIG`` named, so that leaving one restores the one before (or none)."""

    _lock = threading.RLock()
    _stack: list[tuple[object, dict[str, str | None]]] = []     # (pool handle, saved env)

    @staticmethod
    def _strip(name: str) -> bool:
        # Knobs from the environment would override the pool's own config; debugging
        # knobs (e.g. _CONDOR_TOOL_DEBUG) are kept.
        up = name.upper()
        return (up.startswith("_CONDOR_") and "DEBUG" not in up) or up in ("CONDOR_INHERIT",
                                                                          "CONDOR_PRIVATE_INHERIT")

    @classmethod
    def push(cls, pool) -> None:
        with cls._lock:
            saved: dict[str, str | None] = {"CONDOR_CONFIG": os.environ.get("CONDOR_CONFIG")}
            if pool.backend == "sim":        # (an external pool may need the environment's knobs)
                for k in list(os.environ):
                    if cls._strip(k):
                        saved[k] = os.environ.pop(k)
            os.environ["CONDOR_CONFIG"] = str(pool.config_file)
            cls._stack.append((pool, saved))
            reload_client_config()

    @classmethod
    def pop(cls, pool) -> None:
        with cls._lock:
            for i in range(len(cls._stack) - 1, -1, -1):
                if cls._stack[i][0] is pool:
                    break
            else:
                return
            _, saved = cls._stack.pop(i)
            if i < len(cls._stack):
                # left out of order: the one above now restores what this one saved
                above, above_saved = cls._stack[i]
                merged = dict(saved)
                merged.update({k: v for k, v in above_saved.items() if k not in saved})
                cls._stack[i] = (above, merged)
                return
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
            reload_client_config()

    @classmethod
    def current(cls):
        with cls._lock:
            if not cls._stack:
                return None
            pool = cls._stack[-1][0]
        return pool if os.environ.get("CONDOR_CONFIG") == str(pool.config_file) else None


def reload_client_config() -> None:
    """Make the client library re-read ``CONDOR_CONFIG`` (htcondor2, and the v1 module if loaded)."""
    import htcondor2
    if os.environ.get("CONDOR_CONFIG") or os.path.exists("/etc/condor/condor_config"):
        htcondor2.reload_config()
    else:
        # Back to no config at all, as before the pool: the library says so on fd 2
        # ("can't find config source"), which is no news here.
        with _quiet_stderr():
            htcondor2.reload_config()
    v1 = sys.modules.get("htcondor")
    if v1 is not None and hasattr(v1, "reload_config"):
        try:
            v1.reload_config()
        except Exception:
            pass


@contextlib.contextmanager
def _quiet_stderr():
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


# ============================================================================ logs
