"""What every simulated daemon process does: config, log banner, DaemonCore, ads.

A daemon module defines a subclass of :class:`Daemon` and calls :func:`main`.  The
process reads ``CONDOR_CONFIG`` like a real daemon, writes its ``<SUBSYS>_LOG`` with the
startup banner, listens on 127.0.0.1, writes its address files and advertises its ad to
the collector every ``UPDATE_INTERVAL`` (using the real ``htcondor2`` client library for
the outgoing update, exactly as a tool would).
"""
from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
import time

from .. import CONDOR_PLATFORM, CONDOR_VERSION, keepalive
from ..cedar import ProtocolError
from ..cedar.classad_wire import put_ad
from ..cedar.commands import Cmd
from ..config import DaemonConfig
from ..security import client as security_client
from ..daemoncore import CoreHooks, DaemonCore, run
from ..dlog import DaemonLog


HOLD_FD_ENV = "CONDOR_SIM_HOLD_FD"


def wait_for_start_signal() -> None:
    """Pre-started by the master: wait here, imports done, until it really starts us.

    To keep pool start-up short the master launches its daemons' processes early
    (``condor_sim/daemons/master.py``, "pre-start") and lets each one go, with the
    environment entries that only exist by then (``CONDOR_INHERIT``), at the moment it
    logs ``Started DaemonCore process``.  EOF means the master changed its mind or died.
    """
    v = os.environ.pop(HOLD_FD_ENV, None)
    if not v:
        return
    import json
    from .. import daemoncore  # noqa: F401  (the heavy imports, done while we wait)
    fd = int(v)
    data = b""
    while not data.endswith(b"\n"):
        try:
            chunk = os.read(fd, 65536)
        except InterruptedError:
            continue
        if not chunk:
            os._exit(0)
        data += chunk
    os.close(fd)
    tz = os.environ.get("TZ")
    for k, val in json.loads(data).get("env", {}).items():
        if val is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = val
    if os.environ.get("TZ") != tz:
        time.tzset()


def valid_daemon_name(name: str | None, fqdn: str, hostname: str = "") -> str:
    """``build_valid_daemon_name``: no name is the host's full name; a name with an ``@``
    is kept; the host's own name is the full host name; any other name gets ``@<fqdn>``
    (``SCHEDD_NAME = mine`` names the schedd ``mine@host.example.org``)."""
    if not name:
        return fqdn
    if "@" in name:
        return name
    if name.lower() in (fqdn.lower(), (hostname or fqdn.split(".")[0]).lower()):
        return fqdn
    return f"{name}@{fqdn}"


def _local_name(argv: list[str]) -> str | None:
    """``-local-name L`` (the master passes it to daemons listed under their own name)."""
    for i, a in enumerate(argv[1:], 1):
        if a == "-local-name" and i + 1 < len(argv):
            return argv[i + 1]
    return None


class Daemon(CoreHooks):
    SUBSYS = ""            # e.g. "SCHEDD"
    MY_TYPE = ""           # e.g. "Scheduler"
    UPDATE_COMMAND = ""    # e.g. "UPDATE_SCHEDD_AD"
    INVALIDATE_COMMAND = ""
    INTERVAL_KNOB = "UPDATE_INTERVAL"
    INTERVAL_DEFAULT = 300
    ADDRESS_KNOBS: tuple = ()   # e.g. ("SCHEDD_ADDRESS_FILE", "SCHEDD_SUPER_ADDRESS_FILE")

    def __init__(self, config, log, *, argv: list[str] | None = None):
        """A daemon from its config and log, with no process side effects: a test builds
        one from a :class:`~condor_sim.config.ConfigSnapshot`; a process uses
        :meth:`from_process`."""
        self.exe_name = f"condor_{self.SUBSYS.lower()}"
        self.argv = list(argv) if argv is not None else [self.exe_name]
        self.config = config
        self.log = log
        self.local_name = getattr(config, "local_name", None)
        self.core = DaemonCore(self.SUBSYS, self.config, self.log, self.exe_name, hooks=self)
        self.core.commands.add_handlers(self)
        # the name a real daemon (and the client, for a local locate) uses: get_local_fqdn()
        self.fqdn = self.config.get("FULL_HOSTNAME") or socket.getfqdn()
        self._client_lock = asyncio.Lock()
        # held while an update is numbered and sent: updates reach the collector in the
        # order of their sequence numbers (a quick one overtaking a slow one counts as lost)
        self.update_lock = asyncio.Lock()

    @classmethod
    def process_config_and_log(cls, argv: list[str]) -> tuple:
        """What a daemon process reads before it is a daemon: ``CONDOR_CONFIG`` under its
        subsystem (and ``-local-name``), then its log, opened with the banner."""
        config = DaemonConfig(cls.SUBSYS, _local_name(argv))
        log = DaemonLog(config, cls.SUBSYS, f"condor_{cls.SUBSYS.lower()}", cls.exe_path())
        log.banner(config.local_sources())
        return config, log

    @classmethod
    def from_process(cls, argv: list[str] | None = None, **kw) -> "Daemon":
        """The daemon of this process: wait for the master's go when pre-started, then
        read the config and open the log."""
        wait_for_start_signal()
        argv = list(sys.argv if argv is None else argv)
        config, log = cls.process_config_and_log(argv)
        return cls(config, log, argv=argv, **kw)

    @staticmethod
    def exe_path() -> str:
        return os.path.abspath(sys.argv[0]) if sys.argv and sys.argv[0] else ""

    # ------------------------------------------------------------------ identity / ad
    def name(self) -> str:
        """``<SUBSYS>_NAME`` made a daemon name as the real daemons make it."""
        return valid_daemon_name(self.config.get(f"{self.SUBSYS}_NAME"), self.fqdn)

    def ad(self) -> dict:
        """The daemon ad as DaemonCore::publish + config_fill_ad build it."""
        now = int(time.time())
        ad = {
            "MyType": self.MY_TYPE,
            "Name": self.name(),
            "Machine": self.fqdn,
            "MyAddress": self.core.sinful,
            "AddressV1": self.address_v1(),
            "CondorVersion": CONDOR_VERSION,
            "CondorPlatform": CONDOR_PLATFORM,
            "MyCurrentTime": now,
            "DaemonStartTime": self.core.start_time,
            "DaemonLastReconfigTime": getattr(self, "last_reconfig", self.core.start_time),
            "MonitorSelfTime": now,
            "MyPid": self.core.pid,
            "UpdateSequenceNumber": getattr(self, "_seq", 0),
        }
        ad[f"{self.SUBSYS.capitalize() if self.SUBSYS != 'SCHEDD' else 'Schedd'}IpAddr"] = self.core.sinful
        ad.update(self.monitor_attrs(now))
        for extra in self.config.get_list(f"{self.SUBSYS}_ATTRS") + self.config.get_list(f"{self.SUBSYS}_EXPRS"):
            value = self.config.get(extra)
            if value is not None:
                ad[extra] = _expr(value)
        return ad

    def monitor_attrs(self, now: int) -> dict:
        """The rest of DaemonCore::publish: machine facts and self-monitoring (daemon_core.cpp)."""
        out: dict = {}
        for attr, knob in (("DetectedCpus", "DETECTED_CPUS"), ("DetectedMemory", "DETECTED_MEMORY")):
            v = self.config.get(knob)
            if v is not None and v.strip().isdigit():
                out[attr] = int(v)
        pnn = self.config.get("PRIVATE_NETWORK_NAME")
        if pnn:
            out["PrivateNetworkName"] = pnn
        try:
            with open("/proc/self/statm") as f:
                pages = [int(x) for x in f.read().split()[:2]]
            kb = os.sysconf("SC_PAGE_SIZE") // 1024
            out["MonitorSelfImageSize"] = pages[0] * kb
            out["MonitorSelfResidentSetSize"] = pages[1] * kb
        except (OSError, ValueError):
            pass
        cpu = time.process_time()
        prev = getattr(self, "_monitor_prev", None)
        usage = 0.0
        if prev and now > prev[0]:
            usage = max(0.0, (cpu - prev[1]) / (now - prev[0]) * 100.0)
        self._monitor_prev = (now, cpu)
        out["MonitorSelfCPUUsage"] = round(usage, 6)
        out["MonitorSelfAge"] = max(0, now - self.core.start_time)
        out["MonitorSelfRegisteredSocketCount"] = 1 + self.core.connection_count
        out["MonitorSelfSecuritySessions"] = len(getattr(self.core.security, "sessions", {}) or {})
        out["DaemonCoreDutyCycle"] = out["RecentDaemonCoreDutyCycle"] = round(min(usage / 100.0, 1.0), 6)
        return out

    def address_v1(self) -> str:
        m = re.match(r"<[^:>?]+:(\d+)", self.core.sinful)
        port = int(m.group(1)) if m else self.core.port
        alias = self.core.hostname
        spid = f'spid="{self.core.shared_port_id}"; ' if self.core.shared_port_id else ""
        return (f'{{[ p="primary"; a="127.0.0.1"; port={port}; n="Internet"; alias="{alias}"; '
                f'{spid}noUDP=true; ], [ p="IPv4"; a="127.0.0.1"; port={port}; n="Internet"; '
                f'alias="{alias}"; {spid}noUDP=true; ]}}')

    # ------------------------------------------------------------------ collector updates
    async def client_call(self, func, *args):
        """Run a blocking call of the real htcondor2 client library off the event loop."""
        async with self._client_lock:
            return await asyncio.to_thread(func, *args)

    async def advertise(self) -> None:
        if not self.UPDATE_COMMAND:
            return
        async with self.update_lock:
            self._seq = getattr(self, "_seq", 0) + 1
            try:
                await self.to_collector(self.UPDATE_COMMAND, self.ad())
                self._failed_updates = 0
            except Exception as e:   # the collector may be down; a real daemon tries again later
                self.log.log(f"Failed to send {self.UPDATE_COMMAND} to collector: {e}", "D_FULLDEBUG")
                self.retry_advertise_soon()
            await self.advertise_more()

    async def advertise_more(self) -> None:
        """The daemon's other ads (submitters, accounting), sent after its own in the same
        turn of the update lock."""

    def retry_advertise_soon(self) -> None:
        """A failed update is tried again within seconds a few times (the collector of a
        pool that is starting may not be reachable yet, or be moving behind the shared
        port), not only at the next UPDATE_INTERVAL, which may be minutes away."""
        n = getattr(self, "_failed_updates", 0) + 1
        self._failed_updates = n
        if n > 5:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        loop.call_later(min(2.0 ** (n - 1) * 0.5, 8.0), lambda: self.core.spawn(self.advertise()))

    async def invalidate(self) -> None:
        if not self.INVALIDATE_COMMAND:
            return
        name = self.name()
        ad = {"MyType": "Query", "TargetType": self.MY_TYPE,
              "Requirements": _expr(f'( TARGET.Name == "{name}" )'), "Name": name,
              "MyAddress": self.core.sinful}
        try:
            await asyncio.wait_for(self.to_collector(self.INVALIDATE_COMMAND, ad), 5)
        except Exception as e:
            self.log.log(f"Failed to invalidate our ad at the collector: {e}", "D_FULLDEBUG")

    async def to_collector(self, command: str, ad: dict) -> None:
        """Send ``[ad]`` with ``command`` to our collector, on the event loop (FS and AES, as
        the client library would).  Where that cannot be done (no address file to read,
        or a collector that wants other terms) the client library sends it instead, in a
        thread; it blocks the whole process while it waits (it keeps the GIL)."""
        sinful = self.collector_address()
        if sinful:
            try:
                await security_client.send_command(sinful, Cmd[command], [lambda w: put_ad(w, ad)],
                                                   subsystem=self.SUBSYS)
                return
            except (security_client.ClientRefused, OSError, asyncio.TimeoutError, ProtocolError) as e:
                self.log.log(f"{command} to {sinful} through our own client failed ({e}); "
                             f"using the client library", "D_FULLDEBUG")
        await self.client_call(_advertise, ad, command)

    def collector_address(self) -> str | None:
        """The collector's command address, from its address file (the pool's collector
        listens on a port the OS picks, so COLLECTOR_HOST alone does not name it)."""
        return self.address_from_file("COLLECTOR_ADDRESS_FILE")

    def address_from_file(self, knob: str) -> str | None:
        """The sinful on the first line of the address file ``knob`` names, or None."""
        path = self.config.get(knob)
        try:
            with open(path) as f:
                line = f.readline().strip()
        except (OSError, TypeError):
            return None
        return line if line.startswith("<") else None

    def update_interval(self) -> float:
        return max(1, self.config.get_int(self.INTERVAL_KNOB, self.INTERVAL_DEFAULT))

    # ------------------------------------------------------------------ hooks
    async def setup(self) -> None:
        """Called once listening: address files, then the first update at once."""
        for knob in self.ADDRESS_KNOBS:
            self.core.write_address_file(self.config.get(knob))
        self.watch_parent()
        self.start_keepalive()
        self.core.every(self.update_interval, self.advertise, first=0)

    def start_keepalive(self) -> None:
        """DC_CHILDALIVE to the master that started us, over the family session it handed
        down, every third of NOT_RESPONDING_TIMEOUT less 30 s (at least every second)."""
        parent = keepalive.parent_address(os.environ.get("CONDOR_INHERIT"))
        family = keepalive.parse_family_session(os.environ.pop(keepalive.PRIVATE_INHERIT, None))
        if self.SUBSYS == "MASTER" or parent is None or family is None:
            return

        async def send() -> None:
            max_hang = keepalive.max_hang_time(self.config, self.SUBSYS)
            if await keepalive.send_alive(parent[1], *family, self.core.pid, max_hang):
                self.log.log("DaemonKeepAlive: Leaving SendAliveToParent() - success", "D_FULLDEBUG")
            else:
                self.log.log(f"DaemonKeepAlive: Leaving SendAliveToParent() - FAILED sending to {parent[1]}")

        self.core.every(lambda: keepalive.alive_period(keepalive.max_hang_time(self.config, self.SUBSYS)),
                        send, first=0)

    def watch_parent(self) -> None:
        """A child of the master shuts down fast when the master goes away.

        DaemonCore's ``check_parent`` timer (PARENT_CHECK_INTERVAL) does this for every
        daemon but the master, with the parent pid from ``CONDOR_INHERIT``.  We get told
        at once through a pidfd instead of polling, so that a SIGKILLed master never
        leaves its children behind."""
        if self.SUBSYS == "MASTER":
            return
        fields = os.environ.get("CONDOR_INHERIT", "").split()
        try:
            ppid = int(fields[0])
        except (IndexError, ValueError):
            return
        loop = asyncio.get_running_loop()

        def gone() -> None:
            self.log.log(f"Our parent process (pid {ppid}) went away; shutting down fast")
            self.core.signal(signal.SIGQUIT)       # DaemonCore: Signal_Myself(SIGQUIT)

        if os.getppid() != ppid:
            gone()
            return
        try:
            fd = os.pidfd_open(ppid)
        except (AttributeError, OSError):
            async def check() -> None:
                if os.getppid() != ppid:
                    gone()
            self.core.every(1.0, check, first=1.0)
            return

        def readable() -> None:
            loop.remove_reader(fd)
            os.close(fd)
            gone()

        loop.add_reader(fd, readable)

    async def on_reconfig(self) -> None:
        self.last_reconfig = int(time.time())
        for knob in self.ADDRESS_KNOBS:
            self.core.write_address_file(self.config.get(knob))
        await self.advertise()

    async def on_shutdown(self, fast: bool) -> None:
        await self.invalidate()

    def start(self) -> None:
        run(self.core, self.setup)


def _expr(text: str):
    import classad2
    return classad2.ExprTree(text)


def _advertise(ad: dict, command: str) -> None:
    import classad2
    import htcondor2
    htcondor2.Collector().advertise([classad2.ClassAd(ad)], command)
