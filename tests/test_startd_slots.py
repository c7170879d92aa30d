"""The startd's slots and ads (condor_sim/daemons/startd/slots.py) against a real 25.14
startd: its collector ads (fixtures/startd) and the job ad it ran."""
from __future__ import annotations

import re
from pathlib import Path

import classad2
import pytest

from condor_sim.config import ConfigSnapshot
from condor_sim.daemons.startd.slots import (
    Detected, Machine, Resources, cpu_facts, machine_resources, opsys_facts)

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "startd"
SINFUL = "<127.0.0.1:29706?addrs=127.0.0.1-29706&alias=vm>"
BDAY = 1795473532

# Put in by the collector when it stores an ad, not by the startd.
COLLECTOR_ADDED = {"AuthenticatedIdentity", "AuthenticationMethod", "LastHeardFrom",
                   "UpdatesHistory", "UpdatesLost", "UpdatesSequenced", "UpdatesTotal"}
# Captured attributes the simulation cannot give: none (kept to name any that come).
NOT_SIMULATED: set = set()
# What the daemon's own ad (base.Daemon.ad) gives every ad it sends.
DAEMON_KEYS = ("Name", "Machine", "MyAddress", "AddressV1", "CondorVersion", "CondorPlatform",
               "MyCurrentTime", "DaemonStartTime", "DaemonLastReconfigTime", "MonitorSelfTime",
               "MyPid", "UpdateSequenceNumber", "StartdIpAddr", "MonitorSelfImageSize",
               "MonitorSelfResidentSetSize", "MonitorSelfCPUUsage", "MonitorSelfAge",
               "MonitorSelfRegisteredSocketCount", "MonitorSelfSecuritySessions",
               "DaemonCoreDutyCycle", "RecentDaemonCoreDutyCycle", "DetectedCpus",
               "DetectedMemory", "PrivateNetworkName", "COLLECTOR_HOST_STRING")
FACT_KEYS = ("Arch", "OpSys", "OpSysLegacy", "OpSysShortName", "OpSysName", "OpSysLongName",
             "OpSysMajorVer", "OpSysVer", "OpSysAndVer", "UtsnameSysname", "UtsnameNodename",
             "UtsnameRelease", "UtsnameVersion", "UtsnameMachine", "CpuCacheSize", "CpuFamily",
             "CpuModelNumber", "has_avx", "has_avx2", "has_sse4_1", "has_sse4_2", "has_ssse3",
             "Microarch", "ExecuteVolume", "TotalVirtualMemory", "FileSystemDomain",
             "UidDomain", "LoadAvg")


def _ad(name: str) -> classad2.ClassAd:
    return classad2.parseOne((FIX / f"{name}.ad").read_text())


def _jobs() -> list[classad2.ClassAd]:
    return list(classad2.parseAds((FIX.parent / "job_queue" / "condor_q-long-after-submit.txt").read_text()))


PSLOT = _ad("pslot-idle")


def _machine(config: dict | None = None) -> Machine:
    """A Machine with the real pool's host: its facts and sizes taken from the capture."""
    facts = {k: PSLOT.eval(k) for k in FACT_KEYS}
    facts["BootTime"] = BDAY - 1200
    cfg = ConfigSnapshot("STARTD", {"EXECUTE": "/nonexistent/execute", **(config or {})})
    return Machine(cfg, "vm", Resources(2, 24105, 81054508), now=BDAY, sinful=SINFUL,
                   facts=facts, detected_resources=Detected(2, 24105, 264212084))


def _daemon_attrs(capture: classad2.ClassAd, name: str = "vm") -> dict:
    d = {k: capture.eval(k) for k in DAEMON_KEYS if k in capture}
    d["Name"] = name
    d["MyPid"] = 4242
    return d


def _names(ad) -> set[str]:
    return {k.lower() for k in ad.keys()}


def _compare_names(ours: dict, capture: classad2.ClassAd, allowed_extra: set[str] = frozenset()):
    want = _names(capture) - {k.lower() for k in COLLECTOR_ADDED | NOT_SIMULATED}
    have = _names(ours)
    assert sorted(want - have) == []
    assert sorted(have - want) == sorted(k.lower() for k in allowed_extra)


# ------------------------------------------------------------------ resources
def test_machine_resources_from_knobs():
    cfg = ConfigSnapshot("STARTD", {"NUM_CPUS": "4", "MEMORY": "2048",
                                    "DISK": "10 * 1024 * 1024", "EXECUTE": "/tmp"})
    assert machine_resources(cfg) == Resources(cpus=4, memory=2048, disk=10 * 1024 * 1024)


def test_machine_resources_detected_less_reserved(tmp_path):
    import os
    import psutil
    plain = machine_resources(ConfigSnapshot("STARTD", {"EXECUTE": str(tmp_path)}))
    assert plain.cpus == psutil.cpu_count(logical=True)
    assert plain.memory == psutil.virtual_memory().total // (1024 * 1024)
    st = os.statvfs(tmp_path)
    free_kb = st.f_bavail * st.f_frsize // 1024
    assert abs(plain.disk - free_kb) < 1024 * 1024      # free space moves a little meanwhile
    reserved = machine_resources(ConfigSnapshot("STARTD", {
        "EXECUTE": str(tmp_path), "RESERVED_MEMORY": "100", "DISK": "5000"}))
    assert reserved.memory == plain.memory - 100 and reserved.disk == 5000


def test_opsys_and_cpu_facts_as_sysapi_derives_them():
    facts = opsys_facts("Linux", "Debian GNU/Linux 12")
    for k, v in facts.items():
        assert PSLOT[k] == v, k
    cpu = cpu_facts("x86_64", {"cache size": "512 KB", "cpu family": "25", "model": "1",
                               "flags": "fpu sse4_1 sse4_2 ssse3 avx avx2 bmi1 bmi2 f16c fma "
                                        "abm movbe xsave cx16 lahf_lm popcnt"})
    for k, v in cpu.items():
        assert PSLOT[k] == v, k


def test_host_facts_of_this_host_give_every_machine_attribute(tmp_path):
    cfg = ConfigSnapshot("STARTD", {"EXECUTE": str(tmp_path)})
    m = Machine(cfg, "vm", machine_resources(cfg), now=BDAY, sinful=SINFUL)
    ad = m.public_ads(BDAY + 50, _daemon_attrs(PSLOT))[0]
    if ad["Arch"] == "X86_64":
        _compare_names(ad, PSLOT)
    assert m.detected.disk >= m.total.disk > 0 and m.detected.cpus >= 1
    assert ad["OpSysAndVer"] == f'{ad["OpSysName"]}{ad["OpSysMajorVer"]}'


# ------------------------------------------------------------------ carving
def test_quantize_the_real_job_as_the_real_dslot():
    m = _machine()
    dslot = _ad("dslot-busy.update")
    assert m.quantize(_jobs()[0]) == {"Cpus": dslot["Cpus"], "Memory": dslot["Memory"],
                                      "Disk": dslot["Disk"]} == {"Cpus": 1, "Memory": 128, "Disk": 1024}
    assert m.quantize({"RequestCpus": 2, "RequestMemory": 129, "RequestDisk": 1025}) == \
        {"Cpus": 2, "Memory": 256, "Disk": 2048}
    assert m.quantize({"Cpus": 1, "Memory": 16, "Disk": 10}) == {"Cpus": 1, "Memory": 128, "Disk": 1024}
    m2 = _machine({"MODIFY_REQUEST_EXPR_REQUESTMEMORY": "quantize(RequestMemory,{512})"})
    assert m2.quantize(_jobs()[0])["Memory"] == 512


def test_carve_activate_release_bookkeeping():
    m = _machine()
    job = _jobs()[0]
    pslot_claim = m.pslot.claim_id
    s = m.carve(job, now=BDAY + 45, claim_id=pslot_claim, remote_user="htcpool@vm",
                client_machine="127.0.0.1", job_id="1.0", job_ad=job, remote_schedd="vm")
    assert s.name == "slot1_1@vm" and (s.state, s.activity) == ("Claimed", "Idle")
    assert s.claim_id == pslot_claim and m.pslot.claim_id != pslot_claim
    with_child = _ad("pslot-with-dslot.update")
    assert (m.pslot.cpus, m.pslot.memory, m.pslot.disk) == \
        (with_child["Cpus"], with_child["Memory"], with_child["Disk"])
    m.activate(s.name, now=BDAY + 46, job_id="1.0", starter_pid=7040)
    assert (s.state, s.activity, s.entered_state, s.entered_activity) == \
        ("Claimed", "Busy", BDAY + 45, BDAY + 46)
    s2 = m.carve({"RequestCpus": 1, "RequestMemory": 16, "RequestDisk": 1}, now=BDAY + 50,
                 claim_id=m.pslot.claim_id, remote_user="u@vm", client_machine="127.0.0.1",
                 job_id="2.0")
    assert s2.name == "slot1_2@vm" and m.pslot.cpus == 0
    assert not m.fits({"RequestCpus": 1, "RequestMemory": 1, "RequestDisk": 1})
    assert m.carve({"RequestCpus": 1}, now=BDAY + 51, claim_id="x", remote_user="u",
                   client_machine="h", job_id="3.0") is None
    m.deactivate(s.name, now=BDAY + 60)
    assert (s.state, s.activity) == ("Claimed", "Idle")
    m.release(s.name, now=BDAY + 61)
    assert list(m.dslots) == ["slot1_2@vm"] and m.pslot.cpus == 1
    s3 = m.carve({"RequestCpus": 1}, now=BDAY + 62, claim_id=m.pslot.claim_id,
                 remote_user="u@vm", client_machine="127.0.0.1", job_id="4.0")
    assert s3.name == "slot1_1@vm"          # the lowest free number again
    m.release(s2.name, now=BDAY + 63)
    m.release(s3.name, now=BDAY + 63)
    assert (m.pslot.cpus, m.pslot.memory, m.pslot.disk) == (2, 24105, 81054508)


def test_too_big_a_request_does_not_fit():
    m = _machine()
    assert m.fits(_jobs()[0])
    assert not m.fits({"RequestCpus": 1, "RequestMemory": 24106, "RequestDisk": 1})
    assert not m.fits({"RequestCpus": 3, "RequestMemory": 1, "RequestDisk": 1})


def test_claim_id_format():
    m = _machine()
    assert re.fullmatch(re.escape(SINFUL) + rf"#{BDAY}#1#[0-9a-f]{{64}}", m.pslot.claim_id)
    # what the real dslot advertised for the claim the negotiator handed out first
    assert Machine.public_claim_id(m.pslot.claim_id) == _ad("dslot-busy.update")["PublicClaimId"]
    assert m.new_claim_id().split("#")[2] == "2"


# ------------------------------------------------------------------ ads
def test_idle_pslot_ad_has_the_real_attributes_and_values():
    m = _machine()
    ad = m.public_ads(BDAY + 50, _daemon_attrs(PSLOT, "vm"))[0]
    _compare_names(ad, PSLOT)
    for k in ("Name", "MyType", "TargetType", "SlotType", "SlotID", "SlotTypeID", "Cpus",
              "Memory", "Disk", "GPUs", "TotalCpus", "TotalMemory", "TotalDisk", "TotalSlots",
              "TotalSlotCpus", "TotalSlotMemory", "TotalSlotDisk", "DetectedDisk",
              "State", "Activity", "EnteredCurrentState", "EnteredCurrentActivity",
              "PartitionableSlot", "NumDynamicSlots", "MachineResources", "StarterAbilityList",
              "HasCommonFilesTransfer", "HasVM", "HasSshd", "MappingMethod", "CondorScratchDir",
              "VirtualMemory", "StartdIpAddr", "ExpectedMachineGracefulDrainingCompletion",
              "SubnetMask", "HardwareAddress", "TimeToLive"):
        assert classad2.ClassAd({k: ad[k]})[k] == PSLOT[k], k
        assert type(classad2.ClassAd({k: ad[k]})[k]) is type(PSLOT[k]), k
    for k in ("Requirements", "WithinResourceLimits", "SlotWeight", "Unhibernate",
              "MachineMaxVacateTime", "ChildName", "ChildCpus"):
        assert str(ad[k]) == str(PSLOT.lookup(k)), k
    assert ad["Start"].eval() is True
    # the real startd reads the clock a moment after MyCurrentTime
    assert PSLOT["TotalTimeUnclaimedIdle"] - 1 <= ad["TotalTimeUnclaimedIdle"] <= PSLOT["TotalTimeUnclaimedIdle"]


def test_ads_while_a_job_runs_match_the_real_update():
    m = _machine()
    job = _jobs()[1]
    s = m.carve(job, now=BDAY + 45, claim_id=m.pslot.claim_id, remote_user="htcpool@vm",
                client_machine="127.0.0.1", job_id="1.1", job_ad=job, remote_schedd="vm")
    m.activate(s.name, now=BDAY + 45, job_id="1.1", starter_pid=7040)
    pub = _ad("pslot-with-dslot.update")
    ads = m.public_ads(BDAY + 46, _daemon_attrs(pub, "vm"))
    assert [a["Name"] for a in ads] == ["slot1@vm", "slot1_1@vm"]
    _compare_names(ads[0], pub)
    for k in ("ChildName", "ChildCpus", "ChildMemory", "ChildDisk", "ChildState", "ChildActivity",
              "ChildRemoteUser", "ChildRemoteOwner", "ChildDSlotId", "ChildCurrentRank",
              "ChildAccountingGroup", "ChildGPUs", "ChildRetirementTimeRemaining"):
        assert str(ads[0][k]) == str(pub.lookup(k)), k
    for k in ("Cpus", "Memory", "Disk", "TotalSlots", "NumDynamicSlots", "JobStarts",
              "ClaimRequests", "ActivationRequests"):
        assert ads[0][k] == pub[k], k
    dslot = _ad("dslot-busy.update")
    # StarterPid/JobStart/CpusUsage are in the real update while the job runs; the real
    # ad also has them, so the only differences are the collector's own attributes.
    _compare_names(ads[1], dslot)
    for k in ("Name", "SlotType", "DynamicSlot", "DSlotId", "ParentSlotId", "IsSplittable",
              "State", "Activity", "Cpus", "Memory", "Disk", "TotalSlotCpus", "TotalSlotMemory",
              "TotalSlotDisk", "TotalSlots", "RemoteUser", "RemoteOwner", "ClientMachine",
              "JobId", "GlobalJobId", "JobUniverse", "DiskUsage", "ExecutableSize",
              "RemoteScheddName", "RemoteNegotiatingGroup", "RemoteAutoregroup", "StarterPid",
              "PublicClaimId", "VirtualMemory", "TotalJobRunTime", "TotalClaimRunTime",
              "TotalTimeClaimedBusy", "JobStart", "EnteredCurrentState"):
        want = dslot[k]
        if k in ("JobId", "GlobalJobId"):       # the real update was for another job
            want = {"JobId": "1.1", "GlobalJobId": job["GlobalJobId"]}[k]
        if k in ("JobStart", "EnteredCurrentState"):
            want = BDAY + 45
        assert ads[1][k] == want, k


def test_private_ads_carry_the_claim_ids():
    m = _machine()
    first = m.pslot.claim_id
    s = m.carve(_jobs()[0], now=BDAY + 1, claim_id=first, remote_user="htcpool@vm",
                client_machine="127.0.0.1", job_id="1.0")
    da = _daemon_attrs(PSLOT)
    m.public_ads(BDAY + 2, da)
    p, d = m.private_ads(BDAY + 2, da)
    assert (p["MyType"], p["Name"], p["MyAddress"]) == ("Machine", "slot1@vm", SINFUL)
    assert p["ClaimId"] == p["Capability"] == m.pslot.claim_id
    assert list(classad2.ClassAd(p)["ChildClaimIds"]) == [first] and p["NumDynamicSlots"] == 1
    assert (d["Name"], d["ClaimId"]) == (s.name, first)
    assert p["UpdateSequenceNumber"] == d["UpdateSequenceNumber"] == 1
    assert p["DaemonStartTime"] == BDAY


def test_startd_ad_has_the_real_attributes():
    real = _ad("startd")
    m = _machine()
    ad = m.startd_ad(BDAY + 50, _daemon_attrs(real, "vm"))
    _compare_names(ad, real)
    for k in ("MyType", "Name", "TotalCpus", "TotalMemory", "TotalDisk", "TotalSlots",
              "TotalInUseCpus", "TotalInUseMemory", "DetectedDisk", "MachineResources"):
        assert ad[k] == real[k], k
    assert list(classad2.ClassAd(ad)["ExecuteVolumes"]) == list(real["ExecuteVolumes"]) == ["65024"]


# ------------------------------------------------------------------ matching
def test_pslot_ad_matches_the_real_job_and_not_a_too_big_one():
    m = _machine()
    slot = classad2.ClassAd(m.public_ads(BDAY + 50, _daemon_attrs(PSLOT))[0])
    job = _jobs()[0]
    assert slot.symmetricMatch(job) and job.symmetricMatch(slot)
    big = _jobs()[0]
    big["RequestMemory"] = 24106
    assert not slot.matches(big) and not big.matches(slot)
    assert not slot.symmetricMatch(big)


def test_start_knob_controls_matching():
    m = _machine({"START": "false"})
    slot = classad2.ClassAd(m.public_ads(BDAY, _daemon_attrs(PSLOT))[0])
    assert not _jobs()[0].matches(slot)


@pytest.mark.parametrize("knob,attr,value", [("RANK", "Rank", "TARGET.RequestCpus"),
                                              ("SLOT_WEIGHT", "SlotWeight", "Memory")])
def test_knob_expressions_published(knob, attr, value):
    m = _machine({knob: value})
    assert str(m.public_ads(BDAY, _daemon_attrs(PSLOT))[0][attr]) == value
