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
import socket
import sys
import time

from .. import CONDOR_PLATFORM, CONDOR_VERSION
from ..config import DaemonConfig
from ..daemoncore import DaemonCore, run
from ..dlog import DaemonLog


class Daemon:
    SUBSYS = ""            # e.g. "SCHEDD"
    MY_TYPE = ""           # e.g. "Scheduler"
    UPDATE_COMMAND = ""    # e.g. "UPDATE_SCHEDD_AD"
    INVALIDATE_COMMAND = ""
    INTERVAL_KNOB = "UPDATE_INTERVAL"
    INTERVAL_DEFAULT = 300
    ADDRESS_KNOBS: tuple = ()   # e.g. ("SCHEDD_ADDRESS_FILE", "SCHEDD_SUPER_ADDRESS_FILE")

    def __init__(self, argv: list[str] | None = None):
        self.argv = list(sys.argv if argv is None else argv)
        self.exe_name = f"condor_{self.SUBSYS.lower()}"
        self.config = DaemonConfig(self.SUBSYS)
        self.log = DaemonLog(self.config, self.SUBSYS, self.exe_name, self.exe_path())
        self.log.banner()
        self.core = DaemonCore(self.SUBSYS, self.config, self.log, self.exe_name)
        self.core.on_reconfig = self.on_reconfig
        self.core.on_shutdown = self.on_shutdown
        self.fqdn = socket.getfqdn()
        self._client_lock = asyncio.Lock()

    @staticmethod
    def exe_path() -> str:
        return os.path.abspath(sys.argv[0]) if sys.argv and sys.argv[0] else ""

    # ------------------------------------------------------------------ identity / ad
    def name(self) -> str:
        return self.config.get(f"{self.SUBSYS}_NAME") or self.fqdn

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
        for extra in self.config.get_list(f"{self.SUBSYS}_ATTRS") + self.config.get_list(f"{self.SUBSYS}_EXPRS"):
            value = self.config.get(extra)
            if value is not None:
                ad[extra] = _expr(value)
        return ad

    def address_v1(self) -> str:
        port = self.core.port
        alias = self.core.hostname
        return (f'{{[ p="primary"; a="127.0.0.1"; port={port}; n="Internet"; alias="{alias}"; '
                f'noUDP=true; ], [ p="IPv4"; a="127.0.0.1"; port={port}; n="Internet"; '
                f'alias="{alias}"; noUDP=true; ]}}')

    # ------------------------------------------------------------------ collector updates
    async def client_call(self, func, *args):
        """Run a blocking call of the real htcondor2 client library off the event loop."""
        async with self._client_lock:
            return await asyncio.to_thread(func, *args)

    async def advertise(self) -> None:
        if not self.UPDATE_COMMAND:
            return
        self._seq = getattr(self, "_seq", 0) + 1
        ad = self.ad()
        try:
            await self.client_call(_advertise, ad, self.UPDATE_COMMAND)
        except Exception as e:   # the collector may be down; a real daemon just tries again later
            self.log.log(f"Failed to send {self.UPDATE_COMMAND} to collector: {e}", "D_FULLDEBUG")

    async def invalidate(self) -> None:
        if not self.INVALIDATE_COMMAND:
            return
        name = self.name()
        ad = {"MyType": "Query", "TargetType": self.MY_TYPE,
              "Requirements": _expr(f'( TARGET.Name == "{name}" )'), "Name": name,
              "MyAddress": self.core.sinful}
        try:
            await asyncio.wait_for(self.client_call(_advertise, ad, self.INVALIDATE_COMMAND), 5)
        except Exception as e:
            self.log.log(f"Failed to invalidate our ad at the collector: {e}", "D_FULLDEBUG")

    def update_interval(self) -> float:
        return max(1, self.config.get_int(self.INTERVAL_KNOB, self.INTERVAL_DEFAULT))

    # ------------------------------------------------------------------ hooks
    async def setup(self) -> None:
        """Called once listening: address files, then the first update at once."""
        for knob in self.ADDRESS_KNOBS:
            self.core.write_address_file(self.config.get(knob))
        self.core.every(self.update_interval, self.advertise, first=0)

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
