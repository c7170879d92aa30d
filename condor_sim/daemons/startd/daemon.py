"""condor_startd: the machine's slots, their claims, and one starter per running job.

The slots and their ads are sans-IO (:mod:`.slots`); the job itself is run by a starter
(:mod:`condor_sim.execute.starter`) in a child process forked from this daemon, so that
it shares our imported code and a job's whole process tree hangs under a real
``condor_starter`` process.  This module is the I/O between them:

- REQUEST_CLAIM (442): a schedd claims a share of the partitionable slot with the claim
  id the negotiator handed it; we carve a dynamic slot and answer with its own claim id
  and ad.
- ACTIVATE_CLAIM (444): the shadow hands us the job; we fork the starter and relay what
  it reports (one ClassAd per report) on the same connection until the job is done.
- DEACTIVATE_CLAIM (403) / DEACTIVATE_CLAIM_FORCIBLY (404): stop the job (graceful:
  SIGTERM to the starter; fast: SIGQUIT).  RELEASE_CLAIM (443): the dynamic slot goes.
- SUSPEND_CLAIM (402) / CONTINUE_CLAIM (401): the shadow suspends or continues the job;
  the slot goes Claimed/Suspended (or back to Busy) and the starter is told with SIGUSR1
  (SIGUSR2); it stops (continues) the job's processes and reports it to the shadow.
"""
from __future__ import annotations

import asyncio
import gc
import json
import os
import re
import signal
import time

from ... import procs, texts as T
from ...cedar.classad_wire import get_ad, put_ad
from ...cedar.commands import Cmd
from ...command_table import command
from ...connection import ConnectionClosed
from ...execute.starter import run_starter      # imported before the forks share it
from ...security import client as security_client
from ...security.perms import Perm
from ..base import Daemon
from . import slots as S

OK, NOT_OK = 1, 0
ACTIVATE_TIMEOUT = 20.0
STATE_CHANGE_COMMAND = "{slot}: State change: received {command} command"


class Activation:
    """One running starter: its pid, the job's pid once it runs, and its reports."""

    def __init__(self, slot: str, job_id: str, pid: int, fd: int):
        self.slot = slot
        self.job_id = job_id
        self.pid = pid
        self.fd = fd
        self.job_pid: int | None = None
        self.reports: asyncio.Queue = asyncio.Queue()
        self.job_done = False          # the job has exited: its output is being sent
        self.final = False
        self.exit_status: int | None = None


class Startd(Daemon):
    SUBSYS = "STARTD"
    MY_TYPE = "Machine"
    UPDATE_COMMAND = "UPDATE_STARTD_AD"
    INVALIDATE_COMMAND = "INVALIDATE_STARTD_ADS"
    ADDRESS_KNOBS = ("STARTD_ADDRESS_FILE",)

    def __init__(self, config, log, **kw):
        super().__init__(config, log, **kw)
        self.machine: S.Machine | None = None
        self.activations: dict[str, Activation] = {}      # by dynamic slot name
        self._told_ready = False
        self._update_soon: asyncio.TimerHandle | None = None

    # ------------------------------------------------------------------ slots and ads
    def build_machine(self) -> S.Machine:
        if self.machine is None:
            self.machine = S.Machine(self.config, self.fqdn, S.machine_resources(self.config),
                                     now=int(time.time()), sinful=self.core.sinful)
        return self.machine

    def name(self) -> str:
        return self.fqdn

    async def advertise(self) -> None:
        """The StartD daemon ad, then one UPDATE_STARTD_AD per slot carrying its public
        and private ads in one message, as the real startd sends them; one update at a
        time, so the slots' sequence numbers arrive in order."""
        async with self.update_lock:
            await self._advertise()

    async def _advertise(self) -> None:
        m = self.build_machine()
        self._seq = getattr(self, "_seq", 0) + 1
        now = int(time.time())
        base = self.ad()
        sinful = self.collector_address()
        ok = True
        try:
            batches = [[m.startd_ad(now, dict(base))]]
            batches += [[public, private] for public, private in
                        zip(m.public_ads(now, dict(base)), m.private_ads(now))]
            await self._send(sinful, batches)
        except Exception as e:
            ok = False
            self.log.log(f"Failed to send UPDATE_STARTD_AD to collector: {e}", "D_FULLDEBUG")
        if ok and not self._told_ready:
            self._told_ready = True
            self.log.log(T.STARTD_INITIAL_UPDATE)
            await self.tell_master_ready()

    async def _send(self, sinful: str | None, batches: list[list]) -> None:
        """All our ads in one connection: the collector serves further
        ``[UPDATE_STARTD_AD][ad][private ad]`` messages on the socket of the first."""
        if not sinful:
            raise OSError("no collector address")
        conn = await asyncio.wait_for(
            security_client.open_command(sinful, Cmd.UPDATE_STARTD_AD, subsystem=self.SUBSYS), 10)
        try:
            for i, ads in enumerate(batches):
                w = conn.message()
                if i:
                    w.put_int(Cmd.UPDATE_STARTD_AD)
                for ad in ads:
                    # the claim ids go as the real startd's put_secret sends them: under
                    # the session's key, or in clear when the pool turned encryption off
                    put_ad(w, ad, include_private=True)
                await conn.send(w.getvalue())
        finally:
            conn.close()

    def changed(self) -> None:
        """A slot changed state: tell the collector now (the negotiator reads it there)."""
        if self._update_soon is not None:
            return
        loop = asyncio.get_running_loop()

        def fire() -> None:
            self._update_soon = None
            self.core.spawn(self.advertise())
        self._update_soon = loop.call_soon(fire)

    async def tell_master_ready(self) -> None:
        """DC_SET_READY: ``condor_who -wait`` and PersonalPool wait for STARTD_State."""
        fields = os.environ.get("CONDOR_INHERIT", "").split()
        if len(fields) < 2 or not fields[1].startswith("<"):
            return
        ad = {"DaemonName": self.local_name or self.SUBSYS, "DaemonPID": self.core.pid,
              "DaemonState": "Ready"}
        self.log.log(T.STARTD_READY.format(sinful=fields[1]))
        try:
            await security_client.send_command(fields[1], Cmd.DC_SET_READY,
                                               [lambda w: put_ad(w, ad)],
                                               subsystem=self.SUBSYS)
        except Exception as e:
            self.log.log(f"Failed to send DC_SET_READY to the master: {e}")

    async def invalidate(self) -> None:
        m = self.machine
        if m is None:
            return
        for ad_type, cmd in (("Machine", "INVALIDATE_STARTD_ADS"), ("StartD", "INVALIDATE_STARTD_ADS")):
            ad = {"MyType": "Query", "TargetType": ad_type,
                  "Requirements": _expr(f'( TARGET.Machine == "{self.fqdn}" )'),
                  "MyAddress": self.core.sinful}
            try:
                await asyncio.wait_for(self.to_collector(cmd, ad), 5)
            except Exception as e:
                self.log.log(f"Failed to invalidate our ads at the collector: {e}", "D_FULLDEBUG")

    def shutting_down(self) -> bool:
        """From the shutdown request on (on_shutdown runs after it), no claim is activated,
        so no job starts behind on_shutdown's last look at the starters."""
        stopping = self.core.stopping
        return stopping is not None and stopping.is_set()

    async def on_shutdown(self, fast: bool) -> None:
        """Stop every job (SIGQUIT to its starter) and wait for the starters."""
        for act in list(self.activations.values()):
            self.signal_starter(act, signal.SIGQUIT)
        for act in list(self.activations.values()):
            await self.wait_starter(act, 10)
        await super().on_shutdown(fast)

    @command(Cmd.QUERY_STARTD_ADS, perm=Perm.READ)
    async def query_ads(self, req) -> None:
        """Our slot ads that match the query's Requirements, in the collector's reply
        format (condor_who asks the startd itself)."""
        import classad2
        query = get_ad(await req.read())
        constraint = query.lookup("Requirements") if "Requirements" in query else None
        m = self.build_machine()
        msg = req.message()
        for ad in m.current_ads(int(time.time()), dict(self.ad())):
            if constraint is not None:
                try:
                    target = classad2.ClassAd(ad)
                    if constraint.eval(target) is not True:
                        continue
                except Exception:
                    continue
            msg.put_int(1)
            put_ad(msg, ad)
        msg.put_int(0)
        await req.send(msg)

    # ------------------------------------------------------------------ claims
    @command(Cmd.REQUEST_CLAIM, perm=Perm.DAEMON)
    async def request_claim(self, req) -> None:
        msg = await req.read(ACTIVATE_TIMEOUT)
        claim_id = msg.get_str()
        job = get_ad(msg)
        schedd = msg.get_str()
        m = self.build_machine()
        reply = req.message()
        pslot = m.pslot.name.split("@")[0]
        if claim_id != m.pslot.claim_id:
            self.log.log(T.STARTD_CLAIM_REFUSED.format(slot=pslot, reason="unknown claim id"))
            reply.put_int(NOT_OK).put_string("unknown claim id")
            await req.send(reply)
            return
        request = {k: _int(_eval(job, f"Request{k}"), d) for k, d in (("Cpus", 1), ("Memory", 0), ("Disk", 0))}
        user = str(_eval(job, "User") or _eval(job, "Owner") or "")
        job_id = f"{_eval(job, 'ClusterId')}.{_eval(job, 'ProcId')}"
        now = int(time.time())
        host = re.match(r"<([^:>?]+)", schedd)
        slot = m.carve(request, now=now, claim_id=m.new_claim_id(), remote_user=user,
                       client_machine=host.group(1) if host else schedd, job_id=job_id)
        if slot is None:
            self.log.log(T.STARTD_CLAIM_REFUSED.format(slot=pslot, reason="not enough resources"))
            reply.put_int(NOT_OK).put_string("Insufficient resources for the request")
            await req.send(reply)
            return
        short = slot.name.split("@")[0]
        self.log.log(T.STARTD_NEW_DSLOT.format(slot=short))
        self.log.log(T.STARTD_DSLOT_RESOURCES.format(slot=short, cpus=float(slot.cpus), memory=slot.memory,
                                                     swap=0, disk=slot.disk, gpus=0))
        self.log.log(T.STARTD_REQUEST_ACCEPTED.format(slot=pslot))
        self.log.log(T.STARTD_REMOTE_OWNER.format(slot=short, owner=user))
        self.log.log(T.STARTD_CHANGING_STATE.format(slot=short, old="Owner", new="Claimed"))
        self.log.log(T.STARTD_CLAIMED.format(slot=short))
        reply.put_int(OK).put_string(slot.claim_id)
        put_ad(reply, m.slot_ad(slot.name, now, self.ad()))
        await req.send(reply)
        self.changed()

    def slot_by_claim(self, claim_id: str):
        m = self.build_machine()
        for s in m.dslots.values():
            if s.claim_id == claim_id:
                return s
        return None

    @command(Cmd.RELEASE_CLAIM, perm=Perm.DAEMON)
    async def release_claim(self, req) -> None:
        claim_id = (await req.read(ACTIVATE_TIMEOUT)).get_str()
        slot = self.slot_by_claim(claim_id)
        if slot is None:
            return
        act = self.activations.get(slot.name)
        if act is not None:
            self.signal_starter(act, signal.SIGQUIT)
            await self.wait_starter(act, 15)
        short = slot.name.split("@")[0]
        self.log.log(T.STARTD_RELEASE_CLAIM.format(slot=short))
        self.log.log(T.STARTD_CHANGING_STATE_ACTIVITY.format(slot=short, old_state="Claimed", old_activity="Idle",
                                                             new_state="Preempting", new_activity="Killing"))
        self.log.log(T.STARTD_NO_PREEMPTING_CLAIM.format(slot=short))
        self.machine.release(slot.name, now=int(time.time()))
        self.log.log(T.STARTD_DSLOT_DELETED.format(slot=short, name=short))
        self.core.spawn(self.invalidate_slot(slot.name))
        self.changed()

    async def invalidate_slot(self, name: str) -> None:
        """A deleted dynamic slot's ad leaves the collector at once, as the real startd
        sends it, rather than when it expires."""
        ad = {"MyType": "Query", "TargetType": "Machine", "Name": name, "MyAddress": self.core.sinful,
              "Requirements": _expr(f'TARGET.Name == "{name}"')}
        try:
            await asyncio.wait_for(self.to_collector("INVALIDATE_STARTD_ADS", ad), 5)
        except Exception as e:
            self.log.log(f"Failed to invalidate the ad of {name}: {e}", "D_FULLDEBUG")

    @command(Cmd.DEACTIVATE_CLAIM, Cmd.DEACTIVATE_CLAIM_FORCIBLY, perm=Perm.DAEMON)
    async def deactivate_claim(self, req) -> None:
        claim_id = (await req.read(ACTIVATE_TIMEOUT)).get_str()
        slot = self.slot_by_claim(claim_id)
        act = self.activations.get(slot.name) if slot is not None else None
        reply = req.message()
        reply.put_int(OK if act is not None else NOT_OK)
        await req.send(reply)
        if act is not None:
            fast = req.cmd == Cmd.DEACTIVATE_CLAIM_FORCIBLY
            self.signal_starter(act, signal.SIGQUIT if fast else signal.SIGTERM)

    @command(Cmd.SUSPEND_CLAIM, Cmd.CONTINUE_CLAIM, perm=Perm.DAEMON)
    async def suspend_claim(self, req) -> None:
        """Suspend or continue the job running on a claim; refused (NOT_OK) for an unknown
        claim, one whose job is not executing yet or has exited (its output on its way),
        or one already in the asked state."""
        claim_id = (await req.read(ACTIVATE_TIMEOUT)).get_str()
        suspend = req.cmd == Cmd.SUSPEND_CLAIM
        slot = self.slot_by_claim(claim_id)
        act = self.activations.get(slot.name) if slot is not None else None
        ok = (act is not None and act.job_pid is not None and not act.final and not act.job_done
              and (slot.activity == S.BUSY if suspend else slot.activity == S.SUSPENDED))
        reply = req.message()
        reply.put_int(OK if ok else NOT_OK)
        if not ok:
            self.log.log(f"Got {'SUSPEND_CLAIM' if suspend else 'CONTINUE_CLAIM'} for a claim with "
                         f"no job to {'suspend' if suspend else 'continue'}", "D_FULLDEBUG")
            await req.send(reply)
            return
        short = slot.name.split("@")[0]
        self.log.log(STATE_CHANGE_COMMAND.format(
            slot=short, command="SUSPEND_CLAIM" if suspend else "CONTINUE_CLAIM"))
        old, new = (S.BUSY, S.SUSPENDED) if suspend else (S.SUSPENDED, S.BUSY)
        self.machine.set_state(slot.name, S.CLAIMED, new, now=int(time.time()))
        self.log.log(T.STARTD_CHANGING_ACTIVITY.format(slot=short, old=old, new=new))
        self.signal_starter(act, signal.SIGUSR1 if suspend else signal.SIGUSR2)
        await req.send(reply)
        self.changed()

    # ------------------------------------------------------------------ the starter
    @command(Cmd.ACTIVATE_CLAIM, perm=Perm.DAEMON)
    async def activate_claim(self, req) -> None:
        msg = await req.read(ACTIVATE_TIMEOUT)
        claim_id = msg.get_str()
        job = get_ad(msg)
        slot = self.slot_by_claim(claim_id)
        reply = req.message()
        refusal = ("the startd is shutting down" if self.shutting_down() else
                   "no such claim" if slot is None else
                   "claim already active" if slot.name in self.activations else None)
        if refusal:
            reply.put_int(NOT_OK).put_string(refusal)
            await req.send(reply)
            return
        job_id = f"{_eval(job, 'ClusterId')}.{_eval(job, 'ProcId')}"
        short = slot.name.split("@")[0]
        self.log.log(T.STARTD_ACTIVATE_REQUEST.format(slot=short, ip=req.chan.peer_ip))
        self.log.log(T.STARTD_REMOTE_JOB.format(slot=short, job=job_id))
        act = self.fork_starter(slot, job, job_id)
        self.activations[slot.name] = act
        self.machine.activate(slot.name, now=int(time.time()), job_id=job_id, starter_pid=act.pid)
        self.log.log(T.STARTD_UNIVERSE.format(slot=short, universe="VANILLA", number=5))
        self.log.log(T.STARTD_ACTIVATED.format(slot=short, pid=act.pid))
        self.log.log(T.STARTD_CHANGING_ACTIVITY.format(slot=short, old="Idle", new="Busy"))
        reply.put_int(OK)
        await req.send(reply)
        self.changed()
        lost = False
        try:
            while True:
                report = await act.reports.get()
                if report is None:
                    break
                if not lost:
                    w = req.message()
                    put_ad(w, report)
                    try:
                        await req.send(w)
                    except (ConnectionClosed, OSError):
                        lost = True       # the shadow went away: stop the job
                        self.signal_starter(act, signal.SIGQUIT)
        finally:
            self.activations.pop(slot.name, None)
            if slot.name in self.machine.dslots:
                old = slot.activity
                self.machine.deactivate(slot.name, now=int(time.time()))
                self.log.log(T.STARTD_CHANGING_ACTIVITY.format(slot=short, old=old, new="Idle"))
            self.changed()

    def fork_starter(self, slot, job, job_id: str) -> Activation:
        execute = self.config.get("EXECUTE") or os.path.join(self.config.get("LOCAL_DIR") or ".", "execute")
        starter_log = os.path.join(self.config.get("LOG") or ".", f"StarterLog.{slot.name.split('@')[0]}")
        kill_timeout = float(self.config.get_int("KILLING_TIMEOUT", 30)) - 1
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:                              # the starter
            code = 1
            try:
                os.close(r)
                gc.disable()
                _child_signals()
                procs.set_process_name("condor_starter")
                procs.set_title([os.path.join(os.path.dirname(self.exe_path()), "condor_starter"), "-f",
                                 "-a", slot.name.split("@")[0], "127.0.0.1"])
                log = _StarterLog(self.config, starter_log, slot.name)
                code = run_starter(job, execute_dir=execute, slot_name=slot.name, report_fd=w,
                                   log=log.log, kill_timeout=max(1.0, kill_timeout))
            except BaseException as e:            # noqa: BLE001 - never return into the startd
                try:
                    os.write(w, (json.dumps({"event": "starter_error", "reason": str(e)}) + "\n").encode())
                except OSError:
                    pass
            os._exit(code)
        os.close(w)
        act = Activation(slot.name, job_id, pid, r)
        self.core.spawn(self.read_reports(act))
        return act

    async def read_reports(self, act: Activation) -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=1 << 20)
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(act.fd, "rb", 0))
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                try:
                    report = json.loads(line)
                except ValueError:
                    continue
                if not isinstance(report, dict):
                    continue
                if report.get("event") in ("job_pid", "execute"):
                    act.job_pid = report.get("pid")
                if report.get("event") == "job_pid":     # the job's own word: for us only
                    continue
                if report.get("event") == "transfer_out_started":
                    act.job_done = True
                if report.get("event") in ("exited", "hold", "evicted", "starter_error", "starter_failed"):
                    act.final = True
                await act.reports.put(_report_ad(report))
        finally:
            transport.close()
        status = await self.wait_starter(act, 30)
        if not act.final:
            # the starter died without its last word: leave nothing of the job behind
            if status is not None and os.WIFSIGNALED(status):
                sig = os.WTERMSIG(status)
                self.log.log(T.STARTD_STARTER_KILLED.format(pid=act.pid, signal=sig, name=_signal_name(sig)))
            if act.job_pid:
                procs.kill_tree(act.job_pid)
                procs.kill_group(act.job_pid)
            await act.reports.put({"event": "starter_lost", "reason": _status_text(status)})
        else:
            code = os.WEXITSTATUS(status) if status is not None and os.WIFEXITED(status) else -1
            self.log.log(T.STARTD_STARTER_EXITED.format(pid=act.pid, status=code))
        await act.reports.put(None)

    def signal_starter(self, act: Activation, sig: int) -> None:
        try:
            os.kill(act.pid, sig)
        except OSError:
            pass

    async def wait_starter(self, act: Activation, timeout: float) -> int | None:
        if act.exit_status is not None:
            return act.exit_status
        deadline = time.monotonic() + timeout
        while True:
            try:
                pid, status = os.waitpid(act.pid, os.WNOHANG)
            except ChildProcessError:
                return act.exit_status
            if pid:
                act.exit_status = status
                return status
            if time.monotonic() > deadline:
                return None
            await asyncio.sleep(0.02)


class _StarterLog:
    """The starter's own log, StarterLog.slot1_N, in the dprintf format."""

    def __init__(self, config, path: str, slot: str):
        from ...dlog import DaemonLog
        self.d = DaemonLog(config, "STARTER", "condor_starter")
        self.d.path = path
        self.d.fd = None
        self.d.banner()

    def log(self, msg: str) -> None:
        self.d.log(msg)


def _child_signals() -> None:
    try:
        signal.set_wakeup_fd(-1)
    except (ValueError, OSError):
        pass
    for s in (signal.SIGTERM, signal.SIGQUIT, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD,
              signal.SIGUSR1, signal.SIGUSR2):
        try:
            signal.signal(s, signal.SIG_DFL)
        except (ValueError, OSError):
            pass
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


def _report_ad(report: dict) -> dict:
    """A starter report as the ClassAd relayed to the shadow: its keys (``event``,
    ``exit_code``, ...) as the attribute names, its scalar values as they are."""
    return {k: v for k, v in report.items()
            if isinstance(k, str) and _IDENTIFIER.fullmatch(k) and isinstance(v, (str, int, float, bool))}


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _status_text(status: int | None) -> str:
    if status is None:
        return "still running"
    if os.WIFSIGNALED(status):
        return f"died on signal {os.WTERMSIG(status)}"
    return f"exited with status {os.WEXITSTATUS(status)}"


def _eval(ad, name: str):
    """An attribute's value, evaluated in the ad (None when missing or undefined)."""
    try:
        v = ad.eval(name)
    except Exception:
        return None
    return v if isinstance(v, (str, int, float, bool)) else None


def _signal_name(sig: int) -> str:
    try:
        return f"signal {sig} ({signal.strsignal(sig)})"
    except (ValueError, AttributeError):
        return f"signal {sig}"


def _int(value, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _expr(text: str):
    import classad2
    return classad2.ExprTree(text)


def main() -> None:
    Startd.from_process().start()
