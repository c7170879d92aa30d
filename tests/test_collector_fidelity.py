"""The collector as the real one behaves past the common queries: offline ads kept in
COLLECTOR_PERSISTENT_AD_LOG across a restart, absent ads, QUERY_MULTIPLE with per-type
constraints, private startd ads, COLLECTOR_REQUIREMENTS and bad or repeated updates."""
from __future__ import annotations

import asyncio
import time

import classad2

from condor_sim.cedar.classad_wire import put_ad
from condor_sim.cedar.commands import Cmd
from condor_sim.cedar.stream import MessageWriter
from condor_sim.daemons.collector import Collector
from condor_sim.jobqueue import classad_log as L
from support.clients import run_client
from support.daemons import DaemonProcess
from support.memory import converse, messages
from test_inprocess import build, query_replies, raw


def slot(name: str, **extra) -> dict:
    return {"MyType": "Machine", "Name": name, "Machine": "host1", "MyAddress": "<127.0.0.1:9618>",
            "State": "Unclaimed", "Activity": "Idle", "Arch": "X86_64", **extra}


def startd_update(ad: dict, private: dict | None = None) -> bytes:
    w = MessageWriter().put_int(Cmd.UPDATE_STARTD_AD)
    put_ad(w, ad)
    if private is not None:
        put_ad(w, private, include_private=True)
    return w.getvalue()


def ask(c, cmd: int, query: dict) -> list | None:
    """The ads a query gets back, or None when the collector closes without a reply."""
    out = asyncio.run(converse(c.core, messages(raw(cmd, {"MyType": "Query", **query}))))
    return query_replies(out) if out else None


def send(c, *payloads: bytes) -> None:
    assert asyncio.run(converse(c.core, messages(*payloads))) == b""


def offline_collector(path, **knobs):
    c = build(Collector, COLLECTOR_PERSISTENT_AD_LOG=str(path), **knobs)
    c.open_offline_store()
    return c


# ---------------------------------------------------------------------------- offline ads
def test_an_offline_ad_is_logged_survives_a_restart_and_its_invalidation_is_logged(tmp_path):
    path = tmp_path / "offline.log"
    c = offline_collector(path)
    assert f"off-line ad persistent store: '{path}'." in c.log.text()
    send(c, startd_update(slot("slot1@host1", Offline=True)), startd_update(slot("slot2@host1")))
    assert "Added ad to persistent store key=<slot1@host1>" in c.log.text()

    replay = L.replay(path.read_bytes())
    assert list(replay.ads) == ["<slot1@host1>"]             # the online ad is not kept
    stored = replay.ads["<slot1@host1>"]
    assert stored.mytype == "Machine" and stored.attrs["Offline"] == "true"
    lines = path.read_text().splitlines()
    assert lines[0].startswith("107 1 CreationTimestamp ")
    assert lines[1:3] == ["105 ", "101 <slot1@host1> Machine (empty)"]
    assert '103 <slot1@host1> MyType "Machine"' in lines and "103 <slot1@host1> Offline true" in lines
    assert lines[-1] == "106 "

    again = offline_collector(path)                          # a restart
    names = [a["Name"] for a in ask(again, Cmd.QUERY_STARTD_ADS, {"Requirements": True})]
    assert names == ["slot1@host1"]

    send(again, raw(Cmd.INVALIDATE_STARTD_ADS, {"MyType": "Query", "TargetType": "Machine",
                                                 "Name": "slot1@host1", "MyAddress": "<127.0.0.1:9618>"}))
    assert path.read_text().splitlines()[-1] == "102 <slot1@host1>"
    assert "Removed ad from persistent store key=<slot1@host1>" in again.log.text()
    assert L.replay(path.read_bytes()).ads == {}
    assert ask(offline_collector(path), Cmd.QUERY_STARTD_ADS, {"Requirements": True}) == []


def test_an_ad_no_longer_offline_leaves_the_store(tmp_path):
    path = tmp_path / "offline.log"
    c = offline_collector(path)
    send(c, startd_update(slot("slot1@host1", Offline=True)), startd_update(slot("slot1@host1", Offline=False)))
    assert path.read_text().splitlines()[-1] == "102 <slot1@host1>"
    assert len(ask(c, Cmd.QUERY_STARTD_ADS, {"Requirements": True})) == 1


# ---------------------------------------------------------------------------- absent ads
def expire(c, key: str) -> None:
    c.tables["Machine"][key]["LastHeardFrom"] = int(time.time()) - 10_000
    asyncio.run(c.housekeep())


def test_an_expired_ad_matching_absent_requirements_stays_absent(tmp_path):
    c = offline_collector(tmp_path / "offline.log", ABSENT_REQUIREMENTS='Arch == "X86_64"',
                          ABSENT_EXPIRE_ADS_AFTER="3600")
    send(c, startd_update(slot("slot1@host1")), startd_update(slot("slot2@host1", Arch="ARM")))
    before = int(time.time())
    for key in list(c.tables["Machine"]):
        expire(c, key)
    assert "ABSENT_REQUIREMENTS = Arch == \"X86_64\"" in c.log.text()
    # hidden from a query that does not ask about Absent
    assert ask(c, Cmd.QUERY_STARTD_ADS, {"Requirements": True}) == []
    (ad,) = ask(c, Cmd.QUERY_STARTD_ADS, {"Requirements": classad2.ExprTree("Absent =?= true")})   # the ARM slot is gone
    assert ad["Name"] == "slot1@host1" and ad["Absent"] is True
    assert ad["ClassAdLifetime"] == 3600 and ad["LastHeardFrom"] >= before
    assert "<slot1@host1>" in L.replay((tmp_path / "offline.log").read_bytes()).ads
    # expiring again, an absent ad is removed for good, from the store too
    expire(c, next(iter(c.tables["Machine"])))
    assert c.tables["Machine"] == {}
    assert L.replay((tmp_path / "offline.log").read_bytes()).ads == {}


def test_without_a_persistent_store_expired_ads_are_removed():
    c = build(Collector, ABSENT_REQUIREMENTS="true")
    send(c, startd_update(slot("slot1@host1")))
    expire(c, next(iter(c.tables["Machine"])))
    assert c.tables["Machine"] == {}


# ---------------------------------------------------------------------------- queries
def test_query_multiple_takes_per_type_constraints_projections_and_limits():
    c = build(Collector)
    send(c, startd_update(slot("slot1@host1")), startd_update(slot("slot2@host1", State="Claimed")),
         startd_update(slot("slot3@host1")),
         raw(Cmd.UPDATE_SCHEDD_AD, {"MyType": "Scheduler", "Name": "s1", "MyAddress": "<127.0.0.1:1>",
                                    "TotalIdleJobs": 3}))
    ads = ask(c, Cmd.QUERY_MULTIPLE_ADS, {
        "TargetType": "Machine,Scheduler", "Requirements": True,
        "MachineRequirements": classad2.ExprTree('State == "Unclaimed"'), "MachineLimitResults": 1,
        "SchedulerProjection": "Name TotalIdleJobs", "Projection": "Name State"})
    assert [dict(a) for a in ads] == [{"Name": "slot1@host1", "State": "Unclaimed"},
                                      {"Name": "s1", "TotalIdleJobs": 3}]


def test_private_startd_ads_go_only_to_private_queries():
    c = build(Collector)
    send(c, startd_update(slot("slot1@host1"), {"Capability": "secret#1", "ClaimId": "secret#1"}))
    (public,) = ask(c, Cmd.QUERY_STARTD_ADS, {"Requirements": True})
    assert "Capability" not in public
    assert all(a["MyType"] != "Machine" or "ClaimId" not in a
               for a in ask(c, Cmd.QUERY_ANY_ADS, {"Requirements": True}))
    (private,) = ask(c, Cmd.QUERY_STARTD_PVT_ADS, {"Requirements": True})
    assert private["Capability"] == "secret#1" and private["Name"] == "slot1@host1"
    assert private["MyType"] == "Machine"
    # asking for the private table without the private command is refused
    assert ask(c, Cmd.QUERY_MULTIPLE_ADS, {"TargetType": "MachinePrivate"}) is None
    assert "Query of STARTD_PVT_ADS not authorized." in c.log.text()
    send(c, raw(Cmd.INVALIDATE_STARTD_ADS, {"MyType": "Query", "Name": "slot1@host1",
                                            "MyAddress": "<127.0.0.1:9618>"}))
    assert ask(c, Cmd.QUERY_STARTD_PVT_ADS, {"Requirements": True}) == []
    # and a private ad goes when its public ad expires
    send(c, startd_update(slot("slot2@host1"), {"Capability": "secret#2"}))
    expire(c, next(iter(c.tables["Machine"])))
    assert ask(c, Cmd.QUERY_STARTD_PVT_ADS, {"Requirements": True}) == []


def test_private_queries_need_negotiator_level():
    c = build(Collector, ALLOW_NEGOTIATOR="nobody@nowhere")
    assert ask(c, Cmd.QUERY_STARTD_PVT_ADS, {"Requirements": True}) is None
    assert "PERMISSION DENIED" in c.log.text()
    assert "for command 10 (QUERY_STARTD_PVT_ADS), access level NEGOTIATOR" in c.log.text()


def test_collector_requirements_refuse_updates():
    c = build(Collector, COLLECTOR_REQUIREMENTS='Name != "bad"')
    send(c, startd_update(slot("bad")), startd_update(slot("good")),
         startd_update(slot("liar", StartdIpAddr="<10.0.0.9:9618>")))
    names = [a["Name"] for a in ask(c, Cmd.QUERY_STARTD_ADS, {"Requirements": True})]
    assert names == ["good"]
    text = c.log.text()
    assert "COLLECTOR_REQUIREMENTS VIOLATION: requirements do not match ad from <" in text
    assert ("advertises inconsistent IP addresses: StartdIpAddr=<10.0.0.9:9618>, "
            "MyAddress=<127.0.0.1:9618>") in text


# ---------------------------------------------------------------------------- bad input
def test_ads_without_a_name_or_a_type_are_refused_as_malformed():
    c = build(Collector)
    send(c, startd_update({"MyType": "Machine", "MyAddress": "<127.0.0.1:9618>"}),
         raw(Cmd.UPDATE_AD_GENERIC, {"Name": "untyped"}),
         startd_update({"Machine": "host2", "SlotID": 3, "MyAddress": "<127.0.0.1:9618>"}))
    text = c.log.text()
    assert "StartAd Error: Neither 'Name' nor 'Machine' found in ad" in text
    assert "Received malformed ad from command (0). Ignoring." in text
    assert "collect: UPDATE_AD_GENERIC: ad has no type" in text
    assert "Received malformed ad from command (58). Ignoring." in text
    # no Name and no MyType, but a Machine and SlotID: stored under host2:3, as real
    assert [a.get("Machine") for a in ask(c, Cmd.QUERY_STARTD_ADS, {"Requirements": True})] == ["host2"]
    assert 'StartdAd: Inserting ** "< host2:3127.0.0.1 >"' in text


def test_a_flood_from_one_peer_keeps_every_ad_once_with_its_last_values():
    c = build(Collector)
    updates = [startd_update(slot(f"slot{i % 50}@host1", Seq=i)) for i in range(500)]
    # an update naming the schedd's ad from this peer replaces it: one copy, the newest
    updates.append(raw(Cmd.UPDATE_SCHEDD_AD, {"MyType": "Scheduler", "Name": "s1",
                                              "MyAddress": "<127.0.0.1:1>", "Owner": "a"}))
    updates.append(raw(Cmd.UPDATE_SCHEDD_AD, {"MyType": "Scheduler", "Name": "s1",
                                              "MyAddress": "<127.0.0.1:1>", "Owner": "b"}))
    send(c, *updates)
    ads = ask(c, Cmd.QUERY_STARTD_ADS, {"Requirements": True})
    assert sorted((a["Name"], a["Seq"]) for a in ads) == sorted(
        (f"slot{i}@host1", 450 + i) for i in range(50))
    assert [a["Owner"] for a in ask(c, Cmd.QUERY_SCHEDD_ADS, {"Requirements": True})] == ["b"]


# ---------------------------------------------------------------------------- real client
ADVERTISE = """
import classad2, htcondor2
ad = classad2.ClassAd({{"MyType": "Machine", "Name": "slot1@offline", "Machine": "offline",
                        "MyAddress": "<127.0.0.1:9618>", "Offline": True, "State": "Unclaimed"}})
htcondor2.Collector({addr!r}).advertise([ad], "UPDATE_STARTD_AD")
return True
"""
QUERY_ANY = """
import htcondor2
return [dict(a) for a in htcondor2.Collector({addr!r}).query(
    htcondor2.AdType.Any, 'MyType == "Machine"', ["Name", "Offline"])]
"""


def test_an_offline_ad_survives_a_collector_restart_through_the_real_client(tmp_path):
    log = tmp_path / "spool" / "OfflineLog"
    d = DaemonProcess(tmp_path, "collector", overrides={"COLLECTOR_PERSISTENT_AD_LOG": str(log)}).start()
    try:
        r = run_client(ADVERTISE.format(addr=d.sinful), d.config)
        assert r["ok"], r
        d.wait_for_log("Added ad to persistent store key=<slot1@offline>", name="CollectorLog")
    finally:
        d.stop()
    d.address_file.unlink(missing_ok=True)
    d.start()
    try:
        r = run_client(QUERY_ANY.format(addr=d.sinful), d.config)
        assert r["ok"], r
        assert r["result"] == [{"Name": "slot1@offline", "Offline": True}]
    finally:
        d.stop()


REFUSED = """
import classad2, htcondor2
coll = htcondor2.Collector({addr!r})
for name in ("bad", "good"):
    coll.advertise([classad2.ClassAd({{"MyType": "Machine", "Name": name, "Machine": "m",
                                       "MyAddress": "<127.0.0.1:9618>"}})], "UPDATE_STARTD_AD")
return [a["Name"] for a in coll.query(htcondor2.AdType.Startd, projection=["Name"])]
"""


def test_collector_requirements_refuse_a_real_clients_update(tmp_path):
    d = DaemonProcess(tmp_path, "collector", overrides={
        "COLLECTOR_REQUIREMENTS": 'Name != "bad"', "COLLECTOR_DEBUG": "D_MACHINE"}).start()
    try:
        r = run_client(REFUSED.format(addr=d.sinful), d.config)
        assert r["ok"], r
        assert r["result"] == ["good"]
        d.wait_for_log("COLLECTOR_REQUIREMENTS VIOLATION: requirements do not match ad from <127.0.0.1:",
                       name="CollectorLog")
    finally:
        d.stop()


# ---------------------------------------------------------------------------- statistics
REAL_COLLECTOR_AD = __import__("pathlib").Path(__file__).resolve().parent.parent / "fixtures" / \
    "collector" / "collector-ad.Collector.txt"
COLLECTOR_STATS = """
import htcondor2, time
c = htcondor2.Collector()
deadline = time.time() + 20
while time.time() < deadline:
    [ad] = c.query(htcondor2.AdTypes.Collector)
    if "UpdatesTotal_Negotiator" in ad and "UpdatesTotal_Schedd" in ad:
        break
    time.sleep(0.2)
c.query(htcondor2.AdTypes.Startd)
[after] = c.query(htcondor2.AdTypes.Collector)
return [dict(ad), dict(after)]
"""


def test_the_collector_ad_carries_the_real_statistics(tmp_path):
    """The pool-wide update, query, ad and job counters of the real Collector ad, at the
    default STATISTICS_TO_PUBLISH, through the real client on a five-daemon pool."""
    from support.pools import FIVE_DAEMONS, client, running_pool
    real = next(iter(classad2.parseAds(REAL_COLLECTOR_AD.read_text())))
    with running_pool(tmp_path / "p", DAEMON_LIST=FIVE_DAEMONS) as pool:
        ad, after = client(pool, COLLECTOR_STATS)
    own = {"DaemonStartTime", "DaemonLastReconfigTime", "MyPid", "UpdateSequenceNumber"}
    missing = set(real.keys()) - set(ad)
    assert not missing, sorted(missing)
    extra = set(ad) - set(real.keys()) - own
    # the classes of ads that had not been updated when the real ad was captured
    assert all(n.split("_")[-1] in ("Master", "Slot", "StartD", "Submittor") for n in extra), sorted(extra)
    assert ad["UpdatesTotal"] >= ad["UpdatesTotal_Schedd"] + ad["UpdatesTotal_Negotiator"] >= 2
    assert ad["UpdatesInitial_Schedd"] == 1 and ad["UpdatesLost"] == 0 and ad["UpdatesLostRatio"] == 0.0
    assert ad["RecentUpdatesTotal"] == ad["UpdatesTotal"]                 # all within the window
    assert after["ForkQueriesFromTOOL"] > ad["ForkQueriesFromTOOL"] and ad["ForkQueriesFromNEGOTIATOR"] >= 0
    assert after["MachineAds"] == 1 and after["ActiveQueryWorkersPeak"] >= 1
    assert after["StatsLifetime"] >= 0 and after["CCBRequests"] == 0
