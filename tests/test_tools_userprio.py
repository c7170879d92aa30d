"""condor_userprio against what the real 25.14 tool printed (fixtures/cli/condor_userprio):
the tables rendered in-process from the captured Accounting ads (``-long``), then the tool
end to end on a pool with a negotiator."""
from __future__ import annotations

import calendar
import time

import classad2
import pytest

from condor_sim.tools import condor_userprio as U
from support import captures
from support.captures import capture as read_capture
from support.pools import client, running_pool

CAPTURES = captures.CLI / "condor_userprio"


def cap(case: str) -> dict:
    return read_capture(CAPTURES / f"{case}.txt")


def captured_at(c: dict) -> int:
    stamp = c["fields"]["captured"].split(" ")[0]          # 2026-11-28T20:03:58+0000
    return calendar.timegm(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S"))


@pytest.fixture
def utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def long_ads() -> list[classad2.ClassAd]:
    text = cap("long")["stdout"]
    return [classad2.parseOne(chunk, parser=classad2.ParserType.Old)
            for chunk in text.split("\n\n") if chunk.strip()]


@pytest.mark.parametrize("case", ["noargs", "all", "usage", "most", "allusers"])
def test_tables_match_the_real_tool(utc, case):
    c = cap(case)
    now = captured_at(c)
    o = U.parse_args(c["argv"], now)
    got = U.render(long_ads(), o.detail or U.MOST, now, o.min_last, o.dash_quota)
    assert got == c["stdout"]


def test_long_prints_each_ad_sorted_then_a_blank_line():
    assert U.render_long(long_ads()) == cap("long")["stdout"]


def test_unknown_option_prints_the_usage(capsys):
    c = cap("unknown-option")
    rc = U.main(c["argv"])
    out = capsys.readouterr()
    assert (rc, out.out, out.err) == (c["rc"], c["stdout"], c["stderr"])


def test_edit_options_need_a_full_name(capsys):
    assert U.main(["-setprio", "bob", "5"]) == 1
    assert "You must specify the full name of the submittor" in capsys.readouterr().err


def test_the_widths_and_fallbacks_of_the_columns():
    assert U.fmt_float(6, 0, 2.0) == "     2"
    assert U.fmt_float(12, 2, 1e20) == "       1e+20"        # too wide for %f: %.6g
    assert U.pad("ab", 6, how="center") == " ab  "
    assert U.format_time_nosecs(86396) == "  0+23:59"


RUN = """
import subprocess, sys
p = subprocess.run([sys.executable, "-m", "condor_sim.tools.condor_userprio", *{args!r}],
                   capture_output=True, text=True)
return [p.returncode, p.stdout, p.stderr]
"""


def userprio(pool, *args) -> list:
    return client(pool, RUN.format(args=list(args)))


def test_end_to_end_on_a_pool_with_a_negotiator(tmp_path):
    with running_pool(tmp_path / "p", DAEMON_LIST="MASTER COLLECTOR SCHEDD NEGOTIATOR",
                      NEGOTIATOR_INTERVAL="1", NEGOTIATOR_MIN_INTERVAL="0",
                      NEGOTIATOR_CYCLE_DELAY="0") as pool:
        c = cap("priority-refused-or-ok")
        user = c["argv"][1]
        rc, out, err = userprio(pool, *c["argv"])
        assert (rc, out, err) == (c["rc"], c["stdout"], c["stderr"])
        assert userprio(pool, "-setaccum", user, "3600") == [
            0, f"The Accumulated Usage of {user} was set to 3600.000000\n", ""]
        now = int(time.time())
        assert userprio(pool, "-setlast", user, str(now))[0] == 0
        assert userprio(pool, "-setprio", user, "2")[1] == f"The priority of {user} was set to 2.000000\n"
        rc, out, err = userprio(pool, "-allusers")
        lines = out.splitlines()
        assert rc == 0 and lines[1:4] == cap("allusers")["stdout"].splitlines()[1:4]
        row = lines[4].split()
        # the priority decays toward no use from the moment it is set (half life one day)
        assert row[0] == user and 1999.0 < float(row[1]) <= 2000.0
        assert row[2:5] == ["1000.00", "0", "1.00"]
        assert lines[-1].split() == ["Number", "of", "users:", "1", "0", "1.00"]
        # the negotiator tells the collector at its next cycle: the default view reads it there
        deadline = time.monotonic() + 20
        while True:
            rc, out, err = userprio(pool)
            if user in out or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert user in out and out.splitlines()[1:4] == cap("noargs")["stdout"].splitlines()[1:4]
        assert userprio(pool, "-resetusage", user)[1] == f"The accumulated usage of {user} was reset\n"
        assert userprio(pool, "-delete", user)[1] == f"The accountant record named {user} was deleted\n"
        assert userprio(pool, "-resetall")[1] == "The accumulated usage was reset for all users\n"
        rc, out, err = userprio(pool, "-allusers")
        assert user not in out
