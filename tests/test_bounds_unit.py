"""In-process checks of the bounds that keep hostile input away from the ClassAd parser
and unauthenticated peers away from the daemon's memory.

Shapes that overflow the C++ parser's stack are fed to ``get_ad`` in this very process:
if a bound failed, the test process itself would die.
"""
from __future__ import annotations

import struct

import classad2
import pytest

from condor_sim.cedar import ProtocolError
from condor_sim.cedar.adlimits import (MAX_BRACKETS, MAX_OPERATORS, check_expression_lines,
                                       check_pod_line)
from condor_sim.cedar.classad_wire import get_ad, put_ad
from condor_sim.cedar.framing import Framer
from condor_sim.cedar.stream import MessageReader, MessageWriter
from condor_sim.daemoncore import PreauthBudget

DEEP = {
    "sum": "+".join(["1"] * 300_000),
    "select": "a" + ".b" * 60_000,
    "parens": "(" * 50_000 + "1" + ")" * 50_000,
    "unary": "-" * 100_000 + "1",
    "lists": "{" * 50_000 + "}" * 50_000,
}


def wire_ad(lines: list[str]) -> MessageReader:
    w = MessageWriter()
    w.put_int(len(lines))
    for line in lines:
        w.put_string(line)
    w.put_string("")
    w.put_string("")
    return MessageReader(w.getvalue())


@pytest.mark.parametrize("shape", sorted(DEEP))
def test_deep_expressions_are_refused_before_parsing(shape):
    with pytest.raises(ProtocolError, match="getClassAd: expression for X has"):
        get_ad(wire_ad(["A = 1", f"X = {DEEP[shape]}"]))


@pytest.mark.parametrize("shape", sorted(DEEP))
def test_deep_expressions_in_a_handshake_ad_are_refused_before_parsing(shape):
    with pytest.raises(ProtocolError, match="getPODClassAd: "):
        get_ad(wire_ad(["Command = 60021", f"AuthCommand = {DEEP[shape][:16000]}"]), 100,
               literals_only=True)


@pytest.mark.parametrize("line,name", [
    ('Command = 60021', "Command"),
    ('Nonce = "oPNAjjj76sbuHhp3W5ugbv1n4vAW/8f0yZ3xbVD8K7Hi"', "Nonce"),
    ('RemoteVersion = "$CondorVersion: 25.14.1 2026-09-24 BuildID: UW_Python_Wheel_Build $"',
     "RemoteVersion"),
    ('ResumeResponse = true', "ResumeResponse"),
    ('X = -1.5e3', "X"),
    ('X = undefined', "X"),
    ('X = "a \\" + 1 + \\" b"', "X"),        # an escaped quote keeps one string literal
])
def test_literal_lines_pass(line, name):
    assert check_pod_line(line) == name


@pytest.mark.parametrize("line,why", [
    ("Enact = 1 + 2", "trailing tokens after literal for attr Enact"),
    ('A = "x" "y"', "trailing tokens after literal for attr A"),
    ("A = b", "non-literal expression rejected for attr A"),
    ("A = (1)", "non-literal expression rejected for attr A"),
    ("A = {1}", "non-literal expression rejected for attr A"),
    ("A = f(1)", "non-literal expression rejected for attr A"),
    ("A = truex", "non-literal expression rejected for attr A"),
    ("ZKM", "FAILED to split expression"),
    ("A = " + "1" * 20_000, "line of"),
])
def test_non_literal_lines_are_refused_in_the_real_words(line, why):
    with pytest.raises(ProtocolError, match=why.replace("(", r"\(")):
        check_pod_line(line)


def test_the_bounds_leave_real_ads_alone():
    reqs = " && ".join(f"(TARGET.Attr{i} >= {i} || MY.Rank{i} =?= undefined)" for i in range(200))
    lines = [f"Requirements = {reqs}", 'Env = "' + "+-./" * 50_000 + '"', "Rank = 1.5 * Memory"]
    check_expression_lines(lines)          # operators inside strings do not count
    ad = get_ad(wire_ad(lines))
    assert ad["Rank"].eval(classad2.ClassAd({"Memory": 2})) == 3.0


def test_just_over_the_bounds():
    check_expression_lines(["X = " + "+".join(["1"] * MAX_OPERATORS)])
    with pytest.raises(ProtocolError):
        check_expression_lines(["X = " + "+".join(["1"] * (MAX_OPERATORS + 2))])
    with pytest.raises(ProtocolError, match="brackets"):
        check_expression_lines(["X = " + "(" * (MAX_BRACKETS + 1) + "1" + ")" * (MAX_BRACKETS + 1)])


def test_a_round_trip_still_works():
    w = put_ad(MessageWriter(), {"A": 1, "B": "two", "C": classad2.ExprTree("A + 1")})
    ad = get_ad(MessageReader(w.getvalue()))
    assert ad["A"] == 1 and ad["B"] == "two" and ad.eval("C") == 2


def test_an_oversized_packet_is_refused_on_its_header():
    f = Framer(max_message=64 << 10)
    f.feed(struct.pack(">BI", 1, 1 << 20))        # a 1 MiB packet, nothing of it sent yet
    with pytest.raises(ProtocolError, match="larger than 65536"):
        f.next_message()


def test_release_drops_the_buffers():
    f = Framer()
    f.feed(struct.pack(">BI", 0, 10) + b"x" * 10 + b"\1\0")
    assert f.next_message() is None and f.buffered > 0
    f.release()
    assert f.buffered == 0


def test_preauth_budget():
    b = PreauthBudget(100)
    assert b.adjust(60) and b.held == 60
    assert not b.adjust(41) and b.held == 60       # refused, nothing accounted
    assert b.adjust(-60) and b.held == 0


def test_typed_config_reads():
    from condor_sim.config import ConfigSnapshot
    c = ConfigSnapshot("SCHEDD", {"A": "12", "B": "3 * 4", "F": "2.5", "BAD": "x", "T": "true",
                                  "SCHEDD.P": "7"})
    assert (c.get_int("A", 0), c.get_int("B", 0), c.get_int("P", 0)) == (12, 12, 7)
    assert c.get_int("BAD", 9) == 9          # undefined is not 2 (Value.Undefined is an IntEnum)
    assert c.get_int("T", 9) == 9 and c.get_int("NONE", 5) == 5
    assert (c.get_float("F", 1.0), c.get_float("BAD", 1.5)) == (2.5, 1.5)


SNAPSHOT = r"""
import json, os, sys
from condor_sim.config import DaemonConfig
c = DaemonConfig("SCHEDD")
snap = c.snapshot()
names = ["SCHEDD_INTERVAL", "PREFIXED_ONLY", "LOG", "NOT_A_KNOB"]
print(json.dumps({n: [c.get(n), snap.get(n)] for n in names} | {"count": len(snap.names())}))
"""


def test_a_daemon_config_snapshot_reads_as_the_daemon_does(tmp_path):
    """DaemonConfig.snapshot(): the same value for every knob the daemon reads, SUBSYS.
    prefixes applied, as fixed values (run in a child: the library's table is per process)."""
    import json
    import subprocess
    import sys
    from condor_sim.poolconfig import create_pool_dir
    cfg = create_pool_dir(tmp_path, "secure", {"SCHEDD.PREFIXED_ONLY": "yes"})
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("_CONDOR_")}
    env["CONDOR_CONFIG"] = str(cfg)
    out = subprocess.run([sys.executable, "-c", SNAPSHOT], env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    for name in ("SCHEDD_INTERVAL", "PREFIXED_ONLY", "LOG"):
        assert got[name][0] is not None and got[name][0] == got[name][1], (name, got)
    assert got["PREFIXED_ONLY"][1] == "yes" and got["NOT_A_KNOB"] == [None, None]
    assert got["count"] > 500
