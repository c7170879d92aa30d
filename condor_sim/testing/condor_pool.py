"""The pool handle's surface, shared by a pool condor-sim starts and an external one."""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from pathlib import Path
from typing import Iterator, Mapping

from .client_config import ClientConfig
from .common import RestartMode, _subsys
from .daemon_log import DaemonLog


class CondorPool:
    """What a test sees of a pool, whichever backend runs it (see the module docstring)."""

    backend = "?"

    def __init__(self, config_file: str | os.PathLike, local_dir: str | os.PathLike | None = None):
        self.config_file = Path(config_file)
        self.local_dir = Path(local_dir) if local_dir is not None else self.config_file.parent

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.config_file)!r})"

    # ------------------------------------------------------------------ environment
    @property
    def env(self) -> dict[str, str]:
        """An environment for a child process that should use this pool."""
        env = {k: v for k, v in os.environ.items() if not ClientConfig._strip(k)}
        env["CONDOR_CONFIG"] = str(self.config_file)
        return env

    def is_current(self) -> bool:
        """Does this process's client library use this pool's config right now?"""
        return ClientConfig.current() is self

    @contextlib.contextmanager
    def use_config(self) -> Iterator["CondorPool"]:
        """``CONDOR_CONFIG`` names this pool (and the client library re-read it) inside the block."""
        self.activate()
        try:
            yield self
        finally:
            self.deactivate()

    def activate(self) -> None:
        ClientConfig.push(self)

    def deactivate(self) -> None:
        ClientConfig.pop(self)

    def run_command(self, args, **kwargs) -> subprocess.CompletedProcess:
        """``subprocess.run`` with this pool's environment (text output captured by default)."""
        kwargs.setdefault("env", self.env)
        kwargs.setdefault("capture_output", True)
        kwargs.setdefault("text", True)
        return subprocess.run(args, **kwargs)

    # ------------------------------------------------------------------ client objects
    def collector(self):
        raise NotImplementedError

    def schedd(self):
        raise NotImplementedError

    def locate(self, daemon: str):
        raise NotImplementedError

    def address(self, daemon: str) -> str | None:
        """The daemon's address (sinful string)."""
        return self.locate(daemon).get("MyAddress")

    def remote_param(self, daemon: str = "MASTER"):
        """``htcondor2.RemoteParam`` of one of the pool's daemons."""
        import htcondor2
        return htcondor2.RemoteParam(self.locate(daemon))

    # ------------------------------------------------------------------ logs
    def log_path(self, daemon: str) -> Path:
        raise NotImplementedError

    def log(self, daemon: str) -> DaemonLog:
        """The log of ``daemon`` ("MASTER", "COLLECTOR", "SCHEDD", ...)."""
        name = _subsys(daemon)
        return DaemonLog(self.log_path(name), name)

    @property
    def master_log(self) -> DaemonLog:
        return self.log("MASTER")

    @property
    def collector_log(self) -> DaemonLog:
        return self.log("COLLECTOR")

    @property
    def schedd_log(self) -> DaemonLog:
        return self.log("SCHEDD")

    # ------------------------------------------------------------------ state and faults
    def reset(self) -> None:
        raise NotImplementedError

    def reconfig(self, knobs: Mapping | None = None, timeout: float = 20.0) -> None:
        raise NotImplementedError

    def kill(self, daemon: str, sig: int = signal.SIGKILL) -> int:
        raise NotImplementedError

    def pause(self, daemon: str) -> int:
        raise NotImplementedError

    def resume(self, daemon: str | None = None) -> None:
        raise NotImplementedError

    def restart(self, mode: RestartMode | str = RestartMode.GRACEFUL, daemon: str | None = None,
                timeout: float = 30.0) -> None:
        raise NotImplementedError
