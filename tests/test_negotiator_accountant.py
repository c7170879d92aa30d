"""The accountant without a process, against the real negotiator's Accountantnew.log: the
records it replays, the records it writes for an update (priority decay, usage), and its
reports."""
from __future__ import annotations

from pathlib import Path

import classad2
import pytest

from condor_sim.daemons.negotiator.accountant import Accountant, AccountantStore
from condor_sim.jobqueue import classad_log as L

REAL = Path(__file__).resolve().parent.parent / "fixtures" / "negotiator" / "Accountantnew.log"
LINES = REAL.read_text().splitlines(keepends=True)


def upto(marker: str) -> str:
    """The real log up to (and without) the first line that starts with ``marker``."""
    i = next(n for n, line in enumerate(LINES) if line.startswith(marker))
    return "".join(LINES[:i])


def loaded(text: str) -> Accountant:
    a = Accountant()
    a.load(L.replay(text.encode()))
    return a


def test_the_real_log_replays_to_its_records():
    a = loaded(REAL.read_text())
    assert a.last_update == 1795473615
    assert a.get("htcpool@vm", "PriorityFactor") == 1000.0
    assert a.get("<none>", "Priority") == pytest.approx(0.500456)
    assert a.get("htcpool@vm", "WeightedAccumulatedUsage") == 10.0
    assert a.effective_priority("htcpool@vm") == 500.0
    assert a.users() == ["htcpool@vm"]


@pytest.mark.parametrize("now", [1795473600, 1795473605, 1795473610])
def test_an_update_writes_what_the_real_accountant_wrote(now):
    """Priority decays toward the group's hierarchical usage; with no slots claimed the
    cycle rewrites every WeightedResourcesUsed as 0 (``%f``)."""
    marker = f"103 Accountant. LastUpdateTime {now}"
    start = len(upto(marker).splitlines())
    expected = LINES[start:start + 8]       # the time, the decay, the recount
    a = loaded(upto(marker))
    a.update_priorities(now)
    a.check_matches([], now)
    assert a.take_pending() == "".join(expected)


def claimed(name: str, user: str, cpus: int = 2) -> classad2.ClassAd:
    return classad2.ClassAd({"Name": name, "StartdIpAddr": "<127.0.0.1:9>", "State": "Claimed",
                             "RemoteUser": user, "Cpus": cpus,
                             "SlotWeight": classad2.ExprTree("Cpus")})


def test_usage_is_charged_by_slot_weight_and_time():
    a = Accountant()
    a.update_priorities(1000)
    a.add_match("u@d", claimed("slot1@vm", "u@d"), 1000)
    a.check_matches([claimed("slot1_1@vm", "u@d")], 1000)
    assert a.get("u@d", "ResourcesUsed") == 1 and a.get("u@d", "WeightedResourcesUsed") == 2.0
    a.update_priorities(1000 + 3600)
    assert a.get("u@d", "AccumulatedUsage") == 3600.0
    assert a.get("u@d", "WeightedAccumulatedUsage") == 7200.0
    assert a.get("u@d", "BeginUsageTime") == 4600 and a.get("u@d", "LastUsageTime") == 4600
    aging = 0.5 ** (3600 / 86400)
    assert a.get("u@d", "Priority") == pytest.approx(0.5 * aging + 2.0 * (1 - aging))
    assert a.effective_priority("u@d") == pytest.approx(a.get("u@d", "Priority") * 1000)
    res = a.report_resources("u@d")
    assert res == {"Name1": "slot1_1@vm@<127.0.0.1:9>", "StartTime1": 1000}
    # the slot is released: nothing more is charged, and the priority decays
    a.check_matches([], 4600)
    a.update_priorities(4600 + 86400)
    assert a.get("u@d", "AccumulatedUsage") == 3600.0
    assert a.get("u@d", "Priority") < 2.0


def test_report_state_numbers_the_group_first_then_submitters():
    a = loaded(REAL.read_text())
    a.set_factor("bob@x", 20.0)
    ad = a.report_state()
    assert (ad["Name1"], ad["IsAccountingGroup1"], ad["SurplusPolicy1"]) == ("<none>", True, "byquota")
    assert ad["Name2"] == "htcpool@vm" and ad["Priority2"] == 500.0 and ad["Ceiling2"] == -1
    assert ad["Name3"] == "bob@x" and ad["Priority3"] == 10.0 and ad["PriorityFactor3"] == 20.0
    assert ad["NumSubmittors"] == 3 and ad["LastUpdate"] == 1795473615


def test_setters_reset_and_delete():
    a = Accountant()
    a.set_accum_usage("u@d", 7200.0)
    a.set_begin_time("u@d", 10)
    a.set_last_time("u@d", 20)
    a.set_priority("u@d", 3.0)
    assert (a.get("u@d", "WeightedAccumulatedUsage"), a.get("u@d", "BeginUsageTime"),
            a.get("u@d", "LastUsageTime")) == (7200.0, 10, 20)
    assert a.effective_priority("u@d") == 3000.0
    a.reset_usage("u@d", 99)
    assert (a.get("u@d", "WeightedAccumulatedUsage"), a.get("u@d", "BeginUsageTime")) == (0.0, 99)
    text = a.take_pending()
    assert "103 Customer.u@d WeightedAccumulatedUsage 7200.000000\n" in text
    assert "105 \n103 Customer.u@d AccumulatedUsage 0.000000\n" in text
    a.delete("u@d")
    assert a.take_pending() == "105 \n102 Customer.u@d\n106 \n" and a.users() == []


def test_the_store_compacts_at_start_and_keeps_the_records(tmp_path):
    path = tmp_path / "Accountantnew.log"
    path.write_bytes(REAL.read_bytes())
    a = Accountant()
    assert AccountantStore(str(path)).open(a, 1795474000) == []
    text = path.read_text()
    assert text.startswith("107 2 CreationTimestamp 1795473532\n101 Customer.htcpool@vm * *\n"
                           "103 Customer.htcpool@vm MyType \"*\"\n")
    assert "103 Customer.<none> Priority 0.500456\n" in text
    a.set_priority("htcpool@vm", 2.0)
    AccountantStore(str(path)).flush(a)
    b = Accountant()
    AccountantStore(str(path)).open(b, 1795474001)
    assert b.customers == a.customers and b.last_update == 1795473615
