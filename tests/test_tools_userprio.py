"""condor_userprio against what the real 25.14 tool printed (fixtures/cli/condor_userprio):
the tables rendered in-process from the captured Accounting ads (``-long``), then the tool
end to end on a pool with a negotiator."""
from __future__ import annotations

import calendar
import re
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


# ------------------------------------------------------------------------------ final-noargs
def final_ads() -> list[classad2.ClassAd]:
    """The ads the last capture saw, rebuilt from the -long ones and what that table shows:
    priority 503.36, 0.16 weighted hours, an update in the minute of the capture (before it:
    the footer's 0+23:59), still in use (<now>)."""
    c = cap("final-noargs")
    update = captured_at(c) - 3
    ads = long_ads()
    for ad in ads:
        ad["LastUpdate"] = ad["LastUsageTime"] = update
        ad["WeightedAccumulatedUsage"] = 0.16 * 3600
    ads[1]["Priority"] = 503.36
    return ads


def test_the_final_table_matches_the_real_tool(utc):
    c = cap("final-noargs")
    now = captured_at(c)
    o = U.parse_args(c["argv"], now)
    assert U.render(final_ads(), o.detail or U.MOST, now, o.min_last, o.dash_quota) == c["stdout"]


# ------------------------------------------------------------------------------ -inputfile, -af, -constraint
def legacy_file(tmp_path):
    """The captured Accounting ads in the negotiator's GET_PRIORITY form (``attrN``)."""
    ads = long_ads()
    legacy = classad2.ClassAd({"NumSubmittors": len(ads), "LastUpdate": ads[0]["LastUpdate"]})
    for i, ad in enumerate(ads, 1):
        for k in ad.keys():
            legacy[f"{k}{i}"] = ad.lookup(k)
    path = tmp_path / "prio.ads"
    path.write_text(legacy.printOld())
    return path


def test_inputfile_prints_the_table_of_the_ad_in_the_file(utc, tmp_path, monkeypatch, capsys):
    c = cap("noargs")
    monkeypatch.setattr(U.time, "time", lambda: captured_at(c))
    assert U.main(["-inputfile", str(legacy_file(tmp_path))]) == 0
    assert capsys.readouterr().out == c["stdout"]


def test_inputfile_with_af_and_constraint_prints_one_record_per_submitter(tmp_path, capsys):
    path = str(legacy_file(tmp_path))
    assert U.main(["-inputfile", path, "-af", "Name", "Priority", "SubmittorId"]) == 0
    assert capsys.readouterr().out == "<none> 525.802 1\nhtcpool@localdomain 501.44 2\n"
    assert U.main(["-in", path, "-constraint", "IsAccountingGroup == false", "-af:,V", "Name", "Floor"]) == 0
    assert capsys.readouterr().out == '"htcpool@localdomain", 0\n'
    assert U.main(["-in", path, "-autoformat:h", "Name", "Priority"]) == 0
    # as condor_history's -af:h: the headings first, each column as wide as it has been so far
    assert capsys.readouterr().out == ("Name Priority\n<none> 525.802 \n"
                                       "htcpool@localdomain 501.44  \n")


def test_inputfile_long_prints_the_file_ad_or_its_records(tmp_path, capsys):
    path = str(legacy_file(tmp_path))
    assert U.main(["-inputfile", path, "-long"]) == 0
    legacy = classad2.parseOne(capsys.readouterr().out)
    assert legacy["Name2"] == "htcpool@localdomain" and legacy["NumSubmittors"] == 2
    assert U.main(["-inputfile", path, "-long", "-modular", "-constraint", 'Name == "<none>"']) == 0
    out = capsys.readouterr().out
    assert out.startswith("\nAccountingGroup = \"<none>\"\n") and "SubmittorId = 1\n" in out
    assert "htcpool" not in out


def test_option_errors_say_what_is_missing_then_print_the_usage(tmp_path, capsys):
    assert U.main(["-af"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Error: Argument -af requires at least one attribute parameter\n"
                          "\t\te.g. condor_prio -af Name\nusage: condor_userprio ")
    assert U.main(["-constraint"]) == 1
    assert capsys.readouterr().err.startswith("Error: Argument -constraint requires another parameter\n"
                                              "usage: ")
    assert U.main(["-inputfile", str(tmp_path / "none")]) == 1
    assert capsys.readouterr().err == f"Can't open file of userprio ads: {tmp_path / 'none'}\n"
    assert U.main(["-inputfile", str(legacy_file(tmp_path)), "-af", "Name", "-constraint", "a =="]) == 1
    assert capsys.readouterr().err == "Error:  could not parse constraint ( (a ==) )\n"


def test_af_and_constraint_end_to_end_on_a_five_daemon_pool(tmp_path):
    from support.pools import FIVE_DAEMONS
    with running_pool(tmp_path / "p", DAEMON_LIST=FIVE_DAEMONS, NEGOTIATOR_INTERVAL="1",
                      NEGOTIATOR_MIN_INTERVAL="0", NEGOTIATOR_CYCLE_DELAY="0") as pool:
        user = "alice@example.org"
        assert userprio(pool, "-setaccum", user, "7200")[0] == 0
        rc, out, err = userprio(pool, "-negotiator", "-af:h", "Name", "IsAccountingGroup")
        assert (rc, err) == (0, "")
        lines = out.splitlines()
        assert lines[0].split() == ["Name", "IsAccountingGroup"]
        assert sorted(tuple(l.split()) for l in lines[1:]) == [("<none>", "true"), (user, "false")]
        rc, out, err = userprio(pool, "-negotiator", "-constraint", "IsAccountingGroup == false",
                                "-af", "Name", "WeightedAccumulatedUsage")
        name, usage = out.split()           # the usage decays from the moment it is set
        assert (rc, err, name) == (0, "", user) and 7199.0 < float(usage) <= 7200.0
        rc, out, err = userprio(pool, "-allusers", "-long", "-modular", "-constraint", f'Name == "{user}"')
        assert rc == 0 and out.startswith("\n") and classad2.parseOne(out)["Name"] == user


RUN_ONE = """
import htcondor2, time
s = htcondor2.Schedd()
c = s.submit(htcondor2.Submit({"executable": "/bin/sleep", "arguments": "60"})).cluster()
deadline = time.time() + 30
while not s.query(f"ClusterId == {c} && JobStatus == 2", ["ProcId"]) and time.time() < deadline:
    time.sleep(0.05)
return s.query(f"ClusterId == {c}", ["User"])[0]["User"]
"""


def test_af_and_constraint_match_the_real_tool_on_a_pool(tmp_path):
    """The later captures (fixtures/cli/README.md) of -af, -af:h and -constraint against a
    real pool whose one submitter, htcpool@vm, was running jobs: the same commands on a
    pool whose one submitter runs a job print the same, the submitter's name aside; the
    table of a constraint has the real header lines and user count (its numbers are each
    pool's own).  The pool's stop ends the job."""
    from support.pools import FIVE_DAEMONS, client
    with running_pool(tmp_path / "p", DAEMON_LIST=FIVE_DAEMONS, NEGOTIATOR_INTERVAL="1",
                      NEGOTIATOR_MIN_INTERVAL="0", NEGOTIATOR_CYCLE_DELAY="0") as pool:
        user = client(pool, RUN_ONE)        # a job of the user's runs while the tool is asked
        # the negotiator publishes its Accounting ads each cycle; the cycle after the one
        # that counts the job charges it (LastUsageTime), as the real accountant does
        deadline = time.monotonic() + 30
        while not re.search(rf"^{re.escape(user)} 1 [1-9]", userprio(
                pool, "-af", "Name", "ResourcesUsed", "LastUsageTime")[1], re.M) \
                and time.monotonic() < deadline:
            time.sleep(0.1)
        for case in ("af-name-group-factor", "af-header", "constraint-af", "constraint-users"):
            c = cap(case)
            rc, out, err = userprio(pool, *c["argv"])
            assert (rc, err) == (c["rc"], c["stderr"]), case
            want = c["stdout"]
            if case == "constraint-users":
                got, want = out.splitlines(), want.splitlines()
                assert got[1:4] == want[1:4] and got[5] == want[5]
                assert (got[4].split()[0], want[4].split()[0]) == (user, "htcpool@vm")
                assert got[6].startswith("Number of users: 1 ") and want[6].startswith("Number of users: 1 ")
                assert len(got) == len(want)
            else:
                assert out.replace(user, "USER") == want.replace("htcpool@vm", "USER"), case
