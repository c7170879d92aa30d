"""A large pool of execute machines that do not exist, without any I/O.

:class:`SimPool` makes ``count`` slot ads' worth of machines named ``sim-0001.<domain>``,
``sim-0002.<domain>`` ..., each a :class:`condor_sim.daemons.startd.slots.Machine` (the
real startd's bookkeeping and ad builder) with one partitionable slot and some dynamic
slots carved from it and claimed by made-up users' jobs.  Resources are drawn from a
seeded distribution, so a seed gives the same pool every time.

:meth:`SimPool.churn` moves the pool on as a busy pool moves: jobs end and start on their
claims (Claimed/Busy <-> Claimed/Idle, a new ``JobId``), claims end and new ones are
carved (a dynamic slot goes and another comes), and now and then a claim ends on one
machine while another starts on a different one.  The number of slot ads stays
``count``; it returns which machines changed and which slot names went away, for the
daemon to advertise and invalidate.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

import classad2

from ..startd import slots as S

# (cpus, weight): the machine sizes of a typical pool.
CPU_CHOICES = ((4, 2), (8, 4), (16, 5), (32, 4), (48, 2), (64, 2), (128, 1))
MEMORY_PER_CPU_MB = (2048, 4096, 8192)
DISK_PER_CPU_KB = (10 * 1024 * 1024, 20 * 1024 * 1024, 50 * 1024 * 1024)
USERS = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi")
MAX_DSLOTS = 12
START_DEFAULT = "false"


@dataclass
class Settings:
    count: int
    seed: int = 0
    domain: str = "sim.example"
    start: str = START_DEFAULT    # the slots' Start: by default no real job matches them
    schedds: int = 4


class SimMachine(S.Machine):
    """A startd Machine whose knob expressions are parsed once for the whole pool."""

    _exprs: dict = {}
    start_text = START_DEFAULT

    def _knob_expr(self, knob: str, default: str) -> classad2.ExprTree:
        key = (knob, default)
        e = self._exprs.get(key)
        if e is None:
            if knob == "START":
                e = S._expr(self.start_text)
            else:
                e = super()._knob_expr(knob, default)
            self._exprs[key] = e
        return e


def machine_name(index: int, domain: str, width: int = 4) -> str:
    return f"sim-{index:0{width}d}.{domain}"


def _seq_to_width(machines: int) -> int:
    return max(4, len(str(machines)))


class SimPool:
    """The simulated machines and their claims."""

    def __init__(self, config, settings: Settings, *, now: int, sinful: str, facts: dict):
        self.config = config
        self.settings = settings
        self.rng = random.Random(settings.seed)
        self.sinful = sinful
        self.facts = facts
        self.now = now
        self.next_cluster = 1
        SimMachine._exprs = {}
        SimMachine.start_text = settings.start or START_DEFAULT
        self.machines: list[SimMachine] = []
        self._build()

    # ------------------------------------------------------------------ building
    def _build(self) -> None:
        remaining = self.settings.count
        sizes: list[tuple[int, int]] = []          # (cpus, dslots wanted)
        while remaining > 0:
            cpus = self.rng.choices([c for c, _ in CPU_CHOICES], [w for _, w in CPU_CHOICES])[0]
            k = min(self.rng.randint(0, min(cpus, MAX_DSLOTS)), remaining - 1)
            sizes.append((cpus, k))
            remaining -= 1 + k
        width = _seq_to_width(len(sizes))
        built = self.now
        for i, (cpus, k) in enumerate(sizes, 1):
            m = self._machine(machine_name(i, self.settings.domain, width), cpus)
            self.machines.append(m)
            for _ in range(k):       # claims made some time since the machine started
                self.now = self.rng.randint(m.start_time, built)
                if self._claim(m) is None:
                    break
            self.now = built
        # a machine too small for its share: the rest go where they fit
        short = self.settings.count - self.slot_count()
        while short > 0:
            m = self.rng.choice(self.machines)
            if self._claim(m) is not None:
                short -= 1

    def _machine(self, fqdn: str, cpus: int) -> SimMachine:
        memory = cpus * self.rng.choice(MEMORY_PER_CPU_MB)
        disk = cpus * self.rng.choice(DISK_PER_CPU_KB)
        boot = self.now - self.rng.randint(3600, 90 * 86400)
        facts = dict(self.facts)
        facts.update({"UtsnameNodename": fqdn.split(".")[0], "BootTime": boot,
                      "TotalVirtualMemory": memory * 1024,
                      "LoadAvg": round(self.rng.uniform(0, cpus * 0.9), 2)})
        m = SimMachine(self.config, fqdn, S.Resources(cpus, memory, disk), now=self.now,
                       sinful=self.sinful, facts=facts,
                       detected_resources=S.Detected(cpus, memory + 1024, disk + disk // 10))
        m.start_time = m.num_dslots_time = self.rng.randint(boot + 60, self.now - 60)
        m.pslot.entered_state = m.pslot.entered_activity = m.start_time
        return m

    def _request(self, m: SimMachine) -> dict | None:
        p = m.pslot
        if p.cpus < 1 or p.memory < 128:
            return None
        cpus = min(p.cpus, self.rng.choice((1, 1, 1, 2, 4, 8)))
        memory = min(p.memory, cpus * self.rng.choice((512, 1024, 2048, 4096)))
        disk = min(p.disk, self.rng.choice((1, 4, 16)) * 1024 * 1024)
        return {"RequestCpus": cpus, "RequestMemory": max(memory - memory % 128, 128),
                "RequestDisk": max(disk - disk % 1024, 1024)}

    def _claim(self, m: SimMachine) -> S.Slot | None:
        """A new claim on ``m`` by a made-up user, most of them running a job at once."""
        request = self._request(m)
        if request is None or not m.fits(request):
            return None
        user = f"{self.rng.choice(USERS)}@{self.settings.domain}"
        schedd = f"submit-{self.rng.randint(1, max(1, self.settings.schedds))}.{self.settings.domain}"
        job_id = self._job_id()
        s = m.carve(request, now=self.now, claim_id=m.new_claim_id(), remote_user=user,
                    client_machine=schedd, job_id=job_id, remote_schedd=schedd)
        if s is not None and self.rng.random() < 0.85:
            self._run(m, s, schedd)
        return s

    def _job_id(self) -> str:
        cluster = self.next_cluster
        self.next_cluster += 1
        return f"{cluster}.0"

    def _run(self, m: SimMachine, s: S.Slot, schedd: str | None = None, job_id: str | None = None) -> None:
        job_id = job_id or self._job_id()
        schedd = schedd or s.client_machine or f"submit-1.{self.settings.domain}"
        size = self.rng.randint(1000, 4_000_000)
        m.activate(s.name, now=self.now, job_id=job_id, starter_pid=self.rng.randint(1000, 4_000_000),
                   job_ad={"GlobalJobId": f"{schedd}#{job_id}#{self.now}", "JobUniverse": 5,
                           "ImageSize": size, "DiskUsage": self.rng.randint(10, size),
                           "ExecutableSize": self.rng.randint(10, 100_000)})

    # ------------------------------------------------------------------ the pool moves on
    def slot_count(self) -> int:
        return sum(1 + len(m.dslots) for m in self.machines)

    def churn(self, events: int, now: int) -> tuple[set[int], list[tuple[int, str]]]:
        """``events`` changes; returns the indices of the machines that changed and the
        (machine index, slot name) of each dynamic slot that went away for good."""
        self.now = now
        changed: set[int] = set()
        gone: list[tuple[int, str]] = []
        for _ in range(events):
            i = self.rng.randrange(len(self.machines))
            m = self.machines[i]
            if not m.dslots:
                if self._claim(m) is not None:      # an idle machine gets a claim ...
                    changed.add(i)
                    self._drop_one(exclude=i, changed=changed, gone=gone)   # ... another loses one
                continue
            s = m.dslots[self.rng.choice(sorted(m.dslots))]
            r = self.rng.random()
            if r < 0.35 and s.activity == S.BUSY:           # the job ends, the claim stays
                m.deactivate(s.name, now=now)
                if self.rng.random() < 0.7:                 # and the next one starts
                    self._run(m, s)
            elif r < 0.55 and s.activity != S.BUSY:         # an idle claim gets a job
                self._run(m, s)
            elif r < 0.9:                                   # a claim ends, a new one comes
                m.release(s.name, now=now)
                if self._claim(m) is None:
                    gone.append((i, s.name))
                    self._add_one(exclude=i, changed=changed)
            else:                                           # a claim ends here, one starts elsewhere
                m.release(s.name, now=now)
                fresh = self._claim(m) if self.rng.random() < 0.2 else None
                if fresh is None or fresh.name != s.name:
                    gone.append((i, s.name))
                if fresh is None:
                    self._add_one(exclude=i, changed=changed)
                else:
                    self._drop_one(exclude=i, changed=changed, gone=gone)
                    self._add_one(exclude=i, changed=changed)
            changed.add(i)
        # a name that went and came back in the same round is an update, not an invalidation
        gone = [(j, name) for j, name in dict.fromkeys(gone) if name not in self.machines[j].dslots]
        return changed, gone

    def _add_one(self, exclude: int, changed: set[int]) -> None:
        for _ in range(20):
            j = self.rng.randrange(len(self.machines))
            if j != exclude and self._claim(self.machines[j]) is not None:
                changed.add(j)
                return
        if self._claim(self.machines[exclude]) is not None:
            changed.add(exclude)

    def _drop_one(self, exclude: int, changed: set[int], gone: list) -> None:
        for _ in range(20):
            j = self.rng.randrange(len(self.machines))
            m = self.machines[j]
            if j != exclude and m.dslots:
                name = max(m.dslots, key=lambda n: m.dslots[n].sub_id)
                m.release(name, now=self.now)
                gone.append((j, name))
                changed.add(j)
                return

    # ------------------------------------------------------------------ ads
    def machine_ads(self, i: int, now: int, daemon_attrs: dict) -> tuple[dict, list[tuple[dict, dict]]]:
        """Machine ``i``'s StartD daemon ad and its (public, private) slot ad pairs, the
        daemon attributes made its own (its name, its start time)."""
        m = self.machines[i]
        attrs = dict(daemon_attrs)
        attrs.update({"Name": m.fqdn, "Machine": m.fqdn, "DaemonStartTime": m.start_time})
        startd = m.startd_ad(now, attrs)
        pairs = list(zip(m.public_ads(now, attrs), m.private_ads(now, attrs)))
        return startd, pairs
