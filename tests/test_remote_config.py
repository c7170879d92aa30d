"""RemoteParam and the DC config commands, end to end with the real client (v2 and v1)."""
from __future__ import annotations

import signal
import time

import pytest

from clients import run_client
from daemons import DaemonProcess

OPEN = {"ALLOW_ADMINISTRATOR": "*", "SETTABLE_ATTRS_ADMINISTRATOR": "FOO, OOF",
        "ENABLE_RUNTIME_CONFIG": "TRUE", "FOO": "BAR", "SCHEDD.ONLY_FOR_SCHEDD": "yes",
        "PREFIXED": "plain", "SCHEDD.PREFIXED": "schedd-specific",
        "SCHEDD_DEBUG": "D_COMMAND D_SECURITY D_FULLDEBUG"}


@pytest.fixture(scope="module")
def open_schedd(tmp_path_factory):
    d = DaemonProcess(tmp_path_factory.mktemp("rcfg"), "schedd", "spool/.schedd_address", overrides=OPEN)
    d.start()
    yield d
    d.stop()


@pytest.fixture(scope="module")
def default_schedd(tmp_path_factory):
    d = DaemonProcess(tmp_path_factory.mktemp("rdef"), "schedd", "spool/.schedd_address")
    d.start()
    yield d
    d.stop()


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


def test_subsystem_prefix_wins_and_prefixed_names_are_listed(open_schedd):
    # The daemon looks knobs up as the SCHEDD does: SCHEDD.X before X.  A knob set only
    # with a prefix is listed under its prefixed name (the config table's key).
    body = ad_code(open_schedd) + """
return [rp['PREFIXED'], 'SCHEDD.ONLY_FOR_SCHEDD' in rp.keys(), rp['SCHEDD.ONLY_FOR_SCHEDD']]"""
    r = run_client(body, open_schedd.config)
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
