"""Which daemons a pool can have, and everything about each that more than one module
needs: one row per subsystem.  Adding a daemon starts here; every table below (address
files, logs, ad types, the modules the master runs) is read from this one.

Import-light on purpose: the master reads it before its heavy imports.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DaemonSpec:
    subsystem: str           # SCHEDD: the config prefix and DAEMON_LIST name
    my_type: str             # Scheduler: MyType of its ad in the collector
    daemon_type: str         # Schedd: the htcondor2.DaemonType (and SubsystemType) member
    log_name: str            # SchedLog: its log in $(LOG)
    address_file: str        # spool/.schedd_address: where the generated config puts it
    type_number: int         # dprintf's SubsystemInfo type number
    module: str | None = None   # the condor_sim module that runs it; None: not simulated yet

    @property
    def address_knob(self) -> str:
        return f"{self.subsystem}_ADDRESS_FILE"

    @property
    def simulated(self) -> bool:
        return self.module is not None


DAEMONS: dict[str, DaemonSpec] = {s.subsystem: s for s in (
    DaemonSpec("MASTER", "DaemonMaster", "Master", "MasterLog", "log/.master_address", 1,
               "condor_sim.daemons.master"),
    DaemonSpec("COLLECTOR", "Collector", "Collector", "CollectorLog", "log/.collector_address", 2,
               "condor_sim.daemons.collector"),
    DaemonSpec("NEGOTIATOR", "Negotiator", "Negotiator", "NegotiatorLog", "log/.negotiator_address", 3),
    DaemonSpec("SCHEDD", "Scheduler", "Schedd", "SchedLog", "spool/.schedd_address", 4,
               "condor_sim.daemons.schedd"),
    DaemonSpec("STARTD", "Machine", "Startd", "StartLog", "log/.startd_address", 6),
)}

# The daemons condor-sim runs, in the order a pool starts them.
SIMULATED = tuple(name for name, s in DAEMONS.items() if s.simulated)


def spec(subsystem: str) -> DaemonSpec | None:
    return DAEMONS.get(subsystem.upper())
