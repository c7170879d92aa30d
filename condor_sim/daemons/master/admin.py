"""The master's commands: the admin commands of ``send_command`` and ``condor_on/off/
restart`` (v1 and v2 numbers), DaemonCore's off commands (which the master answers its
own way), what its children send it (DC_SET_READY, DC_CHILDALIVE), and the readiness
query of ``condor_who -quick``/``-wait`` (DC_QUERY_READY).

A mixin of :class:`~.daemon.Master`: each handler is marked with the numbers it answers.
"""
from __future__ import annotations

import asyncio
import os
import time

from ... import texts as T
from ...cedar import ProtocolError
from ...cedar.classad_wire import get_ad, put_ad
from ...cedar.commands import Cmd, command_name
from ...command_table import command
from ...connection import ConnectionClosed
from ...security.perms import Perm
from .constants import FAST, GRACEFUL, KILL, MASTER_EXIT, MASTER_RESET, MASTER_RESTART, PEACEFUL

# the state a stopping daemon shows in the ready ad (daemon::Stopping)
_STOPPING = {PEACEFUL: "Shutdown,Peaceful", GRACEFUL: "Shutdown,Graceful", FAST: "Shutdown,Fast",
             KILL: "Shutdown,Hard"}


class MasterAdmin:
    # -- DaemonCore's shutdown commands: the master raises the signal on itself
    @command(Cmd.DC_OFF_GRACEFUL, perm=Perm.ADMINISTRATOR, has_payload=False, replaces=True)
    async def off_graceful(self, req) -> None:
        self.handle_dc_sigterm()

    @command(Cmd.DC_OFF_FAST, perm=Perm.ADMINISTRATOR, has_payload=False, replaces=True)
    async def off_fast(self, req) -> None:
        self.handle_dc_sigquit()

    @command(Cmd.DC_OFF_PEACEFUL, perm=Perm.ADMINISTRATOR, has_payload=False, replaces=True)
    async def off_peaceful(self, req) -> None:
        self.peaceful_shutdown = True
        self.handle_dc_sigterm()

    @command(Cmd.DC_OFF_FORCE, perm=Perm.ADMINISTRATOR, has_payload=False, replaces=True)
    async def off_force(self, req) -> None:
        self.peaceful_shutdown = False
        self.handle_dc_sigterm()

    @command(Cmd.DC_SET_PEACEFUL_SHUTDOWN, perm=Perm.ADMINISTRATOR, has_payload=False, replaces=True)
    async def set_peaceful(self, req) -> None:
        self.peaceful_shutdown = True

    @command(Cmd.DC_SET_FORCE_SHUTDOWN, perm=Perm.ADMINISTRATOR, has_payload=False, replaces=True)
    async def set_force(self, req) -> None:
        self.peaceful_shutdown = False

    # -- admin commands (master.cpp admin_command_handler)
    def _admin_allowed(self, req, announce: bool = True) -> bool:
        if not self.allow_admin_commands:
            self.log.log(T.ADMIN_NOT_ALLOWED.format(name=command_name(req.cmd)), "D_STATUS")
            return False
        if announce:
            self.log.log(T.HANDLING_ADMIN.format(name=command_name(req.cmd)), "D_STATUS")
        return True

    @command(Cmd.RESTART, Cmd.RESTART_PEACEFUL, Cmd.DAEMONS_ON, Cmd.DAEMONS_OFF, Cmd.DAEMONS_OFF_FAST,
             Cmd.DAEMONS_OFF_PEACEFUL, Cmd.MASTER_OFF, Cmd.MASTER_OFF_FAST, perm=Perm.ADMINISTRATOR,
             has_payload=False)
    async def basic_admin(self, req) -> None:
        if self._admin_allowed(req):
            await self.do_basic_admin_command(req.cmd)

    @command(Cmd.DAEMON_ON, Cmd.DAEMON_OFF, Cmd.DAEMON_OFF_FAST, Cmd.DAEMON_OFF_PEACEFUL, Cmd.CHILD_ON,
             Cmd.CHILD_OFF, Cmd.CHILD_OFF_FAST, perm=Perm.ADMINISTRATOR)
    async def subsys_admin(self, req) -> None:
        announce = not (Cmd.DAEMON_OFF <= req.cmd <= Cmd.DAEMON_OFF_PEACEFUL)
        if self._admin_allowed(req, announce):
            await self.handle_subsys_command(req)

    @command(Cmd.SET_SHUTDOWN_PROGRAM, perm=Perm.ADMINISTRATOR)
    async def set_shutdown_program(self, req) -> None:
        if self._admin_allowed(req):
            await self._read_string(req)         # accepted and not run: no shutdown programs here

    @command(Cmd.DAEMONS_OFF_FLEX, perm=Perm.ADMINISTRATOR)
    async def daemons_off_flex(self, req) -> None:
        if self._admin_allowed(req, announce=False):
            await self.handle_flexible_daemons_command(req)

    async def _read_string(self, req) -> str | None:
        try:
            msg = await req.read(timeout=5)
            return msg.get_str()
        except (ConnectionClosed, ProtocolError):
            return None

    async def handle_subsys_command(self, req) -> None:
        subsys = await self._read_string(req)
        if subsys is None:
            self.log.log(T.SUBSYS_UNREADABLE)
            return
        subsys = subsys.upper()
        if subsys == "PREEN":
            return
        d = self.daemons.get(subsys)
        if d is None:
            self.log.log(T.NO_SUCH_DAEMON.format(subsys=subsys))
            return
        self.log.log(T.HANDLING_SUBSYS.format(name=command_name(req.cmd), subsys=subsys), "D_STATUS")
        if req.cmd in (Cmd.DAEMON_ON, Cmd.CHILD_ON):
            d.hold(False)
            d.start()
        elif req.cmd in (Cmd.DAEMON_OFF, Cmd.CHILD_OFF):
            d.hold(True)
            d.stop()
        elif req.cmd in (Cmd.DAEMON_OFF_FAST, Cmd.CHILD_OFF_FAST):
            d.hold(True)
            d.stop_fast()
        elif req.cmd == Cmd.DAEMON_OFF_PEACEFUL:
            d.hold(True)
            d.stop_peaceful()

    async def handle_flexible_daemons_command(self, req) -> None:
        """DAEMONS_OFF_FLEX (condor_off -drain style): the plain part, no draining."""
        try:
            msg = await req.read(timeout=5)
            ad = get_ad(msg)
        except (ConnectionClosed, ProtocolError):
            self.log.log(T.FLEX_UNREADABLE)
            return
        fast = str(ad.get("HowFast", "")).lower() in ("fast", "2", "quick")
        self.daemons_off(fast=fast)

    async def do_basic_admin_command(self, cmd: int) -> None:
        if self.shutting_down and self.all_gone_action == MASTER_EXIT and cmd in (
                Cmd.RESTART, Cmd.RESTART_PEACEFUL, Cmd.DAEMONS_ON):
            # Once the master is on its way out, nothing may turn it back: the real
            # master would here reset its all-gone action and never exit.
            self.log.log(T.IGNORING_IN_SHUTDOWN.format(name=command_name(cmd)))
            return
        if cmd == Cmd.RESTART:
            self.immediate_restart = True
            self.restart_master()
        elif cmd == Cmd.RESTART_PEACEFUL:
            self.immediate_restart = True
            self.restart_master(peaceful=True)
        elif cmd == Cmd.DAEMONS_ON:
            self.daemons_on()
        elif cmd == Cmd.DAEMONS_OFF:
            self.daemons_off()
        elif cmd == Cmd.DAEMONS_OFF_FAST:
            self.daemons_off(fast=True)
        elif cmd == Cmd.DAEMONS_OFF_PEACEFUL:
            self.daemons_off(peaceful=True)
        elif cmd == Cmd.MASTER_OFF:
            if self.peaceful_shutdown:
                timeout = 5
                if await self.set_peaceful_shutdown_children(timeout) > 0:
                    self.loop.call_later(timeout + 1, lambda: self._spawn(self._off_graceful()))
                    return
            await self._off_graceful()
        elif cmd == Cmd.MASTER_OFF_FAST:
            await self._off_fast()

    async def _off_graceful(self) -> None:
        if self.shutting_down:
            return
        self.shutting_down = True
        await self.invalidate_ads()
        self.all_gone_action = MASTER_EXIT
        self.cancel_restart_timers()
        self.stop_all_daemons()

    async def _off_fast(self) -> None:
        first = not self.shutting_down
        self.shutting_down = True
        if first:
            await self.invalidate_ads()
        self.all_gone_action = MASTER_EXIT
        self.cancel_restart_timers()
        self.stop_fast_all_daemons()

    async def set_peaceful_shutdown_children(self, timeout: int) -> int:
        """Tell schedds and startds DC_SET_PEACEFUL_SHUTDOWN (fire and forget)."""
        targets = [d for d in self._running() if d.name.startswith(("SCHEDD", "STARTD"))]
        for d in targets:
            addr = self._child_address(d.name)
            if addr:
                self._spawn(self.client_call(_send_set_peaceful, addr))
        return len(targets)

    def _child_address(self, name: str) -> str | None:
        path = self.config.get(f"{name}_SUPER_ADDRESS_FILE") if os.getuid() == 0 else None
        for p in (path, self.config.get(f"{name}_ADDRESS_FILE")):
            if p:
                try:
                    with open(p) as f:
                        line = f.readline().strip()
                    if line.startswith("<"):
                        return line
                except OSError:
                    pass
        return None

    def restart_master(self, peaceful: bool = False) -> None:
        self.shutting_down = True
        self.all_gone_action = MASTER_RESTART
        self.start_daemons = False
        if peaceful:
            self.stop_peaceful_all_daemons()
        else:
            self.stop_all_daemons()

    def daemons_on(self) -> None:
        self.start_daemons = True
        self.got_daemons_off = False
        self.start_all_daemons()

    def daemons_off(self, fast: bool = False, peaceful: bool = False) -> None:
        self.start_daemons = False
        self.got_daemons_off = True
        if not (self.shutting_down and self.all_gone_action == MASTER_EXIT):
            self.all_gone_action = MASTER_RESET     # a shutdown under way still ends in exit
        if peaceful:
            self.stop_peaceful_all_daemons()
        elif fast:
            self.stop_fast_all_daemons()
        else:
            self.stop_all_daemons()

    @command(Cmd.DC_SET_READY, perm=Perm.DAEMON)
    async def ready_command_handler(self, req) -> None:
        try:
            msg = await req.read(timeout=15)
            ad = get_ad(msg)
        except (ConnectionClosed, ProtocolError):
            self.log.log(T.READY_UNREADABLE.format(num=req.cmd))
            return
        name = str(ad.get("DaemonName", ""))
        pid = ad.get("DaemonPID", 0)
        state = str(ad.get("DaemonState", ""))
        self.log.log(T.READY_RECEIVED.format(num=req.cmd, name=name, pid=pid), "D_FULLDEBUG")
        for d in self.daemons.values():
            if d.pid and d.pid == pid and d.runs_here:
                self.log.log(T.READY_SET.format(state=state, name=d.name))
                d.ready_state = state
                return
        self.log.log(T.READY_UNKNOWN.format(name=name, state=state))

    # -- DC_QUERY_READY (Daemons::QueryReady): the daemons' states, now or once a condition holds
    @command(Cmd.DC_QUERY_READY, perm=Perm.READ)
    async def query_ready(self, req) -> None:
        try:
            msg = await req.read(timeout=15)
            query = get_ad(msg)
        except (ConnectionClosed, ProtocolError):
            self.log.log(T.READY_UNREADABLE.format(num=req.cmd))
            return
        wait = query.get("WaitTimeout", 0)
        wait = wait if isinstance(wait, int) and not isinstance(wait, bool) else 0
        want_addrs = query.get("WantAddrs") is True
        requirements = query.lookup("ReadyRequirements") if "ReadyRequirements" in query else None
        ready_ad, is_ready = self.ready_reply(want_addrs, requirements, with_shutdown=True)
        if wait > 0 and not is_ready:
            expire = time.time() + wait - 1
            while not is_ready and time.time() < expire:
                await asyncio.sleep(1)
                # the deferred reply, as DeferredQueryReadyReply builds it: no addresses
                ready_ad, is_ready = self.ready_reply(False, requirements)
        reply = req.message()
        put_ad(reply, ready_ad)
        await req.send(reply)

    def ready_reply(self, want_addrs: bool, requirements, with_shutdown: bool = False):
        """The ready ad (InitDaemonReadyAd) and whether the query is answered: the
        ``requirements`` when given (an invalid one answers at once with an ``Error``),
        else every daemon not on hold alive."""
        import classad2
        ad = classad2.ClassAd()
        if with_shutdown and self.shutting_down:
            ad["InShutdownMode"] = {MASTER_EXIT: "Exit", MASTER_RESTART: "Restart"}.get(
                self.all_gone_action, "Reset")
        all_alive = self._fill_ready_ad(ad, want_addrs)
        if requirements is None:
            return ad, all_alive
        try:
            value = requirements.eval(ad)
        except Exception:
            ad["Error"] = "invalid ReadyRequirements expression"
            return ad, True
        if isinstance(value, bool):
            return ad, value
        if isinstance(value, (int, float)):
            return ad, bool(value)
        ad["Error"] = "ReadyRequirements does not evaluate to a bool or equivalent"
        return ad, True

    def _fill_ready_ad(self, ad, want_addrs: bool) -> bool:
        counts = dict.fromkeys(("Alive", "Startup", "Hung", "Hold", "Dead"), 0)
        all_alive = True
        for name in sorted(self.daemons):
            d = self.daemons[name]
            master = not d.runs_here
            pid = os.getpid() if master else d.pid
            ad[f"{name}_PID"] = pid
            if want_addrs:
                addr = self.core.sinful if master else (self._child_address(name) if pid else None)
                if addr:
                    ad[f"{name}_Addr"] = addr if master else _bare_sinful(addr)
            if d.ready_state:
                ad[f"{name}_State"] = d.ready_state
            if pid:
                alive = 1 if master else d.alive_messages + (1 if d.ready_state else 0)
                if not alive:
                    all_alive = False
                if d.was_not_responding:
                    state, key = "Hung", "Hung"
                elif alive:
                    state, key = "Alive", "Alive"
                else:
                    state, key = "Startup", "Startup"
                counts[key] += 1
                state = _STOPPING.get(d.stop_state, state)
            elif d.on_hold:
                state = "Hold"
                counts["Hold"] += 1
            else:
                all_alive = False
                if d.waiting_for_startup:
                    state = "WaitForStartupFile" if d.wait_file else "WaitForStartup"
                    counts["Startup"] += 1
                elif not d.start_time:
                    state = "Startup"
                    counts["Startup"] += 1
                else:
                    state = "Dead"
                    counts["Dead"] += 1
            ad[name] = state
        ad["NumDaemons"] = len(self.daemons)
        for key in ("Alive", "Startup", "Hung"):
            ad[f"Num{key}"] = counts[key]
        ad["NumHold"] = counts["Hold"]
        ad["NumDead"] = counts["Dead"]
        ad["IsReady"] = all_alive and not (counts["Hung"] or counts["Dead"])
        return all_alive

    @command(Cmd.DC_CHILDALIVE, perm=Perm.DAEMON)
    async def child_alive(self, req) -> None:
        """HandleChildAliveCommand: [int pid][int timeout][double lock delay]."""
        try:
            r = await req.read(timeout=5)
            pid, secs = r.get_int(), r.get_int()
            delay = r.get_double() if not r.at_end() else 0.0
        except (ConnectionClosed, ProtocolError):
            self.log.log(T.CHILDALIVE_UNREADABLE)
            return
        child = next((d for d in self.daemons.values() if d.pid and d.pid == pid), None)
        if child is None:
            self.log.log(T.CHILDALIVE_UNKNOWN.format(pid=pid))
            return
        child.alive(secs)
        self.log.log(T.CHILDALIVE_RECEIVED.format(pid=pid, secs=secs, delay=delay),
                     "D_DAEMONCORE")


def _bare_sinful(addr: str) -> str:
    """``<ip:port>`` of a sinful string, as DaemonCore records a child's command port."""
    return addr.split("?", 1)[0] + ">" if "?" in addr else addr


def _send_set_peaceful(addr: str) -> None:
    import classad2
    import htcondor2
    ad = classad2.ClassAd({"MyAddress": addr, "MyType": "Scheduler", "Name": "peer"})
    htcondor2.send_command(ad, htcondor2.DaemonCommand.SetPeacefulShutdown)
