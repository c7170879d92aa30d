"""Which daemons a pool can have, and everything about each that more than one module
needs: one row per subsystem.  Adding a daemon starts here; every table below (address
files, logs, ad types, the modules the master runs) is read from this one.

Import-light on purpose: the master reads it before its heavy imports.
"""
from __future__ import annotations


class DaemonSpec:
    """One daemon kind.  (A plain class: ``dataclasses`` would cost the master's
    import-light start some 10 ms, for inspect.)"""

    __slots__ = ("subsystem", "my_type", "daemon_type", "log_name", "address_file",
                 "type_number", "module")

    def __init__(self, subsystem: str, my_type: str, daemon_type: str, log_name: str,
                 address_file: str, type_number: int, module: str | None = None):
        self.subsystem = subsystem        # SCHEDD: the config prefix and DAEMON_LIST name
        self.my_type = my_type            # Scheduler: MyType of its ad in the collector
        self.daemon_type = daemon_type    # Schedd: the htcondor2.DaemonType (and SubsystemType)
        self.log_name = log_name          # SchedLog: its log in $(LOG)
        self.address_file = address_file  # spool/.schedd_address, as the generated config puts it
        self.type_number = type_number    # dprintf's SubsystemInfo type number
        self.module = module              # the module that runs it; None: not simulated yet

    def __repr__(self) -> str:
        return f"DaemonSpec({self.subsystem!r}, module={self.module!r})"

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
    DaemonSpec("NEGOTIATOR", "Negotiator", "Negotiator", "NegotiatorLog", "log/.negotiator_address", 3,
               "condor_sim.daemons.negotiator"),
    DaemonSpec("SCHEDD", "Scheduler", "Schedd", "SchedLog", "spool/.schedd_address", 4,
               "condor_sim.daemons.schedd"),
    DaemonSpec("STARTD", "Machine", "Startd", "StartLog", "log/.startd_address", 6,
               "condor_sim.daemons.startd"),
    DaemonSpec("SIMSLOTS", "Machine", "Startd", "SimSlotsLog", "log/.simslots_address", 6,
               "condor_sim.daemons.simslots"),
    DaemonSpec("SHARED_PORT", "SharedPort", "SharedPort", "SharedPortLog", "log/.shared_port_address", 10,
               "condor_sim.daemons.shared_port.daemon"),
)}

# The daemons condor-sim runs, in the order a pool starts them.
SIMULATED = tuple(name for name, s in DAEMONS.items() if s.simulated)


def spec(subsystem: str) -> DaemonSpec | None:
    return DAEMONS.get(subsystem.upper())
