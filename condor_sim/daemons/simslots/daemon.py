"""condor_simslots: ``CONDOR_SIM_SIMULATED_SLOTS`` execute slots that do not exist,
advertised to the pool's collector as that many startds would advertise them.

One process holds every simulated machine (:mod:`.sim`).  Each machine sends what a real
startd sends: its StartD daemon ad, then one UPDATE_STARTD_AD per slot with the slot's
public and private ads, every ``UPDATE_INTERVAL``; a machine whose slots changed sends
at once, and a dynamic slot that went away is invalidated.  The updates are spread over
the interval in ticks; each tick sends its machines' ads on one connection (the
collector serves further ``[cmd][ad][private ad]`` messages on an update connection).

Knobs: ``CONDOR_SIM_SIMULATED_SLOTS`` (how many slot ads), ``..._SEED`` (the draw of
machine sizes and claims), ``..._CHURN`` (the share of slots that change per
``UPDATE_INTERVAL``, default 0.05), ``..._DOMAIN`` (machine names ``sim-0001.<domain>``;
default ``DEFAULT_DOMAIN_NAME`` or ``sim.example``) and ``..._START`` (the slots' Start
expression; default false, so that the pool's own jobs never match a machine that is
not there).
"""
from __future__ import annotations

import asyncio
import math
import socket
import time

from ...cedar.commands import Cmd
from ...security import client as security_client
from ..base import Daemon
from ..startd import slots as S
from .sim import SimPool, Settings
from .wire import put_dict_ad

KNOB = "CONDOR_SIM_SIMULATED_SLOTS"
TICK = 1.0                  # seconds between two batches of updates
MACHINES_PER_CONNECTION = 600   # (some 4000 updates) before a fresh connection


class SimSlots(Daemon):
    SUBSYS = "SIMSLOTS"
    MY_TYPE = "Machine"
    UPDATE_COMMAND = "UPDATE_STARTD_AD"
    INVALIDATE_COMMAND = "INVALIDATE_STARTD_ADS"
    ADDRESS_KNOBS = ("SIMSLOTS_ADDRESS_FILE",)

    def __init__(self, config, log, **kw):
        super().__init__(config, log, **kw)
        self.pool: SimPool | None = None
        self.cursor = 0                       # the next machine of the regular round
        self.pending: set[int] = set()        # machines that changed since they last sent
        self.gone: list[str] = []             # dynamic slots to invalidate
        self.sent_updates = 0
        self._churn_debt = 0.0
        self._initial_done = False

    # ------------------------------------------------------------------ the simulation
    def settings(self) -> Settings:
        c = self.config
        domain = c.get(f"{KNOB}_DOMAIN") or c.get("DEFAULT_DOMAIN_NAME") or "sim.example"
        return Settings(count=max(0, c.get_int(KNOB, 0)), seed=c.get_int(f"{KNOB}_SEED", 0),
                        domain=domain.lstrip("."), start=c.get(f"{KNOB}_START") or "false")

    def build_pool(self) -> SimPool:
        now = int(time.time())
        facts = S.host_facts(self.config, self.fqdn, now=now)
        pool = SimPool(self.config, self.settings(), now=now, sinful=self.core.sinful, facts=facts)
        self.log.log(f"Simulating {pool.slot_count()} slots on {len(pool.machines)} machines")
        return pool

    def churn_rate(self) -> float:
        try:
            return max(0.0, float(self.config.get(f"{KNOB}_CHURN") or 0.05))
        except ValueError:
            return 0.05

    # ------------------------------------------------------------------ updates
    async def setup(self) -> None:
        for knob in self.ADDRESS_KNOBS:
            self.core.write_address_file(self.config.get(knob))
        self.watch_parent()
        self.start_keepalive()
        self.pool = self.build_pool()
        self.core.every(TICK, self.tick, first=0)

    async def on_reconfig(self) -> None:
        """A new count, seed or domain: the old machines go and new ones come."""
        if self.pool is not None and self.settings() != self.pool.settings:
            await self.invalidate()
            self.pool = self.build_pool()
            self.pending.clear()
            self.gone.clear()
            self.cursor = 0
            self._initial_done = False
        await super().on_reconfig()

    async def advertise(self) -> None:
        """A reconfig sends everything again."""
        if self.pool is not None:
            self.pending.update(range(len(self.pool.machines)))

    async def tick(self) -> None:
        pool = self.pool
        if pool is None or not pool.machines:
            return
        sinful = self.collector_address()
        if not sinful:
            return
        now = int(time.time())
        interval = self.update_interval()
        machines = len(pool.machines)
        if self._initial_done:
            self._churn_debt += self.churn_rate() * pool.slot_count() * TICK / interval
            events = int(self._churn_debt)
            self._churn_debt -= events
            if events:
                changed, gone = pool.churn(events, now)
                self.pending |= changed
                self.gone += [name for _, name in gone]
            share = math.ceil(machines * TICK / interval)
            for _ in range(min(share, machines)):
                self.pending.add(self.cursor)
                self.cursor = (self.cursor + 1) % machines
        else:
            # the first round at once, as N startds starting together would send
            self.pending.update(range(machines))
        todo = sorted(self.pending)
        self.pending.clear()
        gone, self.gone = self.gone, []
        try:
            if gone:
                await self.invalidate_slots(sinful, gone)
            await self.send_machines(sinful, todo, now)
            self._initial_done = True
        except Exception as e:     # the collector may be away: everything goes again later
            self.pending.update(todo)
            self.gone = gone + self.gone
            self.log.log(f"Failed to send UPDATE_STARTD_AD to collector: {e}", "D_FULLDEBUG")

    async def send_machines(self, sinful: str, indices: list[int], now: int) -> None:
        """Each machine's StartD ad and slot ads, many machines per connection: the first
        update goes with the command, each further one as ``[cmd][ad][private ad]``."""
        base = self.ad()
        for start in range(0, len(indices), MACHINES_PER_CONNECTION):
            chunk = indices[start:start + MACHINES_PER_CONNECTION]
            if start:
                now = int(time.time())
            conn = await security_client.open_command(sinful, Cmd.UPDATE_STARTD_AD, subsystem=self.SUBSYS)
            _no_delay(conn)
            try:
                first = True
                for i in chunk:
                    startd, pairs = self.pool.machine_ads(i, now, base)
                    for public, private in [(startd, None)] + pairs:
                        w = conn.message()
                        if not first:
                            w.put_int(Cmd.UPDATE_STARTD_AD)
                        first = False
                        put_dict_ad(w, public)
                        if private is not None:
                            put_dict_ad(w, private)
                        conn.writer.write(conn.framer.encode_message(w.getvalue()))
                        self.sent_updates += 1
                    await conn.writer.drain()      # a machine's updates in one go
            finally:
                conn.close()

    async def invalidate_slots(self, sinful: str, names: list[str]) -> None:
        """INVALIDATE_STARTD_ADS for each dynamic slot that went away (by its Name and
        MyAddress: the collector's key)."""
        for name in names:
            ad = {"MyType": "Query", "TargetType": "Machine", "Name": name,
                  "MyAddress": self.core.sinful,
                  "Requirements": _expr(f'( TARGET.Name == "{name}" )')}
            await self.to_collector(self.INVALIDATE_COMMAND, ad)

    async def invalidate(self) -> None:
        """At shutdown: every slot of ours, in one invalidation (they share our address)."""
        if self.pool is None:
            return
        # StartdIpAddr is not in the query ad, so the name means the slot ad's whether the
        # collector takes that as MY or as TARGET
        ad = {"MyType": "Query", "TargetType": "Machine",
              "Requirements": _expr(f'( StartdIpAddr == "{self.core.sinful}" )'),
              "MyAddress": self.core.sinful}
        try:
            await asyncio.wait_for(self.to_collector(self.INVALIDATE_COMMAND, ad), 10)
        except Exception as e:
            self.log.log(f"Failed to invalidate our ads at the collector: {e}", "D_FULLDEBUG")


def _no_delay(conn) -> None:
    """Updates get no answer: without TCP_NODELAY each small write can wait for the
    collector's delayed acknowledgement."""
    sock = conn.writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass


def _expr(text: str):
    import classad2
    return classad2.ExprTree(text)


def main() -> None:
    SimSlots.from_process().start()
