"""RemoteParam and the DC config commands, end to end with the real client (v2 and v1)."""
from __future__ import annotations

import os
import time

import pytest

from support.clients import run_client
from support.daemons import DaemonProcess, schedd_fixture

OPEN = {"ALLOW_ADMINISTRATOR": "*", "SETTABLE_ATTRS_ADMINISTRATOR": "FOO, OOF",
        "ENABLE_RUNTIME_CONFIG": "TRUE", "FOO": "BAR", "SCHEDD.ONLY_FOR_SCHEDD": "yes",
        "PREFIXED": "plain", "SCHEDD.PREFIXED": "schedd-specific",
        "SCHEDD_DEBUG": "D_COMMAND D_SECURITY D_FULLDEBUG", "DRAWN": "$RANDOM_INTEGER(1, 1000000000)"}


open_schedd = schedd_fixture("rcfg", overrides=OPEN)
default_schedd = schedd_fixture("rdef")


def ad_code(d, api="v2"):
    mod = "htcondor2" if api == "v2" else "htcondor"
    cad = "htcondor2.classad.ClassAd" if api == "v2" else "classad.ClassAd"
    imp = "import htcondor2" if api == "v2" else "import htcondor, classad"
    return f"{imp}\nad = {cad}({{'MyAddress': {d.sinful!r}, 'MyType': 'Scheduler', 'Name': 'x'}})\nrp = {mod}.RemoteParam(ad)\n"


@pytest.mark.parametrize("api", ["v2", "v1"])
def test_get_keys_and_prefixed_values(open_schedd, api):
    body = ad_code(open_schedd, api) + """
keys = list(rp.keys())
return {"FOO": rp["FOO"], "n": len(keys), "UPDATE_INTERVAL": rp["UPDATE_INTERVAL"],
        "has": "SCHEDD_INTERVAL" in keys, "only": rp.get("ONLY_FOR_SCHEDD"),
        "missing": rp.get("NO_SUCH_KNOB_X", "dflt")}
"""
    r = run_client(body, open_schedd.config, api=api)
    assert r["ok"], r
    res = r["result"]
    assert res["FOO"] == "BAR"
    assert res["n"] > 100
    assert res["UPDATE_INTERVAL"] == "5"          # a string over the wire, not int
    assert res["has"] is True
    assert res["missing"] == "dflt"


def test_random_macros_are_drawn_per_query(open_schedd):
    # CONFIG_VAL calls param() each time, and param() expands $RANDOM_INTEGER again
    body = ad_code(open_schedd) + "return [htcondor2.RemoteParam(ad)['DRAWN'] for _ in range(4)]"
    r = run_client(body, open_schedd.config)
    assert r["ok"], r
    values = [int(v) for v in r["result"]]
    assert all(1 <= v <= 1000000000 for v in values)
    assert len(set(values)) > 1


@pytest.mark.parametrize("api", ["v2", "v1"])
def test_subsystem_prefix_wins_and_prefixed_names_are_listed(open_schedd, api):
    # The daemon looks knobs up as the SCHEDD does: SCHEDD.X before X.  A knob set only
    # with a prefix is listed under its prefixed name (the config table's key).
    body = ad_code(open_schedd, api) + """
return [rp['PREFIXED'], 'SCHEDD.ONLY_FOR_SCHEDD' in list(rp.keys()), rp['SCHEDD.ONLY_FOR_SCHEDD']]"""
    r = run_client(body, open_schedd.config, api=api)
    assert r["ok"] and r["result"] == ["schedd-specific", True, "yes"], r


@pytest.mark.parametrize("api", ["v2", "v1"])
def test_set_is_refused_by_default_and_value_unchanged(default_schedd, api):
    body = ad_code(default_schedd, api) + "rp['UPDATE_INTERVAL'] = '500'"
    r = run_client(body, default_schedd.config, api=api)
    assert not r["ok"]
    assert r["message"] == "Failed to set remote daemon parameter."
    assert r["error"] == ("HTCondorException" if api == "v2" else "HTCondorReplyError")
    again = run_client(ad_code(default_schedd) + "return rp['UPDATE_INTERVAL']", default_schedd.config)
    assert again["result"] == "5"
    log = default_schedd.log_text("SchedLog")
    assert 'WARNING: Someone at 127.0.0.1 is trying to modify "UPDATE_INTERVAL"' in log
    assert "WARNING: Potential security problem, request refused" in log


def test_runtime_set_takes_effect_on_reconfig(open_schedd):
    d = open_schedd
    r = run_client(ad_code(d) + "rp['OOF'] = 'set-remotely'\nreturn 'OOF' in htcondor2.RemoteParam(ad)", d.config)
    assert r["ok"], r
    assert r["result"] is False            # stored, but not in effect before a reconfig
    r = run_client(f"""
import htcondor2
ad = htcondor2.classad.ClassAd({{'MyAddress': {d.sinful!r}, 'MyType': 'Scheduler', 'Name': 'x'}})
htcondor2.send_command(ad, htcondor2.DaemonCommand.Reconfig)
""", d.config)
    assert r["ok"], r
    deadline = time.time() + 10
    while time.time() < deadline:
        r = run_client(ad_code(d) + "return rp.get('OOF')", d.config)
        if r["result"] == "set-remotely":
            break
        time.sleep(0.2)
    assert r["result"] == "set-remotely"


def test_set_outside_settable_attrs_is_refused(open_schedd):
    r = run_client(ad_code(open_schedd) + "rp['MAX_JOBS_RUNNING'] = '3'", open_schedd.config)
    assert not r["ok"] and r["message"] == "Failed to set remote daemon parameter."


def test_v1_delete_sends_name_equals_empty(open_schedd):
    d = open_schedd
    r = run_client(ad_code(d, "v1") + "rp['FOO'] = 'other'\ndel rp['FOO']\nreturn True", d.config, api="v1")
    assert r["ok"], r


# ---------------------------------------------------------------------------- a whole pool
POOL_OPEN = {"ALLOW_ADMINISTRATOR": "*", "SETTABLE_ATTRS_ADMINISTRATOR": "FOO, OOF",
             "ENABLE_RUNTIME_CONFIG": "TRUE", "FOO": "BAR"}

COLLECTOR_PARAM = {
    "v2": "import htcondor2 as h\nrp = lambda: h.RemoteParam(h.Collector().locate(h.DaemonType.Collector))\n"
          "reconfig = lambda: h.send_command(h.Collector().locate(h.DaemonType.Collector), h.DaemonCommand.Reconfig)\n",
    "v1": "import htcondor as h\nrp = lambda: h.RemoteParam(h.Collector().locate(h.DaemonTypes.Collector))\n"
          "reconfig = lambda: h.send_command(h.Collector().locate(h.DaemonTypes.Collector), h.DaemonCommands.Reconfig)\n",
}


@pytest.mark.parametrize("api", ["v2", "v1"])
def test_collector_remote_param_in_a_pool(tmp_path, api):
    """The issue's acceptance case, on the collector a located ad points at."""
    from test_lifecycle import running_pool
    with running_pool(tmp_path / "p", **POOL_OPEN) as pool:
        r = run_client(COLLECTOR_PARAM[api] + """
p = rp()
out = {"FOO": p["FOO"], "n": len(p.keys()), "has_oof": "OOF" in p}
p["OOF"] = "visible-after-reconfig"
try:
    p["MAX_JOBS_RUNNING"] = "3"
    out["refused"] = None
except Exception as e:
    out["refused"] = str(e)
reconfig()
import time
deadline = time.time() + 10
while time.time() < deadline and rp().get("OOF") is None:
    time.sleep(0.1)
out["OOF"] = rp().get("OOF")
out["MAX_JOBS_RUNNING"] = rp().get("MAX_JOBS_RUNNING")
return out
""", pool.config_file, api=api)
        assert r["ok"], r
        res = r["result"]
        assert res["FOO"] == "BAR" and res["n"] > 100 and res["has_oof"] is False
        assert res["refused"] == "Failed to set remote daemon parameter."
        assert res["OOF"] == "visible-after-reconfig"
        assert res["MAX_JOBS_RUNNING"] != "3"
        log = (pool.directory / "log" / "CollectorLog").read_text()
        assert 'WARNING: Someone at 127.0.0.1 is trying to modify "MAX_JOBS_RUNNING"' in log


def test_deleting_a_runtime_knob_defines_it_empty(tmp_path):
    """Both bindings delete by sending "ZAP = ": a non-empty assignment, so the real daemon
    stores it and, after a reconfig, ZAP is an empty knob: still in the table (``?names``)
    but param() finds nothing, so CONFIG_VAL answers "Not defined" and the client hands
    that text back as the value.  (v2's __delitem__ also drops its cache entry, so it
    raises KeyError unless ZAP was read first: a quirk of the real client.)"""
    over = {"ALLOW_ADMINISTRATOR": "*", "SETTABLE_ATTRS_ADMINISTRATOR": "ZAP",
            "ENABLE_RUNTIME_CONFIG": "TRUE", "ZAP": "here"}
    d = DaemonProcess(tmp_path / "pool", "schedd", "spool/.schedd_address", overrides=over).start()
    try:
        r = run_client(ad_code(d) + """
first = rp['ZAP']
del rp['ZAP']
htcondor2.send_command(ad, htcondor2.DaemonCommand.Reconfig)
import time
deadline = time.time() + 10
while time.time() < deadline and htcondor2.RemoteParam(ad).get('ZAP') == 'here':
    time.sleep(0.1)
return [first, htcondor2.RemoteParam(ad).get('ZAP'), 'ZAP' in htcondor2.RemoteParam(ad)]""", d.config)
        assert r["ok"] and r["result"] == ["here", "Not defined", True], r
    finally:
        d.stop()


# ---------------------------------------------------------------------------- persistent config
# Neither binding sends DC_CONFIG_PERSIST (condor_config_val -set does, and it is not in
# the wheel), so the command goes raw over a plaintext connection here; what it leaves on
# disk is checked against set_persistent_config(), and the restarted daemon is read back
# through the real client.
def _raw_config_command(d: DaemonProcess, cmd: int, admin: str, line: str) -> int:
    import socket
    import struct
    body = struct.pack(">q", cmd) + admin.encode() + b"\0" + line.encode() + b"\0"
    with socket.create_connection(("127.0.0.1", d.port), timeout=5) as s:
        s.sendall(struct.pack(">BI", 1, len(body)) + body)
        data = b""
        while len(data) < 5 or len(data) < 5 + struct.unpack(">I", data[1:5])[0]:
            chunk = s.recv(4096)
            assert chunk, f"closed after {data!r}"
            data += chunk
    return struct.unpack(">q", data[5:13])[0]


def test_persistent_config_files_and_restart(tmp_path):
    persist = tmp_path / "persist"
    over = {"ALLOW_ADMINISTRATOR": "*", "SETTABLE_ATTRS_ADMINISTRATOR": "OOF, ZED",
            "ENABLE_PERSISTENT_CONFIG": "TRUE", "PERSISTENT_CONFIG_DIR": str(persist)}
    d = DaemonProcess(tmp_path / "pool", "schedd", "spool/.schedd_address", security="plaintext",
                      overrides=over).start()
    try:
        assert _raw_config_command(d, 60002, "ZED", "ZED = last") == 0
        assert _raw_config_command(d, 60002, "OOF", "OOF = kept") == 0
        assert _raw_config_command(d, 60002, "MAX_JOBS_RUNNING", "MAX_JOBS_RUNNING = 1") == -1
        assert _raw_config_command(d, 60002, "OOF", "OOF without an assignment") == -1
        assert _raw_config_command(d, 60002, "OOF", "use ROLE : Personal") == -1
        # the admin name becomes part of a file name: no way out of the directory
        assert _raw_config_command(d, 60002, "../../OOF", "OOF = escaped") == -1
        assert _raw_config_command(d, 60002, ".hidden", "OOF = hidden") == -1
        assert sorted(p.name for p in tmp_path.rglob("*OOF*")) == [".config.SCHEDD.OOF"]
        assert (persist / ".config.SCHEDD.OOF").read_text() == "OOF = kept"
        assert "refusing admin name '../../OOF'" in d.log_text("SchedLog")
        assert "Rejecting attempt to set param with invalid name ((null))" in d.log_text("SchedLog")
        assert (persist / ".config.SCHEDD").read_text() == "RUNTIME_CONFIG_ADMIN = OOF, ZED\n"
        assert (persist / ".config.SCHEDD.OOF").read_text() == "OOF = kept"
        d.stop()
        d.start()                     # read at start-up: no reconfig needed
        r = run_client(ad_code(d) + "return [rp.get('OOF'), rp.get('ZED')]", d.config)
        assert r["ok"] and r["result"] == ["kept", "last"], r
        # clearing removes the admin's file, and the list file with the last admin
        assert _raw_config_command(d, 60002, "ZED", "") == 0
        assert (persist / ".config.SCHEDD").read_text() == "RUNTIME_CONFIG_ADMIN = OOF\n"
        assert not (persist / ".config.SCHEDD.ZED").exists()
        assert _raw_config_command(d, 60002, "OOF", "") == 0
        assert sorted(os.listdir(persist)) == []
    finally:
        d.stop()


def test_persistent_config_without_a_directory_is_fatal(tmp_path):
    d = DaemonProcess(tmp_path / "pool", "schedd", "spool/.schedd_address",
                      overrides={"ENABLE_PERSISTENT_CONFIG": "TRUE"})
    with pytest.raises(RuntimeError) as e:
        d.start()
    assert ("Condor error: ENABLE_PERSISTENT_CONFIG is TRUE, but neither SCHEDD_CONFIG nor "
            "PERSISTENT_CONFIG_DIR is specified in the configuration file") in str(e.value)


def test_assigned_name_follows_is_valid_config_assignment():
    from condor_sim.remote_config import assigned_name
    assert assigned_name("  FOO = bar") == "FOO"
    assert assigned_name("FOO: bar = baz") == "FOO"          # the first of ':' and '=' ends it
    assert assigned_name("SCHEDD.FOO=1") == "SCHEDD.FOO"
    assert assigned_name("FOO BAR = 1") == "FOO BAR"          # then refused as a name
    assert assigned_name("FOO") is None
    assert assigned_name("use ROLE : Personal") is None


def test_garbled_config_commands_are_refused_and_the_daemon_serves_on(tmp_path):
    import struct
    over = {"ALLOW_ADMINISTRATOR": "*", "SETTABLE_ATTRS_ADMINISTRATOR": "*",
            "ENABLE_RUNTIME_CONFIG": "TRUE", "FOO": "BAR"}
    d = DaemonProcess(tmp_path / "pool", "schedd", "spool/.schedd_address", security="plaintext",
                      overrides=over).start()

    def send(body: bytes) -> bytes:
        return d.raw(body, timeout=5)

    try:
        cmd = struct.pack(">q", 60003)
        nulls = send(cmd + b"\xff" + b"\xff")                  # two NULL strings: no name
        assert nulls[5:] == struct.pack(">q", -1)
        assert send(cmd + b"FOO") == b""                       # truncated: closed, nothing set
        long = send(cmd + b"A" * 30_000 + b"\0" + b"A" * 30_000 + b" = 1\0")
        assert long[5:] == struct.pack(">q", 0)                # '*' makes any valid name settable
        # an unauthenticated message is at most 64 KiB: a larger one is refused unread
        assert send(cmd + b"A" * 100_000 + b"\0" + b"A" * 100_000 + b" = 1\0") == b""
        assert _raw_config_command(d, 60003, "FOO", "FOO = = =") == 0   # a value may hold '='
        r = run_client(ad_code(d) + "return rp['FOO']", d.config)
        assert r["ok"] and r["result"] == "BAR", r            # nothing took effect without a reconfig
        assert d.alive()
        assert "Rejecting attempt to set param with invalid name ((null))" in d.log_text("SchedLog")
    finally:
        d.stop()
