"""condor_config_val and condor_version: the local cases run against the captured pool's own
config (``fixtures/cli/pool-condor_config``, its LOCAL_DIR moved to a temporary
directory) and compared byte for byte with what the real 25.14 tools printed; the remote
cases, and -set/-rset/-unset/-runset end to end, against a simulated pool."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from condor_sim import CONDOR_PLATFORM, CONDOR_VERSION
from condor_sim.tools import _param_info
from condor_sim.tools import condor_config_val as CV
from condor_sim.tools import condor_version as V
from support.captures import CLI, capture
from support.pools import running_pool

REPO = Path(__file__).resolve().parent.parent
REAL_VERSION = "$CondorVersion: 25.14.0 2026-11-28 PRE-RELEASE-UWCS $"
REAL_PLATFORM = "$CondorPlatform: X86_64-Debian_12 $"




def run(module: str, argv: list[str], config: Path | str, cwd: Path | None = None,
        env: dict | None = None) -> subprocess.CompletedProcess:
    e = {k: v for k, v in os.environ.items() if not k.startswith("_CONDOR_")}
    e.update({"CONDOR_CONFIG": str(config), "PYTHONPATH": str(REPO)}, **(env or {}))
    return subprocess.run([sys.executable, "-m", f"condor_sim.tools.{module}", *argv],
                          capture_output=True, text=True, cwd=cwd, env=e, timeout=60)


# ---------------------------------------------------------------------------- the captured pool
@pytest.fixture(scope="module")
def srv(tmp_path_factory) -> Path:
    """The captured pool's LOCAL_DIR, with its condor_config, at a temporary path."""
    pool = tmp_path_factory.mktemp("srv") / "pool"
    for d in ("log", "spool", "execute", "lock", "run", "jobs", "passwords.d", "tokens.d"):
        (pool / d).mkdir(parents=True)
    text = (CLI / "pool-condor_config").read_text().replace("/srv/pool", str(pool))
    (pool / "condor_config").write_text(text)
    return pool


def masked(text: str, pool: Path) -> str:
    return (text.replace(str(pool), "/srv/pool").replace(CONDOR_VERSION, REAL_VERSION)
            .replace(CONDOR_PLATFORM, REAL_PLATFORM))


def run_case(case: str, pool: Path, module: str = "condor_config_val"):
    c = capture(CLI / module / f"{case}.txt")
    argv = [a.replace("/srv/pool", str(pool)) for a in c["argv"]]
    r = run(module, argv, pool / "condor_config", cwd=pool / "jobs",
            env={"_CONDOR_FULL_HOSTNAME": "vm", "_CONDOR_HOSTNAME": "vm"})
    return c, r


needs_engine = pytest.mark.skipif(_param_info.engine() is None,
                                  reason="the config engine's metadata is not reachable here")

LOCAL_EXACT = [
    "knob-collector_host", "knob-lowercase", "knob-multiple", "knob-multiple-with-missing",
    "knob-schedd_interval", "not_a_knob", "verbose-not_a_knob", "v-schedd_interval",
    "expanded-log", "local-name", "macro", "subsystem-schedd-schedd_interval", "trace-schedd_interval",
    "config", "help", "noargs", "unknown-option", "version",
]
LOCAL_EXACT_ENGINE = [
    "v-log", "raw-log", "default-log", "default-schedd_interval", "subsystem-schedd-log",
    "use-role", "use-role-personal", "use-bogus", "dump-expanded-regex",
    "summary", "write-up", "writeconfig-file-only",
]


@pytest.mark.parametrize("case", LOCAL_EXACT)
def test_local_case_matches_the_real_tool(case, srv):
    c, r = run_case(case, srv)
    assert (masked(r.stdout, srv), masked(r.stderr, srv), r.returncode) == \
        (c["stdout"], c["stderr"], c["rc"])


@needs_engine
@pytest.mark.parametrize("case", LOCAL_EXACT_ENGINE)
def test_local_case_with_metadata_matches_the_real_tool(case, srv):
    c, r = run_case(case, srv)
    assert (masked(r.stdout, srv), masked(r.stderr, srv), r.returncode) == \
        (c["stdout"], c["stderr"], c["rc"])
    written = CLI / "condor_config_val" / f"{case}.file.txt"
    if written.exists():
        path = Path(c["argv"][-1].replace("/srv/pool", str(srv)))
        head = "".join(path.read_text().splitlines(keepends=True)[:200])
        assert masked(head, srv) == capture(written)["stdout"]


# Lines the wheel's defaults table (25.14.1) has and the captured 25.14.0 build did not,
# or spells differently: the rest of a -dump is the same, line for line.
WHEEL_ONLY = {"METRICD_INTERVAL = 60", "ANNEX_USE_OLD_CREATE = False",
              "ADSTASH_SE_INDEX_NAME = htcondor"}
CAPTURE_ONLY = {"ADSTASH_SE_INDEX_NAME = htcondor-000001"}


@needs_engine
@pytest.mark.parametrize("case", ["dump", "dump-regex-interval"])
def test_dump_matches_the_real_tool_but_for_the_defaults_table_version(case, srv):
    c, r = run_case(case, srv)
    ours = masked(r.stdout, srv).splitlines()
    theirs = c["stdout"].splitlines()
    assert r.returncode == c["rc"] == 0 and r.stderr == ""
    ours = [line for line in ours if line not in WHEEL_ONLY]
    theirs = [line for line in theirs if line not in CAPTURE_ONLY]
    assert ours[:len(theirs)] == theirs
    if case == "dump":                         # the capture keeps the first 200 of 1228 lines
        assert 1200 < len(ours) < 1260 and ours[-2:] == ["# Contributing configuration file(s):",
                                                         "#\t/srv/pool/condor_config"]


def test_herefile_values_are_trimmed_and_indented():
    assert CV.herefile("a\n    b(\n\n  c", "   ") == "@=end\n   a\n   b(\n   c\n@end"
    assert CV.herefile("one line", "   ") == "= one line"


def test_fallback_location_reads_the_files(srv, monkeypatch):
    """Without the engine: the last NAME = line of the files, its text as the raw value."""
    class Cfg:
        def where_defined(self, name):
            return (str(srv / "condor_config"), 21) if name == "SCHEDD_INTERVAL" else None
    info = CV.fallback_info("SCHEDD_INTERVAL", "5", Cfg())
    assert info == CV.LocalInfo("SCHEDD_INTERVAL", "5", None, f"{srv}/condor_config, line 21")
    assert CV.fallback_info("NOT_A_KNOB", None, Cfg()) is None
    assert CV.fallback_info("LOG", "/x/log", Cfg()).location == "<Default>"


def test_without_the_engine_plain_lookups_still_work(srv):
    r = run("condor_config_val", ["-v", "SCHEDD_INTERVAL", "NOT_A_KNOB"], srv / "condor_config",
            env={"CONDOR_SIM_NO_PARAM_INFO": "1"})
    assert r.stdout == (f"SCHEDD_INTERVAL = 5\n # at: {srv}/condor_config, line 21\n"
                        " # raw: SCHEDD_INTERVAL = 5\n\n\n")
    assert (r.stderr, r.returncode) == ("Not defined: NOT_A_KNOB\n", 1)


def test_set_arguments_refused_before_connecting():
    with pytest.raises(CV.ToolError) as e:
        CV.config_name_for("set", "FOO bar", False)
    assert e.value.stderr == ('condor_config_val: Can\'t set configuration value ("FOO bar")\n'
                              'You must specify "macro_name = value" or "expr_name : value"\n')
    with pytest.raises(CV.ToolError) as e:
        CV.config_name_for("unset", "FOO = 1", False)
    assert "To unset, you only specify the name of the attribute" in e.value.stderr
    assert CV.config_name_for("set", "  Foo = bar", False) == ("foo", "Foo = bar")
    assert CV.config_name_for("rset", "Foo = bar", True) == ("Foo", "Foo = bar")
    assert CV.config_name_for("runset", "Foo", False) == ("foo", "Foo")


def test_argument_errors():
    with pytest.raises(CV.ToolError) as e:
        CV.parse_args(["-name"])
    assert (e.value.stderr, e.value.rc) == ("-name requires an argument\n", 1)
    o = CV.parse_args(["-sched", "-v", "-set", "A = 1"])
    assert (o.daemon, o.verbose, o.mode, o.ask, o.params) == ("schedd", True, "set", True, ["A = 1"])
    assert CV.parse_args(["-write:up", "f"]).write_flags == CV.WriteFlags()   # "up" is too short


# ---------------------------------------------------------------------------- condor_version
@pytest.mark.parametrize("case", ["noargs", "arch", "opsys", "help", "syscall", "unknown-option"])
def test_condor_version_cases(case, srv):
    c = capture(CLI / "condor_version" / f"{case}.txt")
    r = run("condor_version", c["argv"], srv / "condor_config")
    arch, opsys = V.platform_parts()
    theirs = c["stdout"].replace("X86_64\n", arch + "\n").replace("Debian_12\n", opsys + "\n")
    assert (masked(r.stdout, srv), r.stderr, r.returncode) == \
        (masked(theirs, srv), c["stderr"], c["rc"])


def test_condor_version_order_and_strings():
    assert V.render(["-opsys", "-arch"]) == "Simulated\nX86_64\n"
    assert V.render(["-arch", "-opsys"]) == "X86_64\nSimulated\n"
    assert V.render([]) == f"{CONDOR_VERSION}\n{CONDOR_PLATFORM}\n"
    with pytest.raises(V.ToolError) as e:
        V.render(["word"])
    assert e.value.stderr.startswith("ERROR: invalid argument: 'word'\nUsage: condor_version")


# ---------------------------------------------------------------------------- a simulated pool
SINFUL = re.compile(r"<127\.0\.0\.1:\d+\?[^>]*>")


def unaddressed(text: str) -> str:
    return SINFUL.sub("<ADDR>", text)


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    with running_pool(tmp_path_factory.mktemp("cv") / "p", SCHEDD_INTERVAL="5") as p:
        yield p


@pytest.fixture(scope="module")
def full_pool(tmp_path_factory):
    """Five daemons, with the knobs the captures' pool had, so their answers are the
    captured ones."""
    from support.pools import FIVE_DAEMONS
    with running_pool(tmp_path_factory.mktemp("cv5") / "p", SCHEDD_INTERVAL="5", NEGOTIATOR_INTERVAL="2",
                      NUM_CPUS="2", DAEMON_LIST=FIVE_DAEMONS) as p:
        yield p


def ccv(pool, *argv: str) -> subprocess.CompletedProcess:
    return run("condor_config_val", list(argv), pool.config_file)


@pytest.mark.parametrize("case", ["schedd-remote", "master-remote", "schedd-evaluate", "collector-remote",
                                  "negotiator-remote", "startd-remote-num_cpus"])
def test_remote_values_match_the_real_tool(full_pool, case):
    """Each daemon asked for its own value (DC_CONFIG_VAL), on a pool with the captured
    pool's knobs."""
    c = capture(CLI / "condor_config_val" / f"{case}.txt")
    r = ccv(full_pool, *c["argv"])
    assert (r.stdout, r.stderr, r.returncode) == (c["stdout"], c["stderr"], c["rc"])


WHERE = re.compile(r"(?m)^ # at: \S+, line \d+$")


@pytest.mark.parametrize("case", ["schedd-remote-v", "master-remote-v"])
def test_remote_verbose_says_where_as_the_local_lookup_does(pool, case):
    """-v remotely: the daemon's answer of where the value was set (the file and line of
    our pool's config, not the captured pool's)."""
    c = capture(CLI / "condor_config_val" / f"{case}.txt")
    remote = ccv(pool, *c["argv"])
    local = ccv(pool, "-v", "SCHEDD_INTERVAL")
    assert remote.returncode == local.returncode == c["rc"] == 0
    assert remote.stdout == local.stdout
    assert WHERE.sub(" # at: FILE", remote.stdout) == WHERE.sub(" # at: FILE", c["stdout"])
    assert f" # at: {pool.directory}/" in remote.stdout


@pytest.mark.parametrize("case", ["schedd-remote-not_a_knob", "address-unreachable", "name-vm-master"])
def test_remote_cases_match_the_real_tool(pool, case):
    c = capture(CLI / "condor_config_val" / f"{case}.txt")
    r = ccv(pool, *c["argv"])
    assert (r.stdout, r.stderr, r.returncode) == (c["stdout"], c["stderr"], c["rc"])


def test_remote_by_address(pool):
    """-address: the captured pool's master address replaced by ours.  (address-remote,
    COLLECTOR_HOST asked of the collector, is left out: the captured pool named a fixed
    port there, ours says port 0 and lets the collector choose.)"""
    c = capture(CLI / "condor_config_val" / "address-master-remote.txt")
    argv = [pool.address("MASTER") if a.startswith("<") else a for a in c["argv"]]
    r = ccv(pool, *argv)
    assert (r.stdout, r.stderr, r.returncode) == (c["stdout"], c["stderr"], c["rc"])


def test_daemon_that_is_not_there(pool):
    r = ccv(pool, "-negotiator", "NEGOTIATOR_INTERVAL")
    assert (r.stdout, r.stderr, r.returncode) == (
        "", "Can't find address for negotiator 'default' in local pool\n"
            "Perhaps you need to query another pool.\n", 1)


@pytest.mark.parametrize("case", ["set-refused", "set-schedd-refused", "rset-refused",
                                  "rset-schedd-refused", "unset-refused"])
def test_refused_settings_match_the_real_tool(pool, case):
    """Without ENABLE_*_CONFIG and SETTABLE_ATTRS_*: the daemon answers -1."""
    c = capture(CLI / "condor_config_val" / f"{case}.txt")
    r = ccv(pool, *c["argv"])
    assert (r.stdout, r.returncode) == (c["stdout"], c["rc"])
    assert unaddressed(r.stderr) == unaddressed(c["stderr"])


def _reconfig_until(pool, daemon: str, knob: str, want: str) -> None:
    from support.pools import client
    client(pool, f"""
import htcondor2, time
ad = htcondor2.Collector().locate(htcondor2.DaemonType.{daemon.capitalize()})
htcondor2.send_command(ad, htcondor2.DaemonCommand.Reconfig)
deadline = time.time() + 10
while time.time() < deadline and htcondor2.RemoteParam(ad).get({knob!r}, 'Not defined') != {want!r}:
    time.sleep(0.05)
return True""")
    r = ccv(pool, f"-{daemon}", knob)
    assert r.stdout == want + "\n"


def test_set_and_unset_end_to_end(tmp_path):
    """DC_CONFIG_PERSIST and DC_CONFIG_RUNTIME from the tool: accepted by a pool that allows
    them, kept on disk (persistent), in effect after a reconfig, and undone by -unset/-runset."""
    persist = tmp_path / "persist"
    with running_pool(tmp_path / "p", ENABLE_RUNTIME_CONFIG="TRUE", ENABLE_PERSISTENT_CONFIG="TRUE",
                      PERSISTENT_CONFIG_DIR=str(persist),
                      SETTABLE_ATTRS_ADMINISTRATOR="FOO, BAR") as p:
        addr = p.address("SCHEDD")
        r = ccv(p, "-schedd", "-set", "FOO = kept")
        assert r.returncode == 0, r.stderr
        assert unaddressed(r.stdout) == ('Successfully set configuration "FOO = kept" on schedd '
                                         f'{unaddressed(r.stdout).split(" on schedd ")[1].split(" ")[0]}'
                                         ' <ADDR>. The change will take effect on the next '
                                         'condor_reconfig.\n')
        assert addr.split("?")[0] in r.stdout
        assert (persist / ".config.SCHEDD.foo").read_text() == "FOO = kept"
        assert (persist / ".config.SCHEDD").read_text() == "RUNTIME_CONFIG_ADMIN = foo\n"
        r = ccv(p, "-schedd", "-rset", "BAR = runtime")
        assert r.returncode == 0 and r.stdout.startswith('Successfully set configuration "BAR = runtime"')
        _reconfig_until(p, "schedd", "BAR", "runtime")
        assert ccv(p, "-schedd", "FOO").stdout == "kept\n"

        r = ccv(p, "-schedd", "-runset", "BAR")
        assert r.returncode == 0 and r.stdout.startswith('Successfully unset configuration "BAR" on schedd')
        _reconfig_until(p, "schedd", "BAR", "Not defined")
        r = ccv(p, "-schedd", "-unset", "FOO")
        assert r.returncode == 0 and r.stdout.startswith('Successfully unset configuration "FOO"')
        assert not persist.exists() or os.listdir(persist) == []
        _reconfig_until(p, "schedd", "FOO", "Not defined")

        # not settable: refused; the master answers too (its own persistent file)
        r = ccv(p, "-schedd", "-set", "MAX_JOBS_RUNNING = 1")
        assert r.returncode == 1 and r.stderr.startswith(
            'Attempt to set configuration "MAX_JOBS_RUNNING = 1" on schedd ')
        r = ccv(p, "-set", "FOO = on the master")
        assert r.returncode == 0 and " on master " in r.stdout
        assert (persist / ".config.MASTER.foo").read_text() == "FOO = on the master"


def test_remote_dump_has_the_real_tools_layout(pool):
    """Laid out as schedd-dump-used.txt; which names -used keeps is not known here."""
    c = capture(CLI / "condor_config_val" / "schedd-dump-used.txt")
    r = ccv(pool, "-schedd", "-dump", "INTERVAL")
    assert r.returncode == 0 and r.stderr == ""
    ours, theirs = r.stdout.splitlines(), c["stdout"].splitlines()
    assert unaddressed(ours[0]) == unaddressed(theirs[0])
    assert ours[1:3] == theirs[1:3]
    assert "SCHEDD_INTERVAL = 5" in ours and "ALIVE_INTERVAL = 300" in ours
    files = ours[ours.index("# Contributing configuration file(s):") + 1:]
    assert f"#\t{pool.config_file}" in files and files[-1] == "#\t<Default>" and files == sorted(files)


# ---------------------------------------------------------------------------- the files -write wrote
@needs_engine
@pytest.mark.parametrize("case", ["write-up.file", "writeconfig-file-only.file"])
def test_the_file_written_matches_the_real_tools_file(case, srv):
    # the capture is ``head -n 200`` of the file the -write case wrote: write it again, compare
    # the same head (the pool's directory masked back to /srv/pool, as the capture was)
    want = capture(CLI / "condor_config_val" / f"{case}.txt")
    path = Path(want["argv"][-1].replace("/srv/pool", str(srv)))
    path.unlink(missing_ok=True)
    c, r = run_case(case.removesuffix(".file"), srv)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "") and Path(c["argv"][-1]).name == path.name
    head = "".join(path.read_text().splitlines(keepends=True)[:200])
    assert masked(head, srv) == want["stdout"]
