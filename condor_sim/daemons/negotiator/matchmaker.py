"""Matchmaking, sans-IO: which slot a job request gets, with the real ClassAd library.

The negotiator's ``matchmakingAlgorithm`` (``condor_negotiator.V6/matchmaker.cpp``) keeps,
of the slots whose Requirements and the job's Requirements both hold (a symmetric match),
the one with the greatest (NEGOTIATOR_PRE_JOB_RANK, the job's Rank,
NEGOTIATOR_POST_JOB_RANK); on a tie the first in the list.  The pre-job rank is evaluated
with the slot as MY and the job as TARGET, the job's Rank the other way round.

A partitionable slot may take several jobs in one cycle: each match deducts the job's
quantized request from the slot's Cpus/Memory/Disk (as the startd will when it carves the
dynamic slot), so the next job is matched against what is left.
"""
from __future__ import annotations

from dataclasses import dataclass

import classad2

from ...cedar.classad_wire import is_private

PRE_JOB_RANK = ("(10000000 * My.Rank) + (1000000 * (RemoteOwner =?= UNDEFINED)) "
                "- (100000 * Cpus) - Memory")
POST_JOB_RANK = ("(RemoteOwner =?= UNDEFINED) * (ifthenElse(isUndefined(KFlops), 1000, Kflops) "
                 "- SlotID - 1.0e10*(Offline=?=True))")
MEMORY_QUANTUM = 128        # MB, MODIFY_REQUEST_EXPR_REQUESTMEMORY
DISK_QUANTUM = 1024         # KB, MODIFY_REQUEST_EXPR_REQUESTDISK
CLAIM_ATTRS = ("ClaimId", "Capability")


@dataclass
class Slot:
    """One slot the cycle may hand out: its public ad (with its claim id merged in)."""
    ad: classad2.ClassAd
    claim_id: str

    @property
    def name(self) -> str:
        return str(self.ad.get("Name", ""))

    @property
    def partitionable(self) -> bool:
        return self.ad.get("PartitionableSlot") is True

    @property
    def startd_address(self) -> str:
        return str(self.ad.get("StartdIpAddr") or self.ad.get("MyAddress") or "")


@dataclass
class Match:
    slot_name: str
    claim_id: str
    slot_ad: classad2.ClassAd      # the slot's public ad as matched (before any deduction)
    startd_address: str


def _key(ad) -> str:
    return str(ad.get("Name", ""))


def claim_id_of(private_ad) -> str | None:
    for attr in CLAIM_ATTRS:
        v = private_ad.get(attr)
        if isinstance(v, str) and v:
            return v
    return None


def candidate_slots(public_ads, private_ads) -> list[Slot]:
    """Slots with a claim id from their private ad, not claimed, not offline
    (``MakeClaimIdHash`` and the trimming of the slot list)."""
    claims = {}
    for p in private_ads:
        cid = claim_id_of(p)
        if cid:
            claims[_key(p)] = cid
    out = []
    for ad in public_ads:
        cid = claim_id_of(ad) or claims.get(_key(ad))
        if not cid:
            continue
        if ad.get("State") == "Claimed" or ad.get("Offline") is True:
            continue
        merged = classad2.ClassAd()
        merged.update(ad)
        merged["ClaimId"] = cid
        out.append(Slot(merged, cid))
    return out


def public_copy(ad: classad2.ClassAd) -> classad2.ClassAd:
    """The ad without its private attributes (what goes to the schedd with the claim id)."""
    out = classad2.ClassAd()
    for k in ad.keys():
        if not is_private(k):
            out[k] = ad.lookup(k)
    return out


def _number(value, default: float = 0.0) -> float:
    if isinstance(value, bool):
        return default
    return float(value) if isinstance(value, (int, float)) else default


def quantize(value: float, quantum: int) -> int:
    """``quantize(x, {q})``: x rounded up to a multiple of q."""
    n = int(-(-value // quantum)) * quantum if value > 0 else 0
    return max(n, quantum if value > 0 else 0)


def request_of(job: classad2.ClassAd, slot: classad2.ClassAd) -> tuple[int, int, int]:
    """(cpus, memory MB, disk KB) the startd will carve for ``job`` out of ``slot``."""
    def ev(attr: str, default: float) -> float:
        if attr not in job:
            return default
        try:
            return _number(job.lookup(attr).eval(job, slot), default)
        except Exception:
            return default
    cpus = max(1, int(ev("RequestCpus", 1)))
    memory = quantize(ev("RequestMemory", 0), MEMORY_QUANTUM)
    disk = quantize(ev("RequestDisk", 0), DISK_QUANTUM)
    return cpus, memory, disk


def _rank(expr, my, target) -> float:
    try:
        return _number(expr.eval(my, target))
    except Exception:
        return 0.0


class Matchmaker:
    """The slots of one cycle, and the matches made from them so far."""

    def __init__(self, slots: list[Slot], pre_job_rank: str | None = None,
                 post_job_rank: str | None = None):
        self.slots = list(slots)
        self.pre = classad2.ExprTree(pre_job_rank or PRE_JOB_RANK)
        self.post = classad2.ExprTree(post_job_rank or POST_JOB_RANK)

    def ranks(self, job: classad2.ClassAd, slot: Slot) -> tuple[float, float, float]:
        job_rank = _rank(job.lookup("Rank"), job, slot.ad) if "Rank" in job else 0.0
        return (_rank(self.pre, slot.ad, job), job_rank, _rank(self.post, slot.ad, job))

    def fits(self, job: classad2.ClassAd, slot: Slot) -> bool:
        try:
            if not slot.ad.symmetricMatch(job):
                return False
        except Exception:
            return False
        if slot.partitionable:
            cpus, memory, disk = request_of(job, slot.ad)
            return (cpus <= _number(slot.ad.get("Cpus")) and memory <= _number(slot.ad.get("Memory"))
                    and disk <= _number(slot.ad.get("Disk")))
        return True

    def best(self, job: classad2.ClassAd) -> Slot | None:
        best, best_rank = None, None
        for slot in self.slots:
            if not self.fits(job, slot):
                continue
            r = self.ranks(job, slot)
            if best_rank is None or r > best_rank:
                best, best_rank = slot, r
        return best

    def match(self, job: classad2.ClassAd) -> Match | None:
        """The best slot for ``job``, taken (a static slot) or reduced (a partitionable one)."""
        slot = self.best(job)
        if slot is None:
            return None
        matched = public_copy(slot.ad)
        if slot.partitionable:
            self.deduct(slot, request_of(job, slot.ad))
        else:
            self.slots.remove(slot)
        return Match(slot.name, slot.claim_id, matched, slot.startd_address)

    @staticmethod
    def deduct(slot: Slot, request: tuple[int, int, int]) -> None:
        cpus, memory, disk = request
        for attr, used in (("Cpus", cpus), ("Memory", memory), ("Disk", disk)):
            have = slot.ad.get(attr)
            if isinstance(have, (int, float)) and not isinstance(have, bool):
                slot.ad[attr] = type(have)(have - used) if isinstance(have, int) else have - used

    @staticmethod
    def slot_weight(ad: classad2.ClassAd) -> float:
        """SlotWeight of a slot (default: its Cpus), for the accountant."""
        if "SlotWeight" in ad:
            try:
                return _number(ad.lookup("SlotWeight").eval(ad), 1.0)
            except Exception:
                pass
        return _number(ad.get("Cpus"), 1.0)
