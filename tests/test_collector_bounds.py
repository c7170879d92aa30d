"""The collector's store is bounded: an update past the per-ad limits is refused and
logged, and a projected query prints only the projected attributes."""
from __future__ import annotations

import asyncio

import pytest

from support.clients import run_client
from support.daemons import DaemonProcess
from condor_sim.cedar.classad_wire import put_ad
from condor_sim.cedar.commands import Cmd
from condor_sim.cedar.stream import MessageWriter
from condor_sim.config import ConfigSnapshot
from condor_sim.daemons.collector import Collector, project
from support.memory import OPEN_POLICY, MemoryLog, converse, messages, replies

ADVERTISE = """
import classad2, htcondor2
ad = classad2.ClassAd({{"MyType": "Generic", "Name": {name!r}}})
for i in range({n}):
    ad[f"A{{i}}"] = i
try:
    htcondor2.Collector({addr!r}).advertise([ad], "UPDATE_AD_GENERIC")
except Exception as e:
    pass                    # the collector may hang up on us: that is the refusal
return True
"""
QUERY = """
import htcondor2
ads = htcondor2.Collector({addr!r}).query(htcondor2.AdTypes.Generic,
                                          projection={projection!r})
return sorted([sorted(a.keys()) for a in ads])
"""


@pytest.fixture(scope="module")
def collector(tmp_path_factory):
    d = DaemonProcess(tmp_path_factory.mktemp("bounds"), "collector", "log/.collector_address").start()
    yield d
    d.stop()


def test_an_update_of_a_hundred_thousand_attributes_is_refused(collector):
    pid = collector.pid
    for _ in range(3):
        assert run_client(ADVERTISE.format(addr=collector.sinful, name="huge", n=100_000),
                          collector.config)["ok"]
    assert run_client(ADVERTISE.format(addr=collector.sinful, name="small", n=3),
                      collector.config)["ok"]
    log = collector.log_text("CollectorLog")
    assert "Refusing UPDATE_AD_GENERIC from <127.0.0.1:" in log
    assert "(COLLECTOR_MAX_AD_ATTRIBUTES = 4000)" in log
    r = run_client(QUERY.format(addr=collector.sinful, projection=["Name"]), collector.config)
    assert r["ok"] and r["result"] == [["Name"]], r          # only the small ad is stored
    assert collector.alive() and collector.pid == pid


def test_a_projected_query_returns_the_projection(collector):
    assert run_client(ADVERTISE.format(addr=collector.sinful, name="p", n=50), collector.config)["ok"]
    r = run_client(QUERY.format(addr=collector.sinful, projection=["name", "a7", "Missing"]),
                   collector.config)
    assert r["ok"], r
    assert ["a7", "name"] in r["result"]          # spelled as the query spelled them (putClassAd)


def test_project_builds_the_whitelist_as_putclassad_does():
    """Each listed attribute the ad has, spelled as listed, plus what a listed expression
    refers to (putClassAd expands the whitelist); never the rest of the ad."""
    import classad2
    ad = classad2.ClassAd({"Name": "x", "SlotWeight": 2, "Big": "y" * 1000, "Cpus": 4,
                           "Rank": classad2.ExprTree("Cpus * SlotWeight")})
    out = project(ad, ["name", "RANK", "nothere"])
    assert sorted(out.keys()) == sorted(["name", "RANK", "Cpus", "SlotWeight"])
    assert out["SlotWeight"] == 2 and "Big" not in out


def test_the_byte_bound_in_process():
    async def go():
        c = Collector(ConfigSnapshot("COLLECTOR", {**OPEN_POLICY, "COLLECTOR_MAX_AD_BYTES": "2000"}),
                      MemoryLog())
        big = {"MyType": "Generic", "Name": "big", "Pad": "z" * 5000}
        update = put_ad(MessageWriter().put_int(Cmd.UPDATE_AD_GENERIC), big).getvalue()
        await converse(c.core, messages(update))
        query = put_ad(MessageWriter().put_int(Cmd.QUERY_GENERIC_ADS),
                       {"MyType": "Query", "TargetType": "Generic"}).getvalue()
        return c, replies(await converse(c.core, messages(query)))

    c, (reply,) = asyncio.run(go())
    assert reply == bytes(8)                 # [int 0]: nothing stored
    assert "(COLLECTOR_MAX_AD_BYTES = 2000)" in c.log.text()
