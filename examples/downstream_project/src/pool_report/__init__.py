"""pool_report: what is running in an HTCondor pool, and its daemons' settings.

The kind of code condor-sim's fixtures are for: it uses the client library with the
environment's configuration (``CONDOR_CONFIG``) and knows nothing about tests.
"""
from __future__ import annotations

import time

import htcondor2

DAEMONS = {
    "master": htcondor2.DaemonType.Master,
    "collector": htcondor2.DaemonType.Collector,
    "schedd": htcondor2.DaemonType.Schedd,
}


class SettingRefused(RuntimeError):
    """The daemon did not accept a runtime setting."""


def pool_summary(collector: htcondor2.Collector | None = None) -> dict[str, list[str]]:
    """The daemons the collector knows, by ad type: ``{"Scheduler": ["name", ...], ...}``."""
    coll = collector or htcondor2.Collector()
    ads = coll.query(htcondor2.AdType.Any, constraint='MyType =!= "Submitter"',
                     projection=["MyType", "Name"])
    out: dict[str, list[str]] = {}
    for ad in ads:
        out.setdefault(str(ad.get("MyType")), []).append(str(ad.get("Name")))
    return {k: sorted(v) for k, v in sorted(out.items())}


def locate(daemon: str, collector: htcondor2.Collector | None = None):
    return (collector or htcondor2.Collector()).locate(DAEMONS[daemon])


def is_up(daemon: str, collector: htcondor2.Collector | None = None) -> bool:
    """Does the daemon answer (not just: does the collector still have its ad)?"""
    try:
        htcondor2.ping(locate(daemon, collector))
        return True
    except Exception:
        return False


def read_setting(daemon: str, knob: str, collector: htcondor2.Collector | None = None) -> str | None:
    """The value of ``knob`` in the running daemon's configuration (None if it has none)."""
    return htcondor2.RemoteParam(locate(daemon, collector)).get(knob)


def change_setting(daemon: str, knob: str, value: str, collector: htcondor2.Collector | None = None,
                   timeout: float = 10.0) -> None:
    """Set ``knob`` in the daemon's runtime configuration and reconfigure it; returns once the
    daemon reports the new value.  Needs ``ENABLE_RUNTIME_CONFIG`` and the knob in a
    ``SETTABLE_ATTRS_*`` list on the daemon's side."""
    ad = locate(daemon, collector)
    try:
        htcondor2.RemoteParam(ad)[knob] = value
    except Exception as e:
        raise SettingRefused(f"{daemon} refused {knob} = {value}: {e}") from e
    htcondor2.send_command(ad, htcondor2.DaemonCommand.Reconfig)
    deadline = time.monotonic() + timeout
    while htcondor2.RemoteParam(ad).get(knob) != value:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{daemon} did not take {knob} = {value} within {timeout} s")
        time.sleep(0.05)
