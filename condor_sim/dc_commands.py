"""The commands every DaemonCore daemon answers (``daemon_core.cpp``, ``daemon_core_main.cpp``):
the DC_NOP family that ping uses, reconfig and the off commands.  The config commands
(CONFIG_VAL, DC_CONFIG_*) are in :mod:`condor_sim.remote_config`."""
from __future__ import annotations

import signal

from .cedar.commands import Cmd
from .command_table import command
from .security.perms import Perm


class DaemonCoreCommands:
    def __init__(self, core):
        self.core = core

    @command(Cmd.DC_NOP, perm=Perm.ALLOW, has_payload=False, no_effect=True)
    @command(Cmd.DC_NOP_READ, perm=Perm.READ, has_payload=False, no_effect=True)
    @command(Cmd.DC_NOP_WRITE, perm=Perm.WRITE, has_payload=False, no_effect=True)
    @command(Cmd.DC_NOP_NEGOTIATOR, perm=Perm.NEGOTIATOR, has_payload=False, no_effect=True)
    @command(Cmd.DC_NOP_ADMINISTRATOR, Cmd.DC_NOP_OWNER, perm=Perm.ADMINISTRATOR,
             has_payload=False, no_effect=True)
    @command(Cmd.DC_NOP_CONFIG, perm=Perm.CONFIG, has_payload=False, no_effect=True)
    @command(Cmd.DC_NOP_DAEMON, perm=Perm.DAEMON, has_payload=False, no_effect=True)
    @command(Cmd.DC_NOP_ADVERTISE_STARTD, perm=Perm.ADVERTISE_STARTD, has_payload=False, no_effect=True)
    @command(Cmd.DC_NOP_ADVERTISE_SCHEDD, perm=Perm.ADVERTISE_SCHEDD, has_payload=False, no_effect=True)
    @command(Cmd.DC_NOP_ADVERTISE_MASTER, perm=Perm.ADVERTISE_MASTER, has_payload=False, no_effect=True)
    async def nop(self, req) -> None:
        """Ping: authorization is the whole answer."""

    @command(Cmd.DC_RECONFIG, Cmd.DC_RECONFIG_FULL, perm=Perm.ADMINISTRATOR, has_payload=False)
    async def reconfig(self, req) -> None:
        self.core.request_reconfig()

    # The real handlers signal the daemon itself, so the shutdown logs as for a signal.
    @command(Cmd.DC_OFF_GRACEFUL, Cmd.DC_OFF_PEACEFUL, Cmd.DC_OFF_FORCE, perm=Perm.ADMINISTRATOR,
             has_payload=False)
    async def off_graceful(self, req) -> None:
        self.core.signal(signal.SIGTERM)

    @command(Cmd.DC_OFF_FAST, perm=Perm.ADMINISTRATOR, has_payload=False)
    async def off_fast(self, req) -> None:
        self.core.signal(signal.SIGQUIT)

    @command(Cmd.DC_SET_PEACEFUL_SHUTDOWN, Cmd.DC_SET_FORCE_SHUTDOWN, perm=Perm.ADMINISTRATOR,
             has_payload=False)
    async def set_shutdown_mode(self, req) -> None:
        """Only the master keeps a shutdown mode; other daemons accept and ignore it."""
