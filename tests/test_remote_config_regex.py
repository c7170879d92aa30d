"""DC_CONFIG_VAL ``?names:<regex>``: the peer's pattern runs within bounds.

param_names_matching() in the real daemon runs the pattern with PCRE2 (caseless, not
anchored) under PCRE2's limits.  Here a pattern that would backtrack for ever gives up
within a CPU-time budget for the whole listing, one that would compile to something huge
is refused before it is compiled, and one that does not compile gets what the real daemon
sends: nothing (its error string is never followed by an end of message).
"""
from __future__ import annotations

import socket
import struct
import time

import psutil
import pytest

from support.clients import run_client
from condor_sim.remote_config import (NAMES_MATCH_SECONDS, NAMES_PATTERN_MAX_COST, PatternError,
                                      _pattern_cost, compile_names_pattern, names_matching)
from support.daemons import DaemonProcess, schedd_fixture

DC_CONFIG_VAL = 60007

schedd = schedd_fixture("names-rx", security="plaintext",
                        overrides={"MY_SCHEDULE_KNOB": "1", "OTHER_KNOB": "2"})


# ---------------------------------------------------------------------------- raw wire
def ask_names(d: DaemonProcess, query: str, timeout: float = 30) -> tuple[list[str] | None, float]:
    """Send DC_CONFIG_VAL [query] unauthenticated; returns (the strings of the reply, or
    None when the daemon closed without one, and the seconds it took)."""
    body = struct.pack(">q", DC_CONFIG_VAL) + query.encode() + b"\0"
    t0 = time.monotonic()
    with socket.create_connection(("127.0.0.1", d.port), timeout=timeout) as s:
        s.sendall(struct.pack(">BI", 1, len(body)) + body)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    took = time.monotonic() - t0
    payload, pos, done = b"", 0, False
    while pos + 5 <= len(data):
        end, n = struct.unpack(">BI", data[pos:pos + 5])
        payload += data[pos + 5:pos + 5 + n]
        pos += 5 + n
        if end:
            done = True
            break
    if not done:
        return None, took
    return [p.decode() for p in payload.split(b"\0")[:-1]], took


# ---------------------------------------------------------------------------- end to end
@pytest.mark.parametrize("pattern", [r"(\w|\w)*#", r"(\w|\w)*\W", r"^(\w|\w)*\W"])
def test_catastrophic_pattern_answers_within_a_second_or_two(schedd, pattern):
    pid = schedd.pid
    names, took = ask_names(schedd, "?names:" + pattern)
    # An empty list or only names holding a non-word character ("SCHEDD.X"): never a hang.
    assert names is not None
    assert all(not n or not n.replace("_", "").isalnum() for n in names), names
    assert took < 4 * NAMES_MATCH_SECONDS + 1.5, took
    schedd.assert_serving(pid=pid)


def test_budget_exhausted_gives_the_empty_list_and_a_log_line(schedd):
    pid = schedd.pid
    names, took = ask_names(schedd, r"?names:(\w|\w)*\W")
    log = schedd.wait_for_log("DC_CONFIG_VAL ?names query: matching took more than")
    assert names == [""], names
    assert "no names sent" in log
    assert took < 4 * NAMES_MATCH_SECONDS + 1.5
    # the real client's ?names (RemoteParam) still lists everything
    r = run_client(f"""
import htcondor2
ad = htcondor2.classad.ClassAd({{'MyAddress': {schedd.sinful!r}, 'MyType': 'Scheduler', 'Name': 'x'}})
return list(htcondor2.RemoteParam(ad).keys())""", schedd.config)
    assert r["ok"] and "MY_SCHEDULE_KNOB" in r["result"] and len(r["result"]) > 100, r
    schedd.assert_serving(pid=pid)


@pytest.mark.parametrize("pattern", ["(a", "a)", "*a", "[z-a]"])
def test_pattern_that_does_not_compile_closes_unanswered(schedd, pattern):
    pid = schedd.pid
    before = schedd.log_text("SchedLog").count("Can't compile regex for DC_CONFIG_VAL ?names query")
    names, took = ask_names(schedd, "?names:" + pattern)
    assert names is None
    deadline = time.monotonic() + 10
    while schedd.log_text("SchedLog").count("Can't compile regex for DC_CONFIG_VAL ?names query") <= before:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    schedd.assert_serving(pid=pid)


@pytest.mark.parametrize("pattern", ["(?:(?:(?:a{100}){100}){100}){100}",
                                     "(?x)(?:(?:(?:a{1 0 0}){1#}\n00}){100}){100}",
                                     "(?:" * 30 + "ab" + ")+" * 30])
def test_pattern_that_would_compile_huge_is_refused_before_compiling(schedd, pattern):
    # Compiled by the regex module, each of these takes gigabytes.
    pid = schedd.pid
    rss = psutil.Process(pid).memory_info().rss
    names, took = ask_names(schedd, "?names:" + pattern)
    assert names is None and took < 5
    assert psutil.Process(pid).memory_info().rss < rss + 50 * 2**20
    schedd.assert_serving(pid=pid)


def test_names_are_matched_anywhere_and_without_case(schedd):
    names, _ = ask_names(schedd, "?names:schedule_k")
    assert names == ["MY_SCHEDULE_KNOB"]
    names, _ = ask_names(schedd, "?names:^other_knob$")
    assert names == ["OTHER_KNOB"]
    names, _ = ask_names(schedd, "?names:^no_such_knob_anywhere$")
    assert names == [""]
    everything, _ = ask_names(schedd, "?names")
    assert "MY_SCHEDULE_KNOB" in everything and len(everything) > 100


# ---------------------------------------------------------------------------- in process
NAMES = ["SCHEDD_INTERVAL", "MAX_JOBS_RUNNING", "ActivityTimer", "SCHEDD.PREFIXED", "MY_SCHEDULE_KNOB"]


def test_matching_is_caseless_and_unanchored():
    assert names_matching(compile_names_pattern("schedule"), NAMES) == ["MY_SCHEDULE_KNOB"]
    assert names_matching(compile_names_pattern("^schedd"), NAMES) == ["SCHEDD_INTERVAL", "SCHEDD.PREFIXED"]
    assert names_matching(compile_names_pattern("TIMER$"), NAMES) == ["ActivityTimer"]
    assert names_matching(compile_names_pattern(".*"), NAMES) == NAMES
    assert names_matching(compile_names_pattern("nothing"), NAMES) == []


@pytest.mark.parametrize("pattern,offset,code", [
    ("(a", 2, 114),          # missing closing parenthesis
    ("a)", 1, 122),          # unmatched closing parenthesis
    ("*a", 0, 109),          # quantifier does not follow a repeatable item
    ("[a", 2, 106),          # missing terminating ] for character class
    ("a{3,1}", 2, 104),      # numbers out of order in {} quantifier
])
def test_compile_errors_carry_pcre2_codes(pattern, offset, code):
    with pytest.raises(PatternError) as e:
        compile_names_pattern(pattern)
    assert (e.value.offset, e.value.code) == (offset, code)
    assert str(e.value) == f"!error:regex:{offset}: error code {code}"


@pytest.mark.parametrize("pattern", [
    "(?:(?:(?:(?:a{100}){100}){100}){100}){100}",
    "(?x)a{1 0 0 0 0 0 0}",                  # verbose mode: white space inside the count
    "(?x)(?:(?:a{1#}\n00}){1#{\n00}){100}",  # ... and comments
    "(?:" * 40 + "a" + ")+" * 40,            # each nested "+" doubles the compiled size
    "a{99999999999999999999999}",
])
def test_huge_patterns_are_refused_without_compiling(pattern):
    t0 = time.process_time()
    assert _pattern_cost(pattern) > NAMES_PATTERN_MAX_COST
    with pytest.raises(PatternError) as e:
        compile_names_pattern(pattern)
    assert e.value.code == 120                # regular expression is too large
    assert time.process_time() - t0 < 0.5


@pytest.mark.parametrize("pattern", ["^SCHEDD_[A-Z]{1,20}_(LOG|DEBUG)$", r"^\w+\.\w+$", "a{2}b{3}c{4}",
                                     "(MASTER|SCHEDD|COLLECTOR).+INTERVAL"])
def test_ordinary_patterns_are_well_within_the_bound(pattern):
    assert _pattern_cost(pattern) < NAMES_PATTERN_MAX_COST / 10
    compile_names_pattern(pattern)


def test_budget_covers_the_whole_listing():
    # Each name alone takes well under the budget; together they take seconds.
    rx = compile_names_pattern(r"(\w|\w)*\W")
    one = time.process_time()
    assert names_matching(rx, ["A" * 16]) == []
    per_name = time.process_time() - one
    assert per_name < NAMES_MATCH_SECONDS / 2
    names = ["A" * 16] * int(4 * NAMES_MATCH_SECONDS / max(per_name, 1e-3) + 10)
    t0 = time.process_time()
    assert names_matching(rx, names) is None
    assert time.process_time() - t0 < NAMES_MATCH_SECONDS + 0.3


def test_a_single_catastrophic_match_is_cut_short():
    t0 = time.process_time()
    assert names_matching(compile_names_pattern(r"(\w|\w)*\W"), ["A" * 60], budget=0.2) is None
    assert time.process_time() - t0 < 0.6
