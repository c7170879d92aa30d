"""Matchmaking without a process: the real slot and job ads of a capture, the real ClassAd
library deciding (symmetric Requirements, the rank order), and a partitionable slot
shrinking match by match."""
from __future__ import annotations

from pathlib import Path

import classad2
import pytest

from condor_sim.daemons.negotiator import matchmaker as M

FIX = Path(__file__).resolve().parent.parent / "fixtures"
ADS = {"collector-ad.Machine.txt": FIX / "startd" / "pslot-idle.ad",
       "condor_q-long-after-submit.txt": FIX / "job_queue" / "condor_q-long-after-submit.txt"}


def read_ads(name: str) -> list[classad2.ClassAd]:
    text = ADS[name].read_text()
    return [classad2.parseOne(chunk, parser=classad2.ParserType.Old)
            for chunk in text.split("\n\n") if chunk.strip()]


@pytest.fixture
def pslot() -> classad2.ClassAd:
    (ad,) = read_ads("collector-ad.Machine.txt")
    return ad


@pytest.fixture
def jobs() -> list[classad2.ClassAd]:
    return read_ads("condor_q-long-after-submit.txt")


def slot(ad, claim="<127.0.0.1:1>#1#1#...") -> M.Slot:
    merged = classad2.ClassAd()
    merged.update(ad)
    return M.Slot(merged, claim)


def static(pslot, name: str, memory: int, rank: float = 0.0, **extra) -> classad2.ClassAd:
    ad = classad2.ClassAd()
    ad.update(pslot)
    ad.update({"Name": name, "PartitionableSlot": False, "SlotType": "Static", "Memory": memory,
               "Cpus": 1, "Rank": rank, **extra})
    return ad


def test_the_captured_job_matches_the_captured_partitionable_slot(pslot, jobs):
    mm = M.Matchmaker([slot(pslot)])
    m = mm.match(jobs[0])
    assert m is not None and m.slot_name == "slot1@vm" and m.claim_id.startswith("<127.0.0.1:1>")
    assert m.startd_address == pslot["StartdIpAddr"]
    # the ad sent is the slot as matched, without the claim id
    assert m.slot_ad["Cpus"] == 2 and m.slot_ad["Memory"] == 24105 and "ClaimId" not in m.slot_ad


def test_a_partitionable_slot_takes_jobs_until_its_cpus_are_used(pslot, jobs):
    mm = M.Matchmaker([slot(pslot)])
    got = [mm.match(j) for j in jobs]
    assert [m is not None for m in got] == [True, True, False]        # Cpus = 2
    assert [m.slot_ad["Cpus"] for m in got[:2]] == [2, 1]
    # RequestMemory 16 -> 128 MB, RequestDisk 1024 KB stays 1024
    assert [m.slot_ad["Memory"] for m in got[:2]] == [24105, 24105 - 128]
    assert mm.slots[0].ad["Disk"] == 81054508 - 2 * 1024


def test_memory_is_quantized_as_the_startd_will(pslot, jobs):
    job = jobs[0]
    job["RequestMemory"] = 129
    job["RequestDisk"] = 1
    assert M.request_of(job, pslot) == (1, 256, 1024)
    assert M.quantize(128, 128) == 128 and M.quantize(0, 128) == 0


def test_both_requirements_must_hold(pslot, jobs):
    refusing = classad2.ClassAd()
    refusing.update(pslot)
    refusing["Start"] = False
    assert M.Matchmaker([slot(refusing)]).match(jobs[0]) is None
    job = jobs[0]
    job["Requirements"] = classad2.ExprTree("TARGET.Memory > 1000000")
    assert M.Matchmaker([slot(pslot)]).match(job) is None


def test_job_rank_then_the_slots_own_rank_decide(pslot, jobs):
    small, big = static(pslot, "slot1@vm", 1024), static(pslot, "slot2@vm", 4096)
    job = jobs[0]
    job["Rank"] = classad2.ExprTree("TARGET.Memory")
    # the pre-job rank prefers the smaller slot (- Memory) but the job's Rank comes after it;
    # with equal pre-job ranks the job's Rank chooses
    mm = M.Matchmaker([slot(small), slot(big)], pre_job_rank="0")
    assert mm.match(job).slot_name == "slot2@vm"
    # the default pre-job rank: 10000000 * the slot's Rank comes first
    ranked = static(pslot, "slot3@vm", 1024, rank=1.0)
    mm = M.Matchmaker([slot(big), slot(ranked)])
    assert mm.match(job).slot_name == "slot3@vm"
    # a static slot is handed out once
    assert [s.name for s in mm.slots] == ["slot2@vm"]


def test_candidates_need_a_claim_id_and_an_unclaimed_slot(pslot):
    claimed = static(pslot, "slot1_1@vm", 128, State="Claimed", RemoteUser="u@d")
    no_claim = static(pslot, "slot2@vm", 128)
    private = [classad2.ClassAd({"Name": "slot1@vm", "Capability": "<a>#1#2#..."}),
               classad2.ClassAd({"Name": "slot1_1@vm", "ClaimId": "<a>#3#4#..."})]
    slots = M.candidate_slots([pslot, claimed, no_claim], private)
    assert [(s.name, s.claim_id) for s in slots] == [("slot1@vm", "<a>#1#2#...")]


def test_slot_weight_is_the_slots_expression(pslot):
    assert M.Matchmaker.slot_weight(pslot) == 2.0          # SlotWeight = Cpus
