"""Local names: a daemon started with ``-local-name L`` reads ``L.NAME`` before its
subsystem's knobs, logs to ``L.<SUBSYS>_LOG`` or ``$(LOG)/<Localname>Log``, and the master
gives that argument to a DaemonCore daemon listed under a name of its own."""
from __future__ import annotations

from support.clients import run_client
from support.daemons import schedd
from support.pools import running_pool

READ = """
import htcondor2
ad = htcondor2.classad.ClassAd({{'MyAddress': {addr!r}, 'MyType': 'Scheduler', 'Name': 'x'}})
rp = htcondor2.RemoteParam(ad)
return [rp.get(k) for k in {keys!r}]
"""


def test_local_name_prefix_log_and_banner(tmp_path):
    over = {"SCHEDD_INTERVAL": "5", "SCHEDD.SCHEDD_INTERVAL": "6", "SECOND.SCHEDD_INTERVAL": "77",
            "SECOND.SCHEDD_ADDRESS_FILE": "$(SPOOL)/.second_address", "PLAIN_ONLY": "p",
            "WHO_AM_I": "$(LOCALNAME)-of-$(SUBSYSTEM)"}
    d = schedd(tmp_path, overrides=over, args=["-local-name", "second"])
    d.address_file = tmp_path / "spool" / ".second_address"
    d.start()
    try:
        r = run_client(READ.format(addr=d.sinful, keys=["SCHEDD_INTERVAL", "PLAIN_ONLY", "WHO_AM_I"]), d.config)
        assert r["ok"] and r["result"] == ["77", "p", "second-of-SCHEDD"], r
        # its own log, not SchedLog, which SCHEDD_LOG's default would have given it
        assert not (tmp_path / "log" / "SchedLog").exists()
        log = d.log_text("SecondLog")
        assert "** Configuration: subsystem:SCHEDD local:second class:DAEMON" in log
    finally:
        d.stop()


def test_master_starts_a_second_schedd_with_its_local_name(tmp_path):
    cfg = {"DAEMON_LIST": "MASTER COLLECTOR SCHEDD SCHEDD2", "SCHEDD2": "$(SCHEDD)",
           "DC_DAEMON_LIST": "+SCHEDD2", "SCHEDD2.SCHEDD_NAME": "second",
           "SCHEDD2.SCHEDD_ADDRESS_FILE": "$(SPOOL)/.schedd2_address",
           "SCHEDD2.SCHEDD_INTERVAL": "77"}
    with running_pool(tmp_path / "p", **cfg) as pool:
        body = """
import htcondor2 as h
return sorted([a['Name'], h.RemoteParam(a)['SCHEDD_INTERVAL']]
              for a in h.Collector().locateAll(h.DaemonType.Schedd))
"""
        r = run_client(body, pool.config_file)     # ready means both schedds advertised
        assert r["ok"], r
        names = dict(r["result"])
        # SCHEDD_NAME = second: the real schedd's build_valid_daemon_name adds @<host>
        second = next(n for n in names if n.startswith("second@"))
        assert second.split("@")[1] and names.pop(second) == "77"
        assert list(names.values()) == ["5"]           # the plain SCHEDD keeps its settings
        assert (pool.directory / "log" / "Schedd2Log").exists()
        assert {d["name"] for d in pool.status()["daemons"]} == {"MASTER", "COLLECTOR", "SCHEDD", "SCHEDD2"}
