"""condor_status: the views against what the real 25.14 tool printed (fed the ads the real
collector returned, from the ``-long`` captures), and the tool run as a command against a
simulated pool."""
from __future__ import annotations

import calendar
import os
import subprocess
import sys
import time

import classad2
import pytest

from support.clock import utc  # noqa: F401  (the captures' TZ=UTC, module-wide)
from condor_sim.tools import condor_status as S
from support.captures import CLI, capture

D = CLI / "condor_status"


def _ad(case: str) -> classad2.ClassAd:
    return classad2.parseOne(capture(D / f"{case}.txt")["stdout"])




# The slots: slot1@vm (the partitionable slot) and slot1_2@vm are the ads the real tool printed
# with -long; slot1_1@vm was never printed whole, and its twin slot1_2@vm (same request, same
# start) stands in for it under its own name.
SLOT1 = _ad("long-slot1")
SLOT1_2 = _ad("long-limit1")
SLOT1_1 = _ad("long-limit1")
SLOT1_1["Name"] = "slot1_1@vm"
SLOTS = [SLOT1_2, SLOT1, SLOT1_1]            # the collector's order is not the tool's
SCHEDD = _ad("schedd-long")
VERSION = SLOT1["CondorVersion"]
HEARD = SCHEDD["LastHeardFrom"]


def _make(**attrs) -> classad2.ClassAd:
    ad = classad2.ClassAd()
    for k, v in attrs.items():
        ad[k] = v
    return ad


# The other daemons' ads were not captured whole; these carry the attributes the views read,
# with the values the captured views show.
MASTER = _make(MyType="DaemonMaster", Name="vm", Machine="vm", CondorVersion=VERSION,
               DetectedCpus=2, DetectedMemory=24105, LastHeardFrom=HEARD,
               DaemonStartTime=HEARD - 5,
               MasterIpAddr="<127.0.0.1:38575?addrs=127.0.0.1-38575&alias=vm>")
STARTD = _make(MyType="StartD", Name="vm", Machine="vm", CondorVersion=VERSION, Arch="X86_64",
               OpSys="LINUX", OpSysAndVer="Debian12", DetectedCpus=2, DetectedMemory=24105,
               DetectedGPUs=0, DaemonStartTime=SLOT1["DaemonStartTime"],
               LastHeardFrom=SLOT1["DaemonStartTime"] + 122, TotalSlots=3, TotalCpus=2,
               TotalGPUs=0, TotalMemory=24105, TotalInUseCpus=2, TotalInUseMemory=256)
NEGOTIATOR = _make(MyType="Negotiator", Name="vm", Machine="vm",
                   LastNegotiationCycleEnd0=calendar.timegm((2026, 11, 28, 20, 0, 30, 0, 0, 0)),
                   **{f"LastNegotiationCycle{k}0": 0 for k in (
                       "Duration", "CandidateSlots", "ActiveSubmitterCount", "NumSchedulers",
                       "NumIdleJobs", "Matches", "Rejections")})
COLLECTOR = _make(MyType="Collector", Name="My Pool - 127.0.0.1@vm", Machine="vm",
                  RunningJobs=0, IdleJobs=0, HostsTotal=0)
SUBMITTER = _make(MyType="Submitter", Name="htcpool@localdomain", Machine="vm",
                  RunningJobs=2, IdleJobs=3, HeldJobs=2)
ACCOUNTING = [_make(MyType="Accounting", Name="<none>"),
              _make(MyType="Accounting", Name="htcpool@localdomain")]
ANY = ACCOUNTING + [COLLECTOR, SUBMITTER] + SLOTS + [STARTD, SCHEDD, MASTER, NEGOTIATOR]

BY_TYPE = {"Startd": SLOTS, "Schedd": [SCHEDD], "Master": [MASTER], "StartDaemon": [STARTD],
           "Negotiator": [NEGOTIATOR], "Collector": [COLLECTOR], "Submitter": [SUBMITTER],
           "Any": ANY}


def run_case(argv: list[str], ads_by_type=BY_TYPE) -> str:
    """What main() prints for these arguments, with the collector's answer taken from the
    captured ads (its constraint applied by the ClassAd library, and the tool's projection,
    so the captures also check that the projection holds all that the tool prints)."""
    o = S.parse_args(argv)
    ads = ads_by_type[S.AD_TYPES[o.view]]
    constraint = S.constraint_of(o)
    if constraint:
        expr = classad2.ExprTree(constraint)
        ads = [a for a in ads if expr.eval(a) is True]
    names = S.projection_of(o)
    if names:
        ads = [S._only(a, names) for a in ads]     # as the collector projects them
    return S.output(o, ads)


MATCHED = ["noargs", "pool", "total", "name-slot1", "name-unknown", "constraint-unclaimed",
           "constraint-nomatch", "avail", "compact", "any", "wide-any", "master", "master-af",
           "schedd", "run", "submitters", "negotiator", "collector", "startd",
           "af-h-name-cpus", "af-ln-name-cpus", "af-comma-name-cpus", "af-name-state-activity",
           "af-undefined-attr", "format-name", "format-name-cpus", "sort-name",
           "attributes-long", "long-slot1", "long-limit1", "json-limit1", "xml-limit1",
           "schedd-long"]


@pytest.mark.parametrize("case", MATCHED)
def test_views_match_the_real_tool_byte_for_byte(case):
    c = capture(D / f"{case}.txt")
    argv = [a for a in c["argv"]]
    if "-pool" in argv:                       # the pool only says where to ask
        i = argv.index("-pool")
        del argv[i:i + 2]
    assert c["rc"] == 0
    assert run_case(argv) == c["stdout"]


def test_claimed_view_matches_with_the_load_the_startd_reported_then():
    # -claimed ran a second after the -long captures: by then each dynamic slot reported
    # LoadAvg 0.25 (the machine's TotalLoadAvg 0.5 over its two cpus); the rest is as captured.
    slots = []
    for ad in SLOTS:
        ad = classad2.parseOne(ad.printOld())
        if ad.get("DynamicSlot") is True:
            ad["LoadAvg"] = 0.25
        slots.append(ad)
    c = capture(D / "claimed.txt")
    assert run_case(c["argv"], {**BY_TYPE, "Startd": slots}) == c["stdout"]


def test_ads_are_sorted_by_machine_then_name_with_numbers_by_value():
    ads = [_make(Name=n, Machine="m") for n in ("slot10@m", "slot2@m", "slot1_10@m", "slot1_9@m")]
    assert [a["Name"] for a in S.sort_ads(ads, ["Machine", "Name"])] == \
        ["slot1_9@m", "slot1_10@m", "slot2@m", "slot10@m"]
    assert S.sort_ads(ads, []) == ads


def test_renderers_of_values():
    assert S.metric_units(24105 * 1024.0 * 1024) == "23.5 GB"
    assert S.version(SLOT1) == "25.14.0.PRE"
    assert S.version(_make(CondorVersion="$CondorVersion: 24.0.1 2024-10-31 BuildID: 765651 $")) \
        == "24.0.1.765651"
    assert S.platform(SLOT1) == "x64/Debian12"
    assert S.format_time(93784) == "1+02:03:04"


@pytest.mark.parametrize("case", ["unknown-option", "help", "constraint-syntax-error",
                                  "direct-schedd"])
def test_errors_print_what_the_real_tool_prints(case, capsys):
    c = capture(D / f"{case}.txt")
    rc = S.main(c["argv"])
    out, err = capsys.readouterr()
    assert (rc, out, err) == (c["rc"], c["stdout"], c["stderr"])


def test_a_pool_nobody_answers_at(capsys):
    c = capture(D / "pool-unreachable.txt")
    rc = S.main(c["argv"])
    out, err = capsys.readouterr()
    assert (rc, out, err) == (1, "", c["stderr"])


# ------------------------------------------------------------------------------ a pool
HELD = """
import htcondor2
s = htcondor2.Schedd()
s.submit(htcondor2.Submit({"executable": "/bin/sleep", "arguments": "60", "hold": "true"}))
return 0
"""


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    from support.pools import client, running_pool
    with running_pool(tmp_path_factory.mktemp("status") / "p") as p:
        client(p, HELD)
        yield p


def status(pool, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, CONDOR_CONFIG=str(pool.config_file), TZ="UTC")
    return subprocess.run([sys.executable, "-m", "condor_sim.tools.condor_status", *args],
                          env=env, capture_output=True, text=True, timeout=60)


def until(pool, args: tuple, ok, timeout: float = 20) -> subprocess.CompletedProcess:
    """Run condor_status until ``ok(result)`` (ads reach the collector on their own time)."""
    deadline = time.monotonic() + timeout
    while True:
        r = status(pool, *args)
        if ok(r) or time.monotonic() > deadline:
            return r
        time.sleep(0.2)


def test_pool_daemon_views(pool):
    r = until(pool, ("-schedd",), lambda r: " 1\n" in r.stdout)
    lines = r.stdout.split("\n")
    assert r.returncode == 0 and r.stderr == ""
    assert lines[0] == "Name            Machine      RunningJobs   IdleJobs   HeldJobs"
    assert lines[2].split()[-3:] == ["0", "0", "1"]
    assert "TotalRunningJobs      TotalIdleJobs      TotalHeldJobs" in r.stdout
    assert r.stdout.endswith("0                  0                  1\n")
    r = status(pool, "-master")
    assert r.stdout.startswith("Name ") and "Uptime" in r.stdout.split("\n")[0]
    r = status(pool, "-collector")
    assert r.stdout.split("\n")[0].split() == ["Name", "Machine", "RunningJobs", "IdleJobs", "HostsTotal"]
    r = until(pool, ("-submitters",), lambda r: "HeldJobs" in r.stdout)
    assert r.stdout.split("\n")[2].split()[-3:] == ["0", "0", "1"]
    assert r.stdout.rstrip("\n").split("\n")[-1].split() == ["Total", "0", "0", "1"]


def test_pool_any_af_long_and_total(pool):
    r = until(pool, ("-any",), lambda r: "Submitter" in r.stdout)
    lines = r.stdout.split("\n")
    assert lines[0].startswith("MyType             TargetType         Name ")
    types = [line.split()[0] for line in lines[2:] if line]
    assert {"DaemonMaster", "Scheduler", "Collector", "Submitter"} <= set(types)
    r = status(pool, "-schedd", "-af", "Name", "TotalHeldJobs")
    assert r.returncode == 0 and r.stdout.endswith(" 1\n") and r.stdout.count("\n") == 1
    ad = classad2.parseOne(status(pool, "-master", "-long").stdout)
    assert ad["MyType"] == "DaemonMaster"
    r = status(pool, "-schedd", "-long", "-attributes", "Name,TotalHeldJobs")
    assert r.stdout == f"Name = {classad2.quote(ad['Name'])}\nTotalHeldJobs = 1\n\n"
    assert status(pool, "-total").stdout == ""           # no startd: no slots to total
    assert status(pool).stdout == ""
    r = status(pool, "-schedd", "-total")
    assert r.stdout.startswith("\n                TotalRunningJobs")


def test_pool_errors(pool):
    r = status(pool, "-constraint", "State == == 1")
    assert (r.returncode, r.stdout, r.stderr) == (1, "", "Error: invalid constraint\n\n")
    r = status(pool, "-bogusopt")
    assert r.returncode == 1 and r.stderr.startswith("Error:  Unknown option -bogusopt\nUsage: ")
    r = status(pool, "-any", "nosuch@nowhere")
    assert (r.returncode, r.stdout) == (0, "")
    r = status(pool, "-pool", "127.0.0.1:1")
    assert r.returncode == 1 and r.stderr == capture(D / "pool-unreachable.txt")["stderr"]
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("argv, stderr", [
    (["-af"], "Error: Argument -af requires at least one attribute parameter\n"),
    (["-format", "%s"], "condor_status: -format requires two other arguments\n"),
    (["-constraint"], "condor_status: -constraint requires another argument\n"),
])
def test_missing_arguments_say_so_as_the_real_tool_does(argv, stderr, capsys):
    assert S.main(argv) == 1
    out, err = capsys.readouterr()
    assert (out, err) == ("", stderr + 'Use "condor_status -help" for details\n')


# ------------------------------------------------------------------------------ more captures
def _generic(path: str) -> list[classad2.ClassAd]:
    return list(classad2.parseAds((CLI / "input-files" / path).read_text()))


def test_final_any_with_the_advertised_generic_ads_matches_the_real_tool():
    # the pool's last moment: the generic ads condor_advertise left (clicap-generic-2
    # invalidated) among the daemons' ads, the collector's order not the tool's
    stdin_ad = _make(MyType="Generic", Name="clicap-generic-stdin")
    generic = _generic("generic.ad") + _generic("generic-multi.ad")[1:] + [stdin_ad]
    c = capture(D / "final-any.txt")
    assert c["rc"] == 0
    assert run_case(c["argv"], {**BY_TYPE, "Any": generic + ANY}) == c["stdout"]


def test_schedd_view_with_the_schedd_off_prints_nothing():
    # the schedd's ad invalidated when it was turned off: the collector has none
    c = capture(D / "schedd-off-schedd.txt")
    assert (run_case(c["argv"], {**BY_TYPE, "Schedd": []}), c["rc"]) == (c["stdout"], 0) == ("", 0)


def test_generic_view_asks_for_the_generic_ads_only():
    # condor_advertise's after-invalidate query: clicap-generic-2 gone, the daemons' ads not shown
    c = capture(CLI / "condor_advertise" / "after-invalidate-query.txt")
    stdin_ad = _make(MyType="Generic", Name="clicap-generic-stdin")
    generic = _generic("generic.ad") + _generic("generic-multi.ad")[1:] + [stdin_ad]
    assert S.AD_TYPES[S.parse_args(c["argv"]).view] == "Generic"
    assert run_case(c["argv"], {**BY_TYPE, "Generic": generic}) == c["stdout"]
