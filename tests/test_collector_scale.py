"""The collector's ads kept as wire lines: update statistics as the captured 25.14 ads
carry them, constraints over only the lines they reach, projections and whole ads sent
as they came in."""
from __future__ import annotations

from pathlib import Path

import classad2

from condor_sim.cedar.classad_wire import put_ad
from condor_sim.cedar.commands import Cmd
from condor_sim.cedar.stream import MessageReader, MessageWriter
from condor_sim.daemons.collector import Collector, StoredAd
from condor_sim.daemons.collector.ads import Constraint, read_ad, reach
from condor_sim.daemons.collector.stats import UpdateStats, lost_updates
from test_collector_fidelity import ask, send, slot, startd_update
from test_inprocess import build

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "startd"


def captured(name: str) -> classad2.ClassAd:
    return next(iter(classad2.parseAds((FIXTURES / name).read_text())))


def test_statistics_of_a_daemon_updating_in_sequence_are_the_captured_ones():
    real = captured("pslot-idle.ad")
    stats = UpdateStats()
    stats.update(False, 0)                       # the first ad: nothing to compare with
    for _ in range(real["UpdatesTotal"] - 1):
        stats.update(*lost_updates(1, 100, 2, 100))
    got = {name: classad2.parseOne(f"[{line}]")[name] for name, line in stats.lines()}
    assert got == {k: real[k] for k in ("UpdatesTotal", "UpdatesSequenced", "UpdatesLost", "UpdatesHistory")}


def test_lost_updates_are_gaps_in_the_sequence_within_one_start():
    assert lost_updates(1, 100, 2, 100) == (True, 0)
    assert lost_updates(1, 100, 5, 100) == (True, 3)
    assert lost_updates(5, 100, 3, 100) == (True, 1)      # going back counts one
    assert lost_updates(5, 100, 1, 200) == (True, 0)      # a restarted daemon starts over
    assert lost_updates(None, 100, 1, 100) == (False, 0)
    stats = UpdateStats()
    for update in [(False, 0), (True, 0), (True, 2)]:
        stats.update(*update)
    # newest first: the update (0), the two lost (1 1), the two before (0 0)
    assert (stats.total, stats.sequenced, stats.dropped) == (3, 4, 2)
    assert stats.history() == "6" + "0" * 31


def test_the_collector_writes_the_statistics_into_each_stored_ad():
    c = build(Collector)
    for seq in (1, 2, 5):
        send(c, startd_update(slot("slot1@host1", UpdateSequenceNumber=seq, DaemonStartTime=100)))
    send(c, startd_update({"MyType": "Machine", "Name": "noaddr"}))
    ads = {a["Name"]: a for a in ask(c, Cmd.QUERY_STARTD_ADS, {"Requirements": True})}
    ad = ads["slot1@host1"]
    assert (ad["UpdatesTotal"], ad["UpdatesSequenced"], ad["UpdatesLost"]) == (3, 4, 2)
    assert ad["UpdatesHistory"] == "6" + "0" * 31
    assert "UpdatesTotal" not in ads["noaddr"]           # no MyAddress: no statistics (as real)
    (own,) = ask(c, Cmd.QUERY_COLLECTOR_ADS, {"Requirements": True})
    assert "UpdatesHistory" not in own


def test_a_constraint_is_evaluated_over_the_lines_it_reaches():
    ad = StoredAd.from_lines(['Name = "a"', "Rack = Base + 1", "Base = 2", 'Big = "' + "x" * 5000 + '"'])
    assert sorted(reach(ad, {"rack"})) == ["Base = 2", "Rack = Base + 1"]
    c = Constraint(classad2.ExprTree("Rack == 3"))
    assert c.matches(ad)
    assert not Constraint(classad2.ExprTree("Nothere == 3")).matches(ad)
    assert Constraint(classad2.ExprTree('regexp("^a", Name) && MY.Rack > 2')).matches(ad)
    assert Constraint(classad2.ExprTree('eval(strcat("Ra", "ck")) == 3')).matches(ad)   # the whole ad


def test_a_stored_ad_reads_sets_and_sends_as_it_came_in():
    ad = {"MyType": "Machine", "Name": "slot1@h", "Cpus": 4, "Rank": classad2.ExprTree("Cpus * 2"),
          "ClaimId": "secret", "Text": 'say "hi"\\there'}
    for encrypted in (False, True):
        wire = put_ad(MessageWriter(encrypted), ad, include_private=True).getvalue()
        stored = read_ad(MessageReader(wire, encrypted), 100)
        assert stored["Cpus"] == 4 and stored.get("cpus") == 4 and "NAME" in stored
        assert stored["Text"] == 'say "hi"\\there'
        out = MessageReader(stored.encode(encrypted, include_private=True), encrypted)
        assert read_ad(out, 100).text == stored.text            # a whole ad goes back as it came
        public = read_ad(MessageReader(stored.encode(encrypted), encrypted), 100)
        assert "ClaimId" not in public and "Cpus" in public
        proj = read_ad(MessageReader(stored.encode_projection(["name", "RANK"], encrypted), encrypted), 100)
        assert sorted(proj.keys()) == ["Cpus", "RANK", "name"]
    stored["Cpus"] = 8
    stored.update({"Absent": True})
    assert stored["Cpus"] == 8 and stored["Absent"] is True and stored["Name"] == "slot1@h"


def test_many_slots_answer_constrained_and_projected_queries():
    c = build(Collector)
    send(c, *(startd_update(slot(f"slot{i}@host1", Rack=i % 10)) for i in range(200)))
    tenth = ask(c, Cmd.QUERY_STARTD_ADS, {"Requirements": classad2.ExprTree("Rack == 0")})
    assert sorted(a["Name"] for a in tenth) == sorted(f"slot{i}@host1" for i in range(0, 200, 10))
    projected = ask(c, Cmd.QUERY_STARTD_ADS, {"Requirements": True, "Projection": "Name State Nothere"})
    assert len(projected) == 200 and all(sorted(a.keys()) == ["Name", "State"] for a in projected)
