"""The negotiator's commands through the unmodified ``htcondor2.Negotiator``, and its ads in
the collector under the real ones' attribute names; RESCHEDULE's effect on the cycle timer
in-process."""
from __future__ import annotations

import asyncio
from pathlib import Path

from condor_sim.config import ConfigSnapshot
from condor_sim.daemons.negotiator import daemon as D
from support.memory import OPEN_POLICY, MemoryLog
from support.pools import client, running_pool

CLASSADS = Path(__file__).resolve().parent.parent / "fixtures" / "negotiator"
NEGOTIATOR = dict(DAEMON_LIST="MASTER COLLECTOR SCHEDD NEGOTIATOR", NEGOTIATOR_INTERVAL="1",
                  NEGOTIATOR_MIN_INTERVAL="0", NEGOTIATOR_CYCLE_DELAY="0")

DRIVE = """
import htcondor2
n = htcondor2.Negotiator()
u = "bob@example.org"
n.setFactor(u, 20.0)
n.setPriority(u, 3.0)
n.setUsage(u, 7200.0)
n.setBeginUsage(u, 1000)
n.setLastUsage(u, 2000)
def prios(rollup=False):
    return {a["Name"]: dict(a) for a in n.getPriorities(rollup)}
out = {"set": prios(), "rollup": prios(True), "res": [dict(a) for a in n.getResourceUsage(u)]}
return out
"""
AFTER = """
import htcondor2
n = htcondor2.Negotiator()
u = "bob@example.org"
def prios(rollup=False):
    return {a["Name"]: dict(a) for a in n.getPriorities(rollup)}
out = {}
n.resetUsage(u)
out["reset"] = prios()[u]
n.setUsage(u, 5.0)
n.resetAllUsage()
out["resetall"] = prios()[u]
n.deleteUser(u)
out["deleted"] = sorted(prios())
return out
"""

ADS = """
import htcondor2, time
c = htcondor2.Collector()
deadline = time.time() + 20
while True:
    neg = c.query(htcondor2.AdTypes.Negotiator)
    acct = c.query(htcondor2.AdTypes.Accounting)
    if (neg and len(acct) >= 2) or time.time() > deadline:
        break
    time.sleep(0.2)
return [sorted(neg[0].keys()) if neg else [], sorted(sorted(a.keys()) for a in acct)]
"""


def captured_names(name: str) -> list[list[str]]:
    text = (CLASSADS / name).read_text()
    return [sorted(line.split(" = ", 1)[0] for line in chunk.splitlines() if " = " in line)
            for chunk in text.split("\n\n") if chunk.strip()]


def test_the_client_librarys_negotiator_methods(tmp_path):
    with running_pool(tmp_path / "p", **NEGOTIATOR) as pool:
        r = client(pool, DRIVE)
        neg_names, acct_names = client(pool, ADS)
        r.update(client(pool, AFTER))
    bob = r["set"]["bob@example.org"]
    # a double crosses CEDAR as a 31-bit fraction and an exponent: 20.0 comes back 19.99999999...
    assert round(bob["PriorityFactor"], 6) == 20.0 and round(bob["Priority"], 5) == 60.0
    assert round(bob["WeightedAccumulatedUsage"]) == 7200
    assert (bob["BeginUsageTime"], bob["LastUsageTime"], bob["Ceiling"], bob["Floor"]) == (1000, 2000, -1, 0)
    assert bob["IsAccountingGroup"] is False and bob["AccountingGroup"] == "<none>"
    none = r["set"]["<none>"]
    assert none["IsAccountingGroup"] is True and none["SurplusPolicy"] == "byquota"
    assert set(r["rollup"]) == set(r["set"])
    assert r["res"] == []
    assert r["reset"]["WeightedAccumulatedUsage"] == 0.0 and r["reset"]["BeginUsageTime"] > 2000
    assert r["resetall"]["WeightedAccumulatedUsage"] == 0.0
    assert r["deleted"] == ["<none>"]
    # the Negotiator ad and the Accounting ads carry the real ones' attributes
    (real_neg,) = captured_names("collector-ad.Negotiator.txt")
    missing = set(real_neg) - set(neg_names) - {"PrivateNetworkName", "UpdatesHistory", "UpdatesLost",
                                               "UpdatesSequenced", "UpdatesTotal"}
    assert not missing
    assert sorted(acct_names) == sorted(a for a in captured_names("collector-ad.Accounting.txt"))


def test_reschedule_starts_one_more_cycle_soon():
    async def go():
        n = D.Negotiator(ConfigSnapshot("NEGOTIATOR", {**OPEN_POLICY, "NEGOTIATOR_INTERVAL": "3600",
                                                       "NEGOTIATOR_MIN_INTERVAL": "0",
                                                       "NEGOTIATOR_CYCLE_DELAY": "0"}), MemoryLog())
        started = []
        release = asyncio.Event()

        async def cycle():
            started.append(len(started))
            n.cycles += 1
            if len(started) == 1:
                await release.wait()          # the first cycle is in progress ...

        n.negotiation_cycle = cycle
        task = asyncio.ensure_future(n.cycle_loop())
        while not started:
            await asyncio.sleep(0.01)
        await n.reschedule(None)              # ... two requests during it: one more cycle
        await n.reschedule(None)
        release.set()
        while len(started) < 2:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        task.cancel()
        return started

    assert asyncio.run(go()) == [0, 1]
