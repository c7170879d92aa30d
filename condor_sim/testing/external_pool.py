"""The pool the environment's CONDOR_CONFIG names: a real HTCondor, a container, or a
condor-sim pool started elsewhere."""
from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Mapping

from ..registry import DAEMONS as REGISTRY
from .common import RestartMode, _skip, _subsys
from .condor_pool import CondorPool
from .daemon_log import DaemonLog


# ============================================================================ somebody else's pool
class ExternalPool(CondorPool):
    """The pool the environment's ``CONDOR_CONFIG`` names (e.g. a real HTCondor).

    Everything that talks the wire works; what needs a pool condor-sim started (its
    processes, its config files) skips the test with the reason."""

    backend = "external"

    def __init__(self, config_file: str | os.PathLike | None = None):
        cfg = config_file or os.environ.get("CONDOR_CONFIG") or "/etc/condor/condor_config"
        super().__init__(cfg, None)
        try:
            import htcondor2
            local = htcondor2.param.get("LOCAL_DIR")
            if local:
                self.local_dir = Path(local)
        except Exception:
            pass

    def is_current(self) -> bool:
        return os.environ.get("CONDOR_CONFIG", str(self.config_file)) == str(self.config_file)

    @property
    def env(self) -> dict[str, str]:
        """This process's environment (``_CONDOR_*`` knobs included: a real pool may need them)."""
        env = dict(os.environ)
        env["CONDOR_CONFIG"] = str(self.config_file)
        return env

    def _unsupported(self, what: str) -> None:
        _skip(f"{what} needs a pool started by condor-sim; this run uses --condor-backend=external "
              f"({self.config_file})")

    def collector(self):
        import htcondor2
        return htcondor2.Collector()

    def locate(self, daemon: str):
        import htcondor2
        name = _subsys(daemon)
        s = REGISTRY.get(name)
        if s is None:
            raise ValueError(f"unknown daemon {daemon!r}")
        return self.collector().locate(getattr(htcondor2.DaemonType, s.daemon_type))

    def schedd(self):
        import htcondor2
        return htcondor2.Schedd(self.locate("SCHEDD"))

    def log_path(self, daemon: str) -> Path:
        import htcondor2
        name = _subsys(daemon)
        path = htcondor2.param.get(f"{name}_LOG")
        if not path:
            _skip(f"the external pool's config has no {name}_LOG")
        return Path(path)

    def log(self, daemon: str) -> DaemonLog:
        log = super().log(daemon)
        if not os.access(log.path, os.R_OK):
            _skip(f"{log.path} (the {log.subsystem} log of the external pool) is not readable here")
        return log

    def reset(self, timeout: float = 30.0) -> None:
        """Nothing to restore: the plugin changes nothing in an external pool."""

    def reconfig(self, knobs: Mapping | None = None, timeout: float = 20.0) -> None:
        self._unsupported("changing the configuration (reconfig, @pytest.mark.condor_config)")

    def kill(self, daemon: str, sig: int = signal.SIGKILL) -> int:
        self._unsupported(f"kill({daemon!r})")
        return 0

    def pause(self, daemon: str) -> int:
        self._unsupported(f"pause({daemon!r})")
        return 0

    def resume(self, daemon: str | None = None) -> None:
        self._unsupported("resume()")

    def restart(self, mode: RestartMode | str = RestartMode.GRACEFUL, daemon: str | None = None,
                timeout: float = 30.0) -> None:
        self._unsupported(f"restart({RestartMode(mode).value!r})")
