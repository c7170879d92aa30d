"""Simulated slots (``condor-sim up --simulate-slots N``, ``CONDOR_SIM_SIMULATED_SLOTS``):
the real client sees N Machine ads with the real startd's attribute names, their claims
change between two queries, ``condor_status -total`` counts them, and they go with the
daemon that advertises them."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import classad2
import pytest

from condor_sim.cedar.classad_wire import put_ad
from condor_sim.cedar.stream import MessageWriter
from condor_sim.cli import _parser
from condor_sim.config import ConfigSnapshot
from condor_sim.daemons.simslots.sim import Settings, SimPool
from condor_sim.daemons.simslots.wire import put_dict_ad
from condor_sim.daemons.startd import slots as S
from condor_sim.poolconfig import create_pool_dir

from support.pools import FAST, assert_nothing_left, client, run_cli, send

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "startd"
N = 240


# ---------------------------------------------------------------------------- sans-IO
def _pool(count: int, seed: int = 7) -> SimPool:
    cfg = ConfigSnapshot("SIMSLOTS", {"EXECUTE": "/nonexistent"})
    facts = S.host_facts(cfg, "host.example", now=1_700_000_000)
    return SimPool(cfg, Settings(count=count, seed=seed, domain="pool.example"),
                   now=1_700_000_000, sinful="<127.0.0.1:9618?addrs=127.0.0.1-9618>", facts=facts)


def _state(pool: SimPool) -> dict:
    return {s.name: (s.state, s.activity, s.job_id, s.remote_user, s.cpus)
            for m in pool.machines for s in m.slots()}


def test_a_seed_gives_the_same_pool_of_exactly_n_slots():
    a, b = _pool(500), _pool(500)
    assert a.slot_count() == 500 and _state(a) == _state(b)
    assert _state(_pool(500, seed=8)) != _state(a)
    names = [m.fqdn for m in a.machines]
    assert names[0] == "sim-0001.pool.example" and len(set(names)) == len(names)
    assert len({m.total.cpus for m in a.machines}) > 2        # varied machine sizes
    kinds = {(s.state, s.activity) for m in a.machines for s in m.slots()}
    assert {("Unclaimed", "Idle"), ("Claimed", "Busy"), ("Claimed", "Idle")} <= kinds


def test_churn_changes_claims_and_keeps_the_count():
    pool = _pool(400)
    before = _state(pool)
    changed, gone = pool.churn(200, now=1_700_000_060)
    after = _state(pool)
    assert pool.slot_count() == 400 and changed
    assert sum(1 for k in before if k in after and before[k] != after[k]) > 20
    for _, name in gone:                     # what went away is not advertised any more
        assert name not in after
    assert set(after) - set(before)          # slots came ...
    assert set(before) - set(after)          # ... and went


def _names(fixture: str) -> set[str]:
    return set(classad2.parseOne((FIXTURES / fixture).read_text()).keys())


def test_each_machine_sends_the_real_startds_ads():
    """With the daemon attributes of a real startd, a simulated machine's StartD ad and
    its slot ads have exactly the attributes of what the real 25.14 startd sent."""
    pool = _pool(200)
    real = classad2.parseOne((FIXTURES / "startd.ad").read_text())
    daemon_attrs = {k: real.eval(k) for k in real.keys()}
    i = next(i for i, m in enumerate(pool.machines) if any(s.activity == "Busy" for s in m.dslots.values()))
    m = pool.machines[i]
    startd, pairs = pool.machine_ads(i, 1_700_000_010, daemon_attrs)
    assert startd["MyType"] == "StartD" and startd["Name"] == m.fqdn
    assert set(startd) == _names("startd.ad")
    assert [p["Name"] for p, _ in pairs] == [s.name for s in m.slots()]
    assert all(priv["Name"] == pub["Name"] and "ClaimId" in priv for pub, priv in pairs)
    assert set(pairs[0][0]) == _names("pslot-with-dslot.update.ad")
    busy = next(p for p, _ in pairs if p.get("Activity") == "Busy")
    assert set(busy) == _names("dslot-busy.update.ad")


def test_the_fast_wire_lines_are_put_ads_lines():
    pool = _pool(60)
    for i in range(len(pool.machines)):
        startd, pairs = pool.machine_ads(i, 1_700_000_010, {"MyAddress": pool.sinful})
        for ad in [startd] + [a for pair in pairs for a in pair]:
            for encrypted in (True, False):
                assert put_dict_ad(MessageWriter(encrypted), ad).getvalue() == \
                    put_ad(MessageWriter(encrypted), ad).getvalue()


def test_the_option_and_the_knob_put_the_daemon_in_the_daemon_list(tmp_path):
    args = _parser().parse_args(["up", "--simulate-slots", "10"])
    assert args.simulate_slots == 10
    with pytest.raises(SystemExit):
        _parser().parse_args(["up", "--simulate-slots", "-1"])
    create_pool_dir(tmp_path, "secure", {"DAEMON_LIST": "MASTER COLLECTOR", "CONDOR_SIM_SIMULATED_SLOTS": "5"})
    text = (tmp_path / "config.d" / "00-condor-sim-overrides").read_text()
    assert text.splitlines()[-1] == "DAEMON_LIST = $(DAEMON_LIST) SIMSLOTS"
    assert os.access(tmp_path / "sbin" / "condor_simslots", os.X_OK)
    create_pool_dir(tmp_path, "secure", {"CONDOR_SIM_SIMULATED_SLOTS": "0"})
    assert "SIMSLOTS" not in (tmp_path / "config.d" / "00-condor-sim-overrides").read_text()


# ---------------------------------------------------------------------------- a pool
SLOTS = """
import htcondor2
ads = htcondor2.Collector().query(htcondor2.AdTypes.Startd)
return [{k: (v if isinstance(v, (str, int, float, bool)) else str(v)) for k, v in ad.items()} for ad in ads]
"""
DAEMON_ADS = """
import htcondor2
return [ad["Name"] for ad in htcondor2.Collector().query(htcondor2.AdTypes.StartDaemon)]
"""


@pytest.fixture(scope="module")
def sim_pool(tmp_path_factory):
    """A pool started with ``condor-sim up --simulate-slots N`` (no real startd)."""
    d = tmp_path_factory.mktemp("simslots") / "p"
    knobs = [f"{k}={v}" for k, v in FAST.items()] + ["CONDOR_SIM_SIMULATED_SLOTS_CHURN=0.5",
                                                     "CONDOR_SIM_SIMULATED_SLOTS_DOMAIN=pool.example"]
    args = ["up", "--dir", str(d), "--simulate-slots", str(N)]
    for k in knobs:
        args += ["--config", k]
    r = run_cli(*args)
    assert r.returncode == 0, r.stderr
    from condor_sim.pool import Pool
    pool = Pool(d)
    try:
        yield pool
    finally:
        if pool.is_running():
            run_cli("down", "--dir", str(d))
        assert_nothing_left(pool)


def slots(pool, want=N, timeout: float = 20) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        ads = client(pool, SLOTS)
        if len(ads) == want or time.monotonic() > deadline:
            return ads
        time.sleep(0.1)


def test_the_client_sees_n_slots_with_the_real_attribute_names(sim_pool):
    ads = slots(sim_pool)
    assert len(ads) == N
    assert len({a["Name"] for a in ads}) == N
    # what the real client got from a real pool's partitionable slot (with the
    # collector's own per-ad update counters, UpdatesTotal and the others)
    real = _names("pslot-idle.ad")
    pslots = [a for a in ads if a.get("PartitionableSlot")]
    dslots = [a for a in ads if a.get("DynamicSlot")]
    assert pslots and dslots and len(pslots) + len(dslots) == N
    assert set(pslots[0]) == real
    busy = [a for a in dslots if a["State"] == "Claimed" and a["Activity"] == "Busy"]
    assert busy and all(a["RemoteUser"].endswith("@pool.example") and a["JobId"] for a in busy)
    machines = {a["Machine"] for a in ads}
    assert "sim-0001.pool.example" in machines
    assert set(client(sim_pool, DAEMON_ADS)) == machines      # each machine's StartD ad


def test_churn_is_visible_across_two_queries(sim_pool):
    def view():
        return {a["Name"]: (a["State"], a["Activity"], a.get("JobId"), a.get("RemoteUser"))
                for a in slots(sim_pool)}
    first = view()
    deadline = time.monotonic() + 20
    while True:
        second = view()
        if second != first or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert second != first


def test_condor_status_total_counts_them(sim_pool):
    env = dict(os.environ, CONDOR_CONFIG=str(sim_pool.config_file))
    deadline = time.monotonic() + 20
    while True:          # a claim moving between machines can be half-sent at one instant
        r = subprocess.run([sys.executable, "-m", "condor_sim.tools.condor_status", "-total"],
                           env=env, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        lines = [line.split() for line in r.stdout.splitlines() if line.strip()]
        total = lines[-1]
        if total[1] == str(N) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert lines[0] == ["Total", "Owner", "Claimed", "Unclaimed", "Matched", "Preempting", "Drain",
                        "Backfill", "BkIdle"]
    assert lines[1][0] == "X86_64/LINUX" and lines[1][1:] == total[1:]
    assert total[0] == "Total" and int(total[1]) == N
    assert int(total[3]) > 0 and int(total[4]) > 0         # Claimed and Unclaimed
    assert int(total[3]) + int(total[4]) == N


def test_a_reconfig_with_another_count_replaces_the_machines(sim_pool):
    slots(sim_pool)
    extra = sim_pool.directory / "config.d" / "50-fewer-slots"
    extra.write_text("CONDOR_SIM_SIMULATED_SLOTS = 60\n")
    try:
        send(sim_pool, "Reconfig")
        ads = slots(sim_pool, want=60)
        assert len(ads) == 60 and {a["Machine"] for a in ads} >= {"sim-0001.pool.example"}
    finally:
        extra.unlink()


def test_the_slots_go_with_their_daemon_and_the_pool(sim_pool):
    slots(sim_pool)
    send(sim_pool, "DaemonOff", "SIMSLOTS")
    assert slots(sim_pool, want=0) == []
    r = run_cli("down", "--dir", str(sim_pool.directory))
    assert r.returncode == 0, r.stderr
    assert_nothing_left(sim_pool)
    status = json.loads(run_cli("status", "--dir", str(sim_pool.directory), "--json").stdout or "{}")
    assert not status.get("running", False)
