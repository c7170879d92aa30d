"""Handles on HTCondor pools for tests, split as HTCondor's ornithology splits its own
(``Condor`` handle, daemon log readers, ...): one module per part.

``SimPool`` is a pool condor-sim starts (``condor_sim.pool.Pool``) in a directory of its
own; ``ExternalPool`` is the pool ``CONDOR_CONFIG`` already names (a real HTCondor, a
container, or another condor-sim pool).  Both offer the same surface::

    pool.config_file  pool.local_dir  pool.env          paths, and an environment for child processes
    pool.collector()  pool.schedd()                     htcondor2 objects bound to this pool
    pool.locate("SCHEDD")  pool.remote_param("SCHEDD")  a daemon's location ad, its RemoteParam
    pool.log("MASTER").lines / .wait_for(regex)         the daemons' logs
    pool.run_command([...])                             a command with this pool's CONDOR_CONFIG
    pool.use_config()                                   make it the process's client config
    pool.reset()                                        back to how the pool started (fast)
    pool.reconfig({KEY: VALUE})                         config.d drop-in plus a reconfig
    pool.kill("SCHEDD")  pool.pause(..)  pool.resume(..)  pool.restart(mode, daemon)

The handle only starts processes, reads the files a pool leaves (address files, logs,
``config.d``), signals processes by pid and talks to the daemons through the real
client library.  Helpers that need a pool condor-sim started (signals, config files)
skip the calling test, with the reason, on an ``ExternalPool``.

Modules: ``condor_pool`` (the surface), ``sim_pool`` (a pool condor-sim starts) with its
``config_control`` and ``process_control``, ``external_pool``, ``daemon_log``,
``client_config``, ``processes``, ``lifetime`` (the watchdog) and ``fixtures`` (fixture
factories for downstream suites).  Job handles and a job-queue janitor for ``reset()``
come with the job queue.
"""
from .client_config import ClientConfig, reload_client_config
from .common import NotSupportedHere, RestartMode
from .condor_pool import CondorPool
from .daemon_log import DaemonLog
from .external_pool import ExternalPool
from .sim_pool import SimPool

__all__ = ["CondorPool", "SimPool", "ExternalPool", "DaemonLog", "RestartMode", "ClientConfig",
           "NotSupportedHere", "reload_client_config"]
