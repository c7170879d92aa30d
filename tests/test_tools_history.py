"""condor_history against what the real 25.14 tool printed (fixtures/cli/condor_history): the
epoch history (-epochs), -file, -userlog, -xml with a nested ad, and the history as it grew
after the removals (its ads rebuilt from the captures), then the tool against a pool."""
from __future__ import annotations

import calendar
import os
import subprocess
import sys
import time

import classad2
import pytest

from support.captures import CLI, capture
from support.clock import utc  # noqa: F401  (the captures' TZ=UTC, module-wide)
from condor_sim.tools import _history_sources as S
from condor_sim.tools import _userlog_ads as UL
from condor_sim.tools import condor_history as H

HIST = CLI / "condor_history"


def cap(case: str) -> dict:
    return capture(HIST / f"{case}.txt")


def first_runs() -> list[classad2.ClassAd]:
    """The history file the early captures saw, oldest first: 2.0, 1.0, 6.0."""
    two = classad2.parseOne(cap("long-2.0")["stdout"])
    one = next(classad2.parseAds(cap("json-1.0")["stdout"], classad2.ParserType.JSON))
    six = classad2.parseOne(cap("long-6.0-removed")["stdout"])
    return [two, one, six]


def history_text(ads: list, kind: str = "") -> str:
    """Ads as a history (or epoch) file writes them: each ad, then its banner."""
    out = []
    for ad in ads:
        head = f"{kind} " if kind else ""
        out.append(ad.printOld().rstrip("\n") + "\n*** " + head +
                   f'ClusterId={ad["ClusterId"]} ProcId={ad["ProcId"]} Owner="{ad["Owner"]}" '
                   f'CurrentTime={ad.get("EnteredCurrentStatus", 0)}\n')
    return "".join(out)


def run(main, argv, capsys) -> tuple[int, str, str]:
    rc = main(argv)
    out = capsys.readouterr()
    return rc, out.out, out.err


def same(c: dict, got: tuple) -> None:
    assert got == (c["rc"], c["stdout"], c["stderr"])


# ------------------------------------------------------------------------------ -epochs
def epoch_file_text() -> str:
    """The epoch history of the capture: a record per run (1.0's as -epochs -long shows it;
    2.0's from its history ad as it stood when it started running), with a transfer record
    among them that -epochs leaves out."""
    one = classad2.parseOne(cap("epochs-long-limit1")["stdout"])
    two = first_runs()[0]
    two["JobStatus"], two["CompletionDate"], two["RemoteWallClockTime"] = 2, 0, 0.0
    two["EpochAdType"] = "EPOCH"
    xfer = classad2.ClassAd({"ClusterId": 1, "ProcId": 0, "Owner": "htcpool", "EpochAdType": "INPUT"})
    return history_text([two], "EPOCH") + history_text([xfer], "INPUT") + history_text([one], "EPOCH")


@pytest.mark.parametrize("case", ["epochs", "epochs-long-limit1"])
def test_epochs_read_the_epoch_records_of_the_epoch_history(case, tmp_path, capsys):
    path = tmp_path / "epoch_history"
    path.write_text(epoch_file_text())
    c = cap(case)
    o = H.parse_args(c["argv"])
    assert o.epochs
    assert H.render(o, H.epoch_ads(o, str(path), None)) == c["stdout"]


def test_epochs_without_a_file_print_the_header_and_without_the_knobs_an_error(tmp_path):
    o = H.parse_args(["-epochs"])
    assert H.render(o, H.epoch_ads(o, str(tmp_path / "epoch_history"), None)) == H.HEADER
    with pytest.raises(H.C.ToolError) as e:
        H.epoch_ads(o, None, None)
    assert e.value.stderr == "Error: No Job Run Instance recordings to read.\n"


def test_banners_name_the_record_type():
    assert S.banner_type('*** EPOCH ClusterId=1 ProcId=0 RunInstanceId=0 Owner="u" CurrentTime=5') == "EPOCH"
    assert S.banner_type('*** ProcId = 0 ClusterId = 2 Owner = "u" CompletionDate = 1') == "JOB"
    assert S.banner_type("***") == "JOB"


# ------------------------------------------------------------------------------ -file, -userlog, -xml
def test_file_reads_that_history_file(tmp_path, capsys):
    c = cap("file-history")
    path = tmp_path / "history"
    path.write_text(history_text(first_runs()))
    argv = [str(path) if a == "/srv/pool/spool/history" else a for a in c["argv"]]
    same(c, run(H.main, argv, capsys))


def test_file_missing_says_so_after_the_header(capsys):
    c = cap("file-missing")
    assert not os.path.exists(c["argv"][-1])
    same(c, run(H.main, c["argv"], capsys))


def test_userlog_makes_a_job_ad_per_submitted_job(monkeypatch, capsys):
    c = cap("userlog-echo")
    monkeypatch.chdir(CLI / "user-logs")
    monkeypatch.setattr("getpass.getuser", lambda: "htcpool")
    same(c, run(H.main, c["argv"], capsys))


def test_userlog_ads_follow_the_events():
    events = UL.read_userlog(str(CLI / "user-logs" / "exit3.log"))
    (ad,) = UL.ads_from_events(events, "exit3.log", "htcpool", 0)
    assert (ad["ClusterId"], ad["JobStatus"], ad["ExitCode"], ad["NumJobStarts"]) == (2, 4, 3, 1)
    assert ad["LastJobStatus"] == 2 and ad["Cmd"] == "???" and "RemoteHost" not in ad
    events = UL.read_userlog(str(CLI / "user-logs" / "removed.log"))
    assert {a["JobStatus"] for a in UL.ads_from_events(events, "removed.log", "u", 0)} == {3}


def test_userlog_constraint_selects_the_jobs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(CLI / "user-logs")
    assert H.main(["-userlog", "exit3.log", "-constraint", "ExitCode == 0", "-af", "ClusterId"]) == 0
    assert capsys.readouterr().out == ""
    assert H.main(["-userlog", "exit3.log", "-constraint", "ExitCode == 3", "-af", "ClusterId"]) == 0
    assert capsys.readouterr().out == "2\n"


def test_xml_writes_a_nested_ad_as_a_nested_element():
    c = cap("xml-1.0")
    o = H.parse_args(c["argv"])
    assert H.render(o, H.select_ads(o, first_runs())) == c["stdout"]


# ------------------------------------------------------------------------------ the grown history
# The jobs removed after the first captures, as the later captures show them: id, the minute
# it was submitted, its run time, command, arguments, and the reason it was removed.
LATER = [
    ("8.0", "20:04", 0, "sleep", "300", "via condor_rm"), ("8.1", "20:04", 0, "sleep", "300", "via condor_rm"),
    ("8.2", "20:04", 0, "sleep", "300", "via condor_rm"), ("9.1", "20:04", 0, "sleep", "300", "via condor_rm"),
    ("10.0", "20:04", 0, "echo", "item=a process=0", "via condor_rm"),
    ("10.1", "20:04", 0, "echo", "item=b process=1", "via condor_rm"),
    ("9.2", "20:04", 0, "sleep", "300", "removed by clicap"), ("11.0", "20:04", 0, "sleep", "300", "via condor_rm"),
    ("13.0", "20:04", 0, "sleep", "300", "via condor_rm"), ("14.0", "20:04", 0, "sleep", "300", "via condor_rm"),
    # removed by the -all removal, between 20:05:14 and 20:05:47
    ("18.0", "20:04", 0, "sleep", "300", None), ("17.0", "20:04", 0, "sleep", "300", None),
    ("16.0", "20:04", 0, "sleep", "42", None), ("15.0", "20:04", 0, "sleep", "300", None),
    ("9.0", "20:04", 0, "sleep", "300", None), ("7.0", "20:02", 0, "sleep", "600", None),
    ("5.0", "20:01", 218, "sleep", "600", None), ("5.1", "20:01", 216, "sleep", "600", None),
    ("4.0", "20:01", 0, "sleep", "600", None), ("4.1", "20:01", 0, "sleep", "600", None),
    ("3.0", "20:01", 2, "sleep", "600", None), ("3.1", "20:01", 2, "sleep", "600", None),
]


def grown_history(count: int) -> list[classad2.ClassAd]:
    """The history file oldest first with the first ``count`` later removals appended
    (each rebuilt from 6.0's ad, a removed sleep)."""
    ads = first_runs()
    for jid, minute, wall, cmd, args, reason in LATER[:count]:
        ad = classad2.parseOne(cap("long-6.0-removed")["stdout"])
        cluster, proc = (int(x) for x in jid.split("."))
        qdate = calendar.timegm(time.strptime(f"2026-11-28 {minute}", "%Y-%m-%d %H:%M"))
        ad.update({"ClusterId": cluster, "ProcId": proc, "QDate": qdate, "Cmd": f"/bin/{cmd}",
                   "Args": args, "RemoteWallClockTime": float(wall),
                   "GlobalJobId": f"vm#{jid}#{qdate}"})
        if reason:
            ad["RemoveReason"] = f"{reason} (by user htcpool)"
        ads.append(ad)
    return ads


@pytest.mark.parametrize("case,count", [("after-rm-limit5", 10), ("after-rm-removereason", 10),
                                        ("after-rm-all-limit12", len(LATER)),
                                        ("final-af", len(LATER)), ("final-noargs", len(LATER))])
def test_the_grown_history_matches_the_real_tool(case, count):
    c = cap(case)
    o = H.parse_args(c["argv"])
    assert H.render(o, H.select_ads(o, grown_history(count))) == c["stdout"]
    assert c["rc"] == 0


# ------------------------------------------------------------------------------ against a pool
@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    from support.pools import running_pool
    with running_pool(tmp_path_factory.mktemp("h") / "p") as p:
        yield p


def tool(pool, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, CONDOR_CONFIG=str(pool.config_file), TZ="UTC")
    return subprocess.run([sys.executable, "-m", "condor_sim.tools.condor_history", *args], env=env,
                          capture_output=True, text=True, timeout=60)


def test_name_of_an_unknown_schedd_against_a_pool(pool):
    c = cap("name-schedd")
    r = tool(pool, *c["argv"])
    assert (r.returncode, r.stdout, r.stderr) == (c["rc"], c["stdout"], c["stderr"])


def test_epochs_against_a_pool_whose_schedd_wrote_no_epoch_history(pool):
    r = tool(pool, "-epochs")
    assert (r.returncode, r.stdout, r.stderr) == (0, H.HEADER, "")
    r = tool(pool, "-epochs", "-af", "ClusterId")
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")


def test_userlog_against_a_pool_reads_the_log_not_the_schedd(pool):
    r = tool(pool, "-userlog", str(CLI / "user-logs" / "exit3.log"), "-af", "ClusterId", "ExitCode", "Cmd")
    assert (r.returncode, r.stdout, r.stderr) == (0, "2 3 ???\n", "")
    r = tool(pool, "-userlog", "/nonexistent/x.log")
    assert (r.returncode, r.stderr) == (1, "Error: Can't open userlog /nonexistent/x.log\n")
