"""The negotiator's accountant: user priorities and usage, as ``Accountant.cpp`` keeps them.

Sans-IO: :class:`Accountant` holds the Customer table (one record per submitter and one
for the root accounting group ``<none>``) and turns every change into the ClassAd log
records the real one appends to ``SPOOL/Accountantnew.log``; :class:`AccountantStore`
is the thin file layer (replay on start, compaction, appends).

The numbers, as real:

* real priority ``Priority`` decays toward the weighted slots in use with a half life of
  PRIORITY_HALFLIFE: ``P = P*a + used*(1-a)``, ``a = 0.5**(elapsed/halflife)``, and never
  goes below 0.5;
* the effective priority shown by condor_userprio is ``Priority * PriorityFactor``
  (PriorityFactor defaults to DEFAULT_PRIO_FACTOR, written on first look);
* ``AccumulatedUsage`` / ``WeightedAccumulatedUsage`` grow by slots (weighted) x seconds;
  ``BeginUsageTime`` is set the first time usage is charged, ``LastUsageTime`` whenever
  the user had slots since the last update.

In the log, a changed float is written ``%f`` and an int ``%d`` (ClassAdLog's
SetAttributeFloat/Int); a compacted log prints values as ClassAd literals.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import classad2

from ...jobqueue import classad_log as L

MIN_PRIORITY = 0.5
MIN_PRIORITY_FACTOR = 1.0
ROOT_GROUP = "<none>"
CUSTOMER = "Customer."
RESOURCE = "Resource."
ACCT_KEY = "Accountant."

INT_ATTRS = frozenset({"ResourcesUsed", "UnchargedTime", "BeginUsageTime", "LastUsageTime",
                       "Ceiling", "Floor", "LastUpdateTime", "StartTime"})


def _fmt_set(value) -> str:
    """A value as SetAttributeInt / SetAttributeFloat / SetAttributeString write it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "%f" % value
    return classad2.ClassAd({"x": value}).printOld().partition(" = ")[2].rstrip("\n")


def _fmt_literal(value) -> str:
    """A value as a compacted log prints it (the ClassAd literal)."""
    return classad2.ClassAd({"x": value}).printOld().partition(" = ")[2].rstrip("\n")


def _parse_value(text: str):
    try:
        return classad2.ExprTree(text).eval()
    except Exception:
        return None


def _num(v, default=0.0) -> float:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else default


def _int(v, default: int = 0) -> int:
    return int(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else default


@dataclass
class Resource:
    """One claimed slot charged to a customer (the Resource table)."""
    user: str
    start: int
    weight: float


@dataclass
class Accountant:
    default_factor: float = 1000.0
    half_life: float = 86400.0
    customers: dict = field(default_factory=dict)      # name -> {attr: value}
    resources: dict = field(default_factory=dict)      # "slot@addr" -> Resource
    last_update: int = 0
    pending: list = field(default_factory=list)        # log text not yet on disk
    limits: dict = field(default_factory=dict)         # name -> (SubmitterLimit, SubmitterShare), not logged

    @classmethod
    def from_config(cls, config) -> "Accountant":
        return cls(default_factor=config.get_float("DEFAULT_PRIO_FACTOR", 1000.0),
                   half_life=max(1.0, config.get_float("PRIORITY_HALFLIFE", 86400.0)))

    # ------------------------------------------------------------------ the log
    def _set(self, name: str, attr: str, value) -> None:
        rec = self.customers.get(name)
        if rec is None:
            rec = self.customers[name] = {}
            self.pending.append(L.new_ad(CUSTOMER + name, "*", "*"))
        rec[attr] = value
        self.pending.append(L.set_attr(CUSTOMER + name, attr, _fmt_set(value)))

    def _txn(self, fn) -> None:
        """Run ``fn`` with its records wrapped in one transaction."""
        before = len(self.pending)
        self.pending.append(L.BEGIN_LINE)
        fn()
        if len(self.pending) == before + 1:
            self.pending.pop()
        else:
            self.pending.append(L.END_LINE)

    def take_pending(self) -> str:
        text = "".join(self.pending)
        self.pending.clear()
        return text

    def load(self, replayed: L.Replay) -> None:
        """The table from a replayed log."""
        for key, ad in replayed.ads.items():
            attrs = {k: _parse_value(v) for k, v in ad.attrs.items() if k != "MyType"}
            if key.startswith(CUSTOMER):
                self.customers[key[len(CUSTOMER):]] = attrs
            elif key == ACCT_KEY:
                self.last_update = _int(attrs.get("LastUpdateTime"))

    def snapshot(self, created: int) -> str:
        out = [L.sequence(2, created)]
        for name, rec in self.customers.items():
            key = CUSTOMER + name
            out.append(L.new_ad(key, "*", "*"))
            out.append(L.set_attr(key, "MyType", '"*"'))
            out.extend(L.set_attr(key, k, _fmt_literal(v)) for k, v in rec.items())
        out.append(L.new_ad(ACCT_KEY, "*", "*"))
        out.append(L.set_attr(ACCT_KEY, "MyType", '"*"'))
        if self.last_update:
            out.append(L.set_attr(ACCT_KEY, "LastUpdateTime", str(self.last_update)))
        return "".join(out)

    # ------------------------------------------------------------------ reading
    def get(self, name: str, attr: str, default=None):
        return self.customers.get(name, {}).get(attr, default)

    def group_of(self, name: str) -> str:
        return ROOT_GROUP

    def is_group(self, name: str) -> bool:
        return name == ROOT_GROUP

    def priority_factor(self, name: str) -> float:
        f = _num(self.get(name, "PriorityFactor"), 0.0)
        if f < MIN_PRIORITY_FACTOR:
            f = self.default_factor
            self._set(name, "PriorityFactor", float(f))
        return f

    def real_priority(self, name: str) -> float:
        p = _num(self.get(name, "Priority"), MIN_PRIORITY)
        if p < MIN_PRIORITY:
            p = MIN_PRIORITY
            self._set(name, "Priority", p)
        return p

    def effective_priority(self, name: str) -> float:
        """GetPriority: real priority times the priority factor."""
        factor = self.priority_factor(name)
        return self.real_priority(name) * factor

    def users(self) -> list[str]:
        return [n for n in self.customers if not self.is_group(n)]

    # ------------------------------------------------------------------ the cycle
    def update_priorities(self, now: int) -> None:
        """Age every priority and charge the usage since the last update."""
        passed = now - self.last_update if self.last_update else 0
        if self.last_update and passed == 0:
            return
        if passed < 0 or not self.last_update:
            self.last_update = now
            self._set_acct(now)
            return
        aging = 0.5 ** (passed / self.half_life)
        self.last_update = now
        self._set_acct(now)
        self._txn(lambda: [self._update_one(n, now, passed, aging) for n in list(self.customers)])

    def _set_acct(self, now: int) -> None:
        self.pending.append(L.set_attr(ACCT_KEY, "LastUpdateTime", str(now)))

    def _update_one(self, name: str, now: int, passed: int, aging: float) -> None:
        rec = self.customers[name]
        prio = max(_num(rec.get("Priority"), MIN_PRIORITY), MIN_PRIORITY)
        uncharged = _int(rec.get("UnchargedTime"))
        w_uncharged = _num(rec.get("WeightedUnchargedTime"))
        accum = _num(rec.get("AccumulatedUsage"))
        w_accum = _num(rec.get("WeightedAccumulatedUsage"), accum)
        used = _int(rec.get("ResourcesUsed"))
        w_used = _num(rec.get("WeightedResourcesUsed"))
        recent = used + uncharged / passed
        w_recent = w_used + w_uncharged / passed
        hier = _num(rec.get("HierWeightedResourcesUsed"))
        if hier > 0:
            w_recent = hier
        new_prio = max(prio * aging + w_recent * (1 - aging), MIN_PRIORITY)
        new_accum = accum + used * passed + uncharged
        new_w_accum = w_accum + w_used * passed + w_uncharged
        if new_prio != prio or "Priority" not in rec:
            self._set(name, "Priority", new_prio)
        if new_accum != accum:
            self._set(name, "AccumulatedUsage", new_accum)
        if new_w_accum != _num(rec.get("WeightedAccumulatedUsage"), -1.0):
            self._set(name, "WeightedAccumulatedUsage", new_w_accum)
        if new_accum > 0 and not _int(rec.get("BeginUsageTime")):
            self._set(name, "BeginUsageTime", now)
        if recent > 0:
            self._set(name, "LastUsageTime", now)
        if rec.get("UnchargedTime", -1) != 0:
            self._set(name, "UnchargedTime", 0)
        if rec.get("WeightedUnchargedTime", -1.0) != 0.0:
            self._set(name, "WeightedUnchargedTime", 0.0)

    def check_matches(self, slot_ads, now: int) -> None:
        """Usage recounted from the slots' ads: each claimed slot is charged to its
        AccountingGroup (else RemoteUser), at its SlotWeight (else Cpus)."""
        claimed: dict[str, Resource] = {}
        for ad in slot_ads:
            user = claimed_by(ad)
            if user is None:
                continue
            rname = resource_name(ad)
            old = self.resources.get(rname)
            start = old.start if old is not None and old.user == user else now
            claimed[rname] = Resource(user, start, slot_weight(ad))
        hier = 0.0       # the group's hierarchical usage moves only with matches made and gone
        for rname, r in self.resources.items():
            if rname not in claimed:
                hier -= r.weight
        for rname, r in claimed.items():
            if rname not in self.resources:
                hier += r.weight
        self.resources = claimed
        self._recount()
        if hier:
            g = ROOT_GROUP
            self._set(g, "HierWeightedResourcesUsed",
                      max(0.0, _num(self.get(g, "HierWeightedResourcesUsed")) + hier))

    def _recount(self) -> None:
        """One transaction: every record's WeightedResourcesUsed written afresh (the real
        CheckMatches zeroes them all each cycle before charging the claimed slots), then
        the counts where they changed."""
        totals: dict[str, list] = {}
        for r in self.resources.values():
            t = totals.setdefault(r.user, [0, 0.0])
            t[0] += 1
            t[1] += r.weight
        group = [sum(t[0] for t in totals.values()), sum(t[1] for t in totals.values())]

        def usage(name: str) -> tuple[int, float]:
            n, w = group if self.is_group(name) else totals.get(name, (0, 0.0))
            return n, float(w)

        def apply() -> None:
            for name in list(self.customers) + [n for n in totals if n not in self.customers]:
                self._set(name, "WeightedResourcesUsed", usage(name)[1])
            for name in list(self.customers):
                n, w = usage(name)
                if _int(self.get(name, "ResourcesUsed")) != n:
                    self._set(name, "ResourcesUsed", n)
        if self.customers or totals:
            self._txn(apply)

    def add_match(self, user: str, slot_ad, now: int) -> None:
        """A new match: charged from now until the next update."""
        rname = resource_name(slot_ad)
        weight = slot_weight(slot_ad)
        if rname in self.resources:
            rname = f"{rname}_cp_match_{len(self.resources):03d}"
        self.resources[rname] = Resource(user, now, weight)
        self.priority_factor(user)
        since = max(0, now - self.last_update) if self.last_update else 0

        def apply() -> None:
            for name in (user, self.group_of(user)):
                self._set(name, "ResourcesUsed", _int(self.get(name, "ResourcesUsed")) + 1)
                self._set(name, "WeightedResourcesUsed",
                          _num(self.get(name, "WeightedResourcesUsed")) + weight)
                self._set(name, "UnchargedTime", _int(self.get(name, "UnchargedTime")) - since)
                self._set(name, "WeightedUnchargedTime",
                          _num(self.get(name, "WeightedUnchargedTime")) - since * weight)
            group = self.group_of(user)
            self._set(group, "HierWeightedResourcesUsed",
                      _num(self.get(group, "HierWeightedResourcesUsed")) + weight)
        self._txn(apply)

    # ------------------------------------------------------------------ commands
    def reset_usage(self, name: str, now: int) -> None:
        self._txn(lambda: (self._set(name, "AccumulatedUsage", 0.0),
                           self._set(name, "WeightedAccumulatedUsage", 0.0),
                           self._set(name, "BeginUsageTime", now)))

    def reset_all_usage(self, now: int) -> None:
        for name in list(self.customers):
            self.reset_usage(name, now)

    def delete(self, name: str) -> None:
        if self.customers.pop(name, None) is not None:
            self.pending.append(L.transaction([L.destroy_ad(CUSTOMER + name)]))

    def set_priority(self, name: str, value: float) -> None:
        self._set(name, "Priority", float(value))

    def set_factor(self, name: str, value: float) -> None:
        self._set(name, "PriorityFactor", float(max(value, MIN_PRIORITY_FACTOR)))

    def set_accum_usage(self, name: str, value: float) -> None:
        self._set(name, "WeightedAccumulatedUsage", float(value))

    def set_begin_time(self, name: str, value: int) -> None:
        self._set(name, "BeginUsageTime", int(value))

    def set_last_time(self, name: str, value: int) -> None:
        self._set(name, "LastUsageTime", int(value))

    def set_ceiling(self, name: str, value: int) -> None:
        self._set(name, "Ceiling", int(value))

    def set_floor(self, name: str, value: int) -> None:
        self._set(name, "Floor", int(value))

    # ------------------------------------------------------------------ reports
    def report_state(self, rollup: bool = False) -> dict:
        """GET_PRIORITY's ad: the root group as entry 1, then each submitter."""
        ad: dict = {"LastUpdate": self.last_update}
        g = ROOT_GROUP
        rec = self.customers.get(g, {})
        ad.update({"Name1": g, "IsAccountingGroup1": True, "AccountingGroup1": g,
                   "Priority1": self.effective_priority(g),
                   "PriorityFactor1": _num(rec.get("PriorityFactor"), self.default_factor),
                   "EffectiveQuota1": 0.0, "ConfigQuota1": 0.0, "SubtreeQuota1": 0.0,
                   "GroupSortKey1": 0.0, "SurplusPolicy1": "byquota", "Requested1": 0.0,
                   "HierWeightedResourcesUsed1": _num(rec.get("HierWeightedResourcesUsed")),
                   **_usage(rec, "1")})
        n = 2
        for name in self.users():
            rec = self.customers[name]
            prio = self.effective_priority(name)
            ad.update({f"Name{n}": name, f"IsAccountingGroup{n}": False,
                       f"AccountingGroup{n}": self.group_of(name), f"Priority{n}": prio,
                       f"Ceiling{n}": self.ceiling(name), f"Floor{n}": self.floor(name),
                       f"PriorityFactor{n}": _num(rec.get("PriorityFactor")),
                       f"SubmitterShare{n}": self.limits.get(name, (0.0, 0.0))[1],
                       f"SubmitterLimit{n}": self.limits.get(name, (0.0, 0.0))[0],
                       **_usage(rec, str(n))})
            n += 1
        ad["NumSubmittors"] = n - 1
        return ad

    def ceiling(self, name: str) -> int:
        c = _int(self.get(name, "Ceiling"), -1)
        return c if c >= 0 else -1

    def floor(self, name: str) -> int:
        f = _int(self.get(name, "Floor"), 0)
        return max(f, 0)

    def report_resources(self, name: str) -> dict:
        """GET_RESLIST's ad: Name<i>/StartTime<i> of the slots charged to ``name``."""
        ad: dict = {}
        i = 1
        for rname, r in self.resources.items():
            if self.is_group(name):
                if self.group_of(r.user) != name:
                    continue
            elif r.user != name:
                continue
            else:
                ad[f"Name{i}"] = rname
                ad[f"StartTime{i}"] = r.start
            i += 1
        return ad

    def accounting_ads(self, negotiator: str, extra: dict | None = None) -> list[dict]:
        """The Accounting ads sent to the collector: the root group, then each submitter."""
        extra = extra or {}
        out = []
        g = ROOT_GROUP
        rec = self.customers.get(g, {})
        group_ad = {"MyType": "Accounting", "Name": g, "NegotiatorName": negotiator,
                    "AccountingGroup": g, "IsAccountingGroup": True,
                    "Priority": self.effective_priority(g),
                    "PriorityFactor": _num(rec.get("PriorityFactor"), self.default_factor),
                    **_usage(rec), "LastUpdate": self.last_update, "ConfigQuota": 0.0, "EffectiveQuota": 0.0,
                    "SubtreeQuota": 0.0, "GroupSortKey": 0.0, "SurplusPolicy": "byquota",
                    "Requested": 0.0}
        out.append({**group_ad, **extra})
        for name in self.users():
            rec = self.customers[name]
            out.append({"MyType": "Accounting", "Name": name, "NegotiatorName": negotiator,
                        "AccountingGroup": self.group_of(name), "IsAccountingGroup": False,
                        "Priority": self.effective_priority(name),
                        "PriorityFactor": self.priority_factor(name),
                        **_usage(rec), "LastUpdate": self.last_update, "Ceiling": self.ceiling(name),
                        "Floor": self.floor(name),
                        "SubmitterLimit": self.limits.get(name, (0.0, 0.0))[0],
                        "SubmitterShare": self.limits.get(name, (0.0, 0.0))[1],
                        "UnchargedTime": _int(rec.get("UnchargedTime")),
                        "WeightedUnchargedTime": _num(rec.get("WeightedUnchargedTime")), **extra})
        return out


def _usage(rec: dict, suffix: str = "") -> dict:
    """A customer's usage as the priority and Accounting ads carry it (``suffix``: the
    entry number of GET_PRIORITY's ad)."""
    return {f"ResourcesUsed{suffix}": _int(rec.get("ResourcesUsed")),
            f"WeightedResourcesUsed{suffix}": _num(rec.get("WeightedResourcesUsed")),
            f"AccumulatedUsage{suffix}": _num(rec.get("AccumulatedUsage")),
            f"WeightedAccumulatedUsage{suffix}": _num(rec.get("WeightedAccumulatedUsage")),
            f"BeginUsageTime{suffix}": _int(rec.get("BeginUsageTime")),
            f"LastUsageTime{suffix}": _int(rec.get("LastUsageTime"))}


def claimed_by(ad) -> str | None:
    """IsClaimed: the customer of a Claimed (or Preempting) slot."""
    if ad.get("State") not in ("Claimed", "Preempting"):
        return None
    for attr in ("AccountingGroup", "RemoteUser"):
        v = ad.get(attr)
        if isinstance(v, str) and v:
            return v
    return None


def resource_name(ad) -> str:
    """GetResourceName: ``<Name>@<StartdIpAddr>``."""
    return f"{ad.get('Name', '')}@{ad.get('StartdIpAddr', '') or ''}"


def slot_weight(ad) -> float:
    if "SlotWeight" in ad:
        try:
            v = ad.lookup("SlotWeight").eval(ad) if hasattr(ad, "lookup") else ad["SlotWeight"]
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                return float(v)
        except Exception:
            pass
    return _num(ad.get("Cpus"), 1.0)


class AccountantStore:
    """``SPOOL/Accountantnew.log`` on disk: replayed and compacted at start, appended after."""

    def __init__(self, path: str):
        self.path = path

    def open(self, acct: Accountant, now: int) -> list[str]:
        """Load the table; rewrite the file compacted.  Returns warnings."""
        warnings: list[str] = []
        try:
            with open(self.path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            data = b""
        created = now
        if data:
            try:
                rep = L.replay(data)
            except L.CorruptLog as e:
                warnings.append(str(e))
                rep = L.replay(data[:e.good_bytes])
            warnings.extend(rep.warnings)
            acct.load(rep)
            created = rep.created or now
        acct.pending.clear()
        self._rewrite(acct.snapshot(created))
        return warnings

    def _rewrite(self, text: str) -> None:
        tmp = self.path + ".tmp"
        os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
        with open(tmp, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    def flush(self, acct: Accountant) -> None:
        text = acct.take_pending()
        if text:
            with open(self.path, "a") as f:
                f.write(text)
