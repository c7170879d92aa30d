"""condor_off/on/restart/reconfig/reschedule, condor_ping and condor_who: what they print
against what the real 25.14 tools printed (fixtures/cli), and the tools run as commands
against a simulated pool (the master's DC_QUERY_READY included)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import classad2
import pytest

from support.captures import CLI, capture

from condor_sim.daemons.master import admin as A
from condor_sim.tools import condor_ping as P
from condor_sim.tools import condor_who as W
from condor_sim.tools import daemon_control as D

CONTROL = ("condor_off", "condor_on", "condor_restart", "condor_reconfig", "condor_reschedule")




def cases(tool: str) -> list[str]:
    return sorted(p.stem for p in (CLI / tool).glob("*.txt"))


# ------------------------------------------------------------------------------ daemon control
@pytest.mark.parametrize("tool", CONTROL)
def test_help_and_invalid_argument_print_the_real_usage(tool, capsys):
    main = getattr(D, tool.split("_", 1)[1] + "_main")
    for case in ("help", "unknown-option"):
        if not (CLI / tool / f"{case}.txt").exists():
            continue
        c = capture(CLI / tool / f"{case}.txt")
        assert main(c["argv"]) == c["rc"]
        got = capsys.readouterr()
        assert (got.out, got.err) == (c["stdout"], c["stderr"])


SENT_CASES = [(t, c) for t in CONTROL for c in cases(t)
              if capture(CLI / t / f"{c}.txt")["stdout"].startswith("Sent")]


@pytest.mark.parametrize("tool,case", SENT_CASES)
def test_the_sent_line_names_the_command_and_the_daemon_as_the_real_tool(tool, case):
    c = capture(CLI / tool / f"{case}.txt")
    o = D.parse_args(tool, c["argv"])
    p = D.plan(o)
    sent = D.wire_command(o, p, to_master=p.real_type == "master")
    assert D.sent_line(o, p, sent, f"local {p.real_type}") == c["stdout"]


def test_what_goes_on_the_wire():
    def wire(tool, *argv):
        o = D.parse_args(tool, list(argv))
        p = D.plan(o)
        return p.real_type, D.wire_command(o, p, to_master=p.real_type == "master"), o.subsys
    assert wire("condor_off", "-daemon", "schedd") == ("master", D.DAEMON_OFF, "schedd")
    assert wire("condor_off", "-fast", "-daemon", "schedd") == ("master", D.DAEMON_OFF_FAST, "schedd")
    assert wire("condor_off", "-peaceful", "-schedd") == ("master", D.DAEMON_OFF_PEACEFUL, "schedd")
    assert wire("condor_off") == ("master", D.DAEMONS_OFF, None)
    assert wire("condor_off", "-fast") == ("master", D.DAEMONS_OFF_FAST, None)
    assert wire("condor_off", "-master") == ("master", D.DC_OFF_GRACEFUL, "master")
    assert wire("condor_on") == ("master", D.DAEMONS_ON, None)
    assert wire("condor_on", "-daemon", "schedd") == ("master", D.DAEMON_ON, "schedd")
    assert wire("condor_restart") == ("master", D.RESTART, None)
    assert wire("condor_restart", "-peaceful") == ("master", D.RESTART_PEACEFUL, None)
    assert wire("condor_restart", "-daemon", "schedd") == ("schedd", D.DC_OFF_GRACEFUL, "schedd")
    assert wire("condor_restart", "-fast", "-schedd") == ("schedd", D.DC_OFF_FAST, "schedd")
    assert wire("condor_reconfig", "-collector") == ("collector", D.DC_RECONFIG_FULL, "collector")
    assert wire("condor_reschedule") == ("schedd", D.RESCHEDULE, None)


def test_option_errors(capsys):
    with pytest.raises(D.ToolError) as e:
        D.parse_args("condor_on", ["-fast"])
    assert e.value.stderr.startswith('ERROR: "-fast" is not valid with condor_on\nUsage: condor_on ')
    with pytest.raises(D.ToolError) as e:
        D.parse_args("condor_reschedule", ["-schedd"])
    assert e.value.stderr.startswith("ERROR: Can't specify a daemon flag with condor_reschedule.\n")
    with pytest.raises(D.ToolError) as e:
        D.parse_args("condor_off", ["-schedd", "-startd"])
    assert e.value.stderr.startswith("ERROR: can only specify one daemon flag.\n")


@pytest.mark.parametrize("tool,case", [("condor_off", "name-unknown"), ("condor_reconfig", "name-unknown"),
                                       ("condor_reconfig", "daemon-bogus"),
                                       ("condor_reschedule", "name-unknown"),
                                       ("condor_reschedule", "schedd-off")])
def test_daemons_that_cannot_be_found_fail_as_the_real_tool(tool, case, monkeypatch):
    c = capture(CLI / tool / f"{case}.txt")
    monkeypatch.setattr(D, "query_ads", lambda kind, pool, constraint: [])
    monkeypatch.setattr(D, "locate_local", lambda kind, subsys: None)
    assert D.run(D.parse_args(tool, c["argv"])) == (c["stdout"], c["stderr"], c["rc"])


# ------------------------------------------------------------------------------ condor_ping
def read_ad() -> classad2.ClassAd:
    """The session ad of the captured ``condor_ping -long READ``."""
    text = capture(CLI / "condor_ping" / "long-read.txt")["stdout"].split("\n", 1)[1]
    return classad2.parseOne(text, parser=classad2.Parser.Old)


def write_ad() -> classad2.ClassAd:
    ad = read_ad()
    ad.update({"Authentication": "YES", "MyRemoteUserName": "htcpool@localdomain",
               "AuthCommand": 60021, "Sid": "vm:19402:1795896237:79"})
    return ad


def test_ping_long_matches_the_real_tool():
    c = capture(CLI / "condor_ping" / "long-read.txt")
    assert P.render_long("READ", "local schedd", read_ad(), True) == c["stdout"]


@pytest.mark.parametrize("case", ["write", "noargs", "type-schedd-write"])
def test_ping_sentence_matches_the_real_tool(case):
    c = capture(CLI / "condor_ping" / f"{case}.txt")
    assert P.render_sentence("WRITE", "local schedd", write_ad(), True) == c["stdout"]


def test_ping_tables_match_the_real_tool():
    c = capture(CLI / "condor_ping" / "table-read-write-administrator.txt")
    rows = [P.render_table_row("READ", read_ad(), True), P.render_table_row("WRITE", write_ad(), True),
            P.render_table_row("ADMINISTRATOR", write_ad(), True)]
    assert P.TABLE_HEADER + "".join(rows) == c["stdout"]
    c = capture(CLI / "condor_ping" / "type-master-table-daemon-config.txt")
    rows = [P.render_table_row("DAEMON", write_ad(), True), P.render_table_row("CONFIG", None, None),
            P.render_table_row("NEGOTIATOR", write_ad(), True)]
    assert P.TABLE_HEADER + "".join(rows) == c["stdout"]


def test_ping_verbose_matches_the_real_tool():
    c = capture(CLI / "condor_ping" / "verbose-write.txt")
    version = "$CondorVersion: 25.14.0 2026-11-28 PRE-RELEASE-UWCS $"
    assert P.render_verbose("WRITE", 60021, "local schedd", write_ad(), True, version) == c["stdout"]


def test_ping_af_matches_the_real_tool(capsys):
    c = capture(CLI / "condor_ping" / "af.txt")
    o = P.parse_args(c["argv"])
    assert o.tokens == [] and o.af.attrs[-1] == "WRITE"     # the real tool reads WRITE as an attribute
    result = write_ad()
    result["AuthorizationSucceeded"] = True
    ad, allowed = P.policy_ad(result)
    assert allowed is True
    assert o.af.render([ad]) == c["stdout"]


@pytest.mark.parametrize("case", ["bogus-level"])
def test_ping_token_errors(case, capsys):
    c = capture(CLI / "condor_ping" / f"{case}.txt")
    assert P.main(c["argv"]) == c["rc"]
    got = capsys.readouterr()
    assert (got.out, got.err) == (c["stdout"], c["stderr"])


def test_ping_tokens_become_commands():
    assert P.command_for("READ") == (60020, "DC_NOP_READ")
    assert P.command_for("ALLOW") == (60011, "DC_NOP")
    assert P.command_for("OWNER") == (60024, "DC_NOP_OWNER")
    assert P.command_for("QUERY_JOB_ADS") == (516, "QUERY_JOB_ADS")
    assert P.command_for("60021") == (60021, "DC_NOP_WRITE")
    assert P.command_for("NOTALEVEL") is None
    assert P.parse_args(["-table", "ALL"]).tokens == list(P.ALL_LEVELS)


# ------------------------------------------------------------------------------ condor_who
class FakeDaemon(SimpleNamespace):
    pass


def fake_master(states: dict, addrs: dict, ready: dict):
    """An object with what the master's ready query reads, for the daemons of the capture."""
    daemons = {}
    for name, pid in states.items():
        daemons[name] = FakeDaemon(runs_here=name != "MASTER", pid=pid, ready_state=ready.get(name),
                                   alive_messages=1 if pid else 0, was_not_responding=False,
                                   stop_state="NONE", on_hold=pid == 0, waiting_for_startup=False,
                                   wait_file=None, start_time=1)
    m = SimpleNamespace(daemons=daemons, shutting_down=False, all_gone_action=None,
                        core=SimpleNamespace(sinful=addrs["MASTER"]),
                        _child_address=lambda name: addrs.get(name))
    m._fill_ready_ad = lambda ad, want: A.MasterAdmin._fill_ready_ad(m, ad, want)
    return m


PIDS = {"COLLECTOR": 19397, "MASTER": 19394, "NEGOTIATOR": 19400, "SCHEDD": 19402, "STARTD": 19401}
ADDRS = {"MASTER": "<127.0.0.1:38575?addrs=127.0.0.1-38575&alias=vm>",
         "COLLECTOR": "<127.0.0.1:29731?addrs=127.0.0.1-29731&alias=vm>",
         "NEGOTIATOR": "<127.0.0.1:45603?addrs=127.0.0.1-45603&alias=vm>",
         "SCHEDD": "<127.0.0.1:39467?addrs=127.0.0.1-39467&alias=vm>",
         "STARTD": "<127.0.0.1:36139?addrs=127.0.0.1-36139&alias=vm>"}


@pytest.mark.parametrize("case,pids,addrs,requirements", [
    ("quick", PIDS, True, None),
    ("wait5-isready", PIDS, True, "IsReady"),
    ("quick-schedd-off", {**PIDS, "SCHEDD": 0}, True, None),
    ("wait3-false", PIDS, False, "false"),      # the reply after the wait has no addresses
])
def test_the_masters_ready_reply_prints_as_the_real_condor_who(case, pids, addrs, requirements,
                                                               monkeypatch):
    c = capture(CLI / "condor_who" / f"{case}.txt")
    monkeypatch.setattr(A.os, "getpid", lambda: PIDS["MASTER"])
    m = fake_master(pids, ADDRS, {"STARTD": "Ready"})
    req = classad2.ExprTree(requirements) if requirements else None
    ad, answered = A.MasterAdmin.ready_reply(m, addrs, req)
    assert answered is (requirements != "false")
    assert W.render_ready(ad) == c["stdout"]


MASTER_LOG = """\
11/28/26 20:03:40 ******************************************************
11/28/26 20:03:40 ** condor_master (CONDOR_MASTER) STARTING UP
11/28/26 20:03:40 ** /usr/release/sbin/condor_master
11/28/26 20:03:40 ** PID = 19394 RealUID = 999
11/28/26 20:03:40 ** Log last touched 11/28 20:03:39
11/28/26 20:03:40 ******************************************************
11/28/26 20:03:40 DaemonCore: command socket at <127.0.0.1:38575?addrs=127.0.0.1-38575&alias=vm>
11/28/26 20:03:40 DaemonCore: private command socket at <127.0.0.1:38575?addrs=127.0.0.1-38575&alias=vm>
11/28/26 20:03:40 Started DaemonCore process "/usr/release/sbin/condor_collector", pid and pgroup = 19397
11/28/26 20:03:40 Started DaemonCore process "/usr/release/sbin/condor_negotiator", pid and pgroup = 19400
11/28/26 20:03:40 Started DaemonCore process "/usr/release/sbin/condor_startd", pid and pgroup = 19401
11/28/26 20:03:40 Started DaemonCore process "/usr/release/sbin/condor_schedd", pid and pgroup = 19402
"""
SCHED_LOG = """\
11/28/26 20:03:40 ** condor_schedd (CONDOR_SCHEDD) STARTING UP
11/28/26 20:03:40 ** PID = 19402
11/28/26 20:03:40 ** Log last touched 11/28 20:03:39
11/28/26 20:03:40 DaemonCore: command socket at <127.0.0.1:39467?addrs=127.0.0.1-39467&alias=vm>
"""


def log_dir(tmp_path: Path, master_log: str) -> Path:
    d = tmp_path / "log"
    d.mkdir()
    (d / "MasterLog").write_text(master_log)
    (d / "SchedLog").write_text(SCHED_LOG)
    for name in ("Collector", "Negotiator", "Start"):
        (d / f"{name}Log").write_text("")
    for name in ("master", "collector", "negotiator", "startd"):
        (d / f".{name}_address").write_text(ADDRS[name.upper()] + "\n$CondorVersion: 25.14.0 $\n")
    (d / ".collector_address.super").write_text("<127.0.0.1:1>\n")
    return d


def answers(addr: str, knob: str) -> str | None:
    """What the daemons of the capture answer for PPID and their executable."""
    if addr == ADDRS["SCHEDD"] and knob == "PPID":
        return "19394"
    if knob == "PPID":
        return "19392" if addr == ADDRS["MASTER"] else "19394"
    return f"/usr/release/sbin/condor_{knob.lower()}"


@pytest.mark.parametrize("case,extra", [
    ("daemons", ""),
    ("daemons-schedd-off", "11/28/26 20:06:15 The SCHEDD (pid 19402) exited with status 0\n"),
])
def test_daemons_table_from_the_log_directory_matches_the_real_tool(case, extra, tmp_path):
    c = capture(CLI / "condor_who" / f"{case}.txt")
    d = log_dir(tmp_path, MASTER_LOG + extra)
    info = W.scan_log_dir(str(d))
    got = W.render_daemons("/srv/pool/log", W.daemon_rows(info, answers))
    assert got == c["stdout"]


def test_who_option_errors(capsys):
    c = capture(CLI / "condor_who" / "unknown-option.txt")
    assert W.main(c["argv"]) == c["rc"]
    assert capsys.readouterr().err == c["stderr"]
    o = W.parse_args(["-wait:10", "IsReady"])
    assert (o.quick, o.wait, o.requirements) == (True, 10, "IsReady")
    assert W.parse_args(["-quick"]).quick and W.parse_args(["-daemons"]).daemons
    with pytest.raises(W.C.ToolError) as e:
        W.parse_args(["-wait:5"])
    assert e.value.stderr == "Error: Argument -wait:5 requires a requirements expression\n"


# ------------------------------------------------------------------------------ against a pool
@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    from support.pools import running_pool
    with running_pool(tmp_path_factory.mktemp("control") / "p") as p:
        yield p


def tool(pool, name: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    env = dict(os.environ, CONDOR_CONFIG=str(pool.config_file))
    return subprocess.run([sys.executable, "-m", f"condor_sim.tools.{name}", *args], env=env,
                          capture_output=True, text=True, timeout=timeout)


def ready(pool, requirements: str = "IsReady", wait: int = 20) -> dict:
    r = tool(pool, "condor_who", f"-wait:{wait}", requirements)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    return dict(line.split(" = ", 1) for line in r.stdout.splitlines() if " = " in line)


def master_log(pool) -> str:
    return (pool.directory / "log" / "MasterLog").read_text(errors="replace")


def poll(fn, timeout: float = 20):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(0.1)


def test_who_quick_and_wait_ask_the_master(pool):
    r = tool(pool, "condor_who", "-quick")
    assert r.returncode == 0 and r.stderr == ""
    names = [line.split(" = ")[0] for line in r.stdout.splitlines() if line]
    assert names == sorted(names, key=str.lower)
    got = ready(pool, "IsReady", 10)
    assert got["IsReady"] == "true" and got["SCHEDD"] == '"Alive"' and got["NumDaemons"] == "3"
    assert re.fullmatch(r'"<127\.0\.0\.1:\d+>"', got["SCHEDD_Addr"])
    assert got["MASTER_Addr"] == '"' + (pool.directory / "log" / ".master_address").read_text().split("\n")[0] + '"'
    t0 = time.monotonic()
    got = ready(pool, "false", 2)                   # never true: answered when the wait is up
    assert time.monotonic() - t0 >= 0.9 and "SCHEDD_Addr" not in got


def test_who_daemons_lists_the_pools_daemons(pool):
    r = tool(pool, "condor_who", "-daemons")
    assert r.returncode == 0 and r.stderr == ""
    lines = r.stdout.splitlines()
    assert lines[1] == f'LOG directory "{pool.directory / "log"}"'
    rows = {line.split()[0]: line.split() for line in lines[5:]}
    assert set(rows) == {"Collector", "Master", "Schedd"}
    assert rows["Schedd"][1] == "yes" and rows["Schedd"][-1].endswith("condor_schedd")
    assert rows["Master"][3:5] == ["RealUID", "="]          # the real tool's quirk: the banner's rest


def test_ping_levels_against_the_pool(pool):
    r = tool(pool, "condor_ping", "WRITE")
    assert r.returncode == 0
    assert re.fullmatch(r"WRITE command using \(AES, AES, and FS\) succeeded as \S+ to local schedd\.\n", r.stdout)
    r = tool(pool, "condor_ping", "-table", "READ", "WRITE", "ADMINISTRATOR")
    assert r.stderr == "WARNING: Missing daemon argument, defaulting to SCHEDD.\n"
    lines = r.stdout.splitlines()
    assert lines[0] == P.TABLE_HEADER.rstrip("\n")
    assert [line.split()[0] for line in lines[1:]] == ["READ", "WRITE", "ADMINISTRATOR"]
    assert all(line.split()[4] == "ALLOW" for line in lines[1:])
    r = tool(pool, "condor_ping", "-type", "collector", "-quiet", "DAEMON")
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    r = tool(pool, "condor_ping", "-address", "<127.0.0.1:1>", "-table", "READ")
    assert r.returncode == 1 and r.stderr == "ERROR: failed to make connection to <127.0.0.1:1>\n"


def test_daemon_control_against_the_pool(pool):
    pid0 = int(ready(pool)["SCHEDD_PID"])
    r = tool(pool, "condor_off", "-daemon", "SCHEDD")
    assert (r.returncode, r.stdout, r.stderr) == (0, 'Sent "Kill-Daemon" command for "SCHEDD" to local master\n', "")
    assert poll(lambda: "Handling DAEMON_OFF command for SCHEDD" in master_log(pool))
    held = ready(pool, 'SCHEDD == "Hold"')
    assert held["SCHEDD_PID"] == "0" and held["NumHold"] == "1"
    r = tool(pool, "condor_reschedule")
    assert (r.returncode, r.stderr) == (1, "Can't find address for local schedd\nPerhaps you need to query another pool.\n")

    r = tool(pool, "condor_on", "-daemon", "schedd")
    assert (r.returncode, r.stdout) == (0, 'Sent "Spawn-Daemon" command for "schedd" to local master\n')
    pid1 = int(ready(pool)["SCHEDD_PID"])
    assert pid1 not in (0, pid0)
    # alive (its first keep-alive) comes before its address file, as with a real schedd
    assert poll(lambda: (pool.directory / "spool" / ".schedd_address").exists())

    # (nothing is sent while the schedd cannot be located, so trying again is harmless)
    r = poll(lambda: (x := tool(pool, "condor_restart", "-daemon", "schedd")).returncode == 0 and x)
    assert r and (r.stdout, r.stderr) == ('Sent "Restart" command to local schedd\n', "")
    pid2 = int(ready(pool, f"SCHEDD_PID =!= {pid1} && SCHEDD_PID > 0 && IsReady")["SCHEDD_PID"])
    assert pid2 != pid1

    n = master_log(pool).count("Reconfiguring all managed daemons.")
    r = tool(pool, "condor_reconfig")
    assert (r.returncode, r.stdout) == (0, 'Sent "Reconfig" command to local master\n')
    assert poll(lambda: master_log(pool).count("Reconfiguring all managed daemons.") > n)
    r = tool(pool, "condor_reschedule")
    assert (r.returncode, r.stdout, r.stderr) == (0, 'Sent "Reschedule" command to local schedd\n', "")
    r = tool(pool, "condor_reconfig", "-name", "nosuch@vm")
    assert r.returncode == 1 and r.stderr.endswith("Can't find address for nosuch@vm\n"
                                                   "Perhaps you need to query another pool.\n")


# ------------------------------------------------------------------------------ more captures
# condor_ping run through main() with the daemon's answers taken from the captured sessions:
# the levels a READ session covers (ALLOW, READ, QUERY_JOB_ADS) answer as the captured
# ``-long READ``, the others as the captured WRITE session, and CONFIG (refused by the
# captured collector, no session) fails.
READ_COMMANDS = {"DC_NOP", "DC_NOP_READ", "QUERY_JOB_ADS"}


def ping_main(argv: list[str], capsys, monkeypatch, where=("<127.0.0.1:1>", "local schedd")):
    asked = []

    def answer(addr, name):
        asked.append(name)
        if name == "DC_NOP_CONFIG":
            return None, "refused"
        result = read_ad() if name in READ_COMMANDS else write_ad()
        result["AuthorizationSucceeded"] = True
        return P.policy_ad(result)
    monkeypatch.setattr(P, "locate", lambda o: where)
    monkeypatch.setattr(P, "_reachable", lambda addr: True)
    monkeypatch.setattr(P, "ping_one", answer)
    rc = P.main(argv)
    got = capsys.readouterr()
    return got.out, got.err, rc, asked


@pytest.mark.parametrize("case", ["command-name", "quiet-write", "type-collector-table-all",
                                  "type-startd-table-read"])
def test_ping_cases_through_main_match_the_real_tool(case, capsys, monkeypatch):
    c = capture(CLI / "condor_ping" / f"{case}.txt")
    out, err, rc, asked = ping_main(c["argv"], capsys, monkeypatch)
    assert (out, err, rc) == (c["stdout"], c["stderr"], c["rc"])
    assert len(asked) == len(P.parse_args(c["argv"]).tokens)


def test_ping_with_the_schedd_off_matches_the_real_tool(tmp_path):
    # a pool whose collector does not answer and that has no schedd address file
    c = capture(CLI / "condor_ping" / "schedd-off-write.txt")
    config = tmp_path / "condor_config"
    config.write_text("COLLECTOR_HOST = 127.0.0.1:9\nFULL_HOSTNAME = vm\n")
    env = dict(os.environ, CONDOR_CONFIG=str(config))
    r = subprocess.run([sys.executable, "-m", "condor_sim.tools.condor_ping", *c["argv"]], env=env,
                       capture_output=True, text=True, timeout=60)
    assert (r.stdout, r.stderr, r.returncode) == (c["stdout"], c["stderr"], c["rc"])


def test_who_af_of_the_claimed_slots_matches_the_real_tool(monkeypatch):
    # the captured slot1_2@vm (running 5.1) and its twin slot1_1@vm, running 5.0 then
    c = capture(CLI / "condor_who" / "af-name.txt")
    two = classad2.parseOne(capture(CLI / "condor_status" / "long-limit1.txt")["stdout"])
    one = classad2.parseOne(capture(CLI / "condor_status" / "long-limit1.txt")["stdout"])
    one.update({"Name": "slot1_1@vm", "JobId": "5.0"})
    idle = classad2.parseOne(capture(CLI / "condor_status" / "long-slot1.txt")["stdout"])
    seen = []

    def ads(addr, constraint):
        seen.append(constraint)
        expr = classad2.ExprTree(constraint)
        return [a for a in (one, two, idle) if expr.eval(a) is True]
    monkeypatch.setattr(W, "startd_ads", ads)
    o = W.parse_args(c["argv"])
    assert W.startd_view(o, ADDRS["STARTD"]) == c["stdout"]
    assert seen == ["JobId =!= undefined"] and c["rc"] == 0


RESTART_LOG = MASTER_LOG + """\
11/28/26 20:06:15 The SCHEDD (pid 19402) exited with status 0
11/28/26 20:06:26 Started DaemonCore process "/usr/release/sbin/condor_schedd", pid and pgroup = 25430
"""
RESTARTED_SCHEDD = "<127.0.0.1:40795?addrs=127.0.0.1-40795&alias=vm>"


def test_daemons_table_after_the_schedd_restarted_matches_the_real_tool(tmp_path):
    # the master's log names the schedd's new pid; its own log, its new address
    c = capture(CLI / "condor_who" / "daemons-after-restart.txt")
    d = log_dir(tmp_path, RESTART_LOG)
    (d / "SchedLog").write_text(SCHED_LOG.replace("19402", "25430").replace(ADDRS["SCHEDD"],
                                                                              RESTARTED_SCHEDD))
    info = W.scan_log_dir(str(d))

    def asked(addr, knob):
        return "19394" if addr == RESTARTED_SCHEDD and knob == "PPID" else answers(addr, knob)
    assert W.render_daemons("/srv/pool/log", W.daemon_rows(info, asked)) == c["stdout"]
