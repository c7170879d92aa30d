"""The pool handles, by their first name: they live in :mod:`condor_sim.testing` now."""
from .testing import (ClientConfig, CondorPool, DaemonLog, ExternalPool, NotSupportedHere,  # noqa: F401
                      RestartMode, SimPool, reload_client_config)

__all__ = ["CondorPool", "SimPool", "ExternalPool", "DaemonLog", "RestartMode", "ClientConfig",
           "NotSupportedHere", "reload_client_config"]
