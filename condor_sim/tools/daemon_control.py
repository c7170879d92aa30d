"""``condor_off``, ``condor_on``, ``condor_restart``, ``condor_reconfig`` and
``condor_reschedule``: one administrative command to a daemon, as HTCondor's ``tool.cpp``
sends it.

The work splits in three pure steps and one thin I/O layer:

* :func:`parse_args` reads the command line into :class:`Options` (or a :class:`ToolError`
  with the real usage text);
* :func:`plan` decides which daemon type receives which command (``condor_off -daemon
  schedd`` asks the *master* to stop the schedd; ``condor_restart -daemon schedd`` asks the
  schedd itself to shut down, and the master restarts it) and what line reports it;
* :func:`sent_line` is the ``Sent "..." command ... to ...`` line;
* :func:`run` locates the daemons (the local address file first, then the collector) and
  sends the commands through the client library.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field

from condor_sim.tools import _control_usage as U
from condor_sim.tools.common import ArgCursor, ToolError, is_dash_arg_prefix, not_dashed, run_tool

# ------------------------------------------------------------------------------ commands
# condor_commands.h
RESCHEDULE = 421
RESTART = 453
DAEMONS_OFF = 454
DAEMONS_ON = 455
DAEMONS_OFF_FAST = 461
DAEMON_OFF = 467
DAEMON_OFF_FAST = 468
DAEMON_ON = 469
DAEMON_OFF_PEACEFUL = 483
DAEMONS_OFF_PEACEFUL = 484
RESTART_PEACEFUL = 485
DC_RECONFIG_FULL = 60012
DC_OFF_GRACEFUL = 60005
DC_OFF_FAST = 60006
DC_OFF_PEACEFUL = 60015
DC_SET_PEACEFUL_SHUTDOWN = 60016
DC_SET_FORCE_SHUTDOWN = 60041
DC_OFF_FORCE = 60042

TOOLS = {   # tool -> (command, takes a daemon flag, usage)
    "condor_off": (DAEMONS_OFF, True, U.OFF),
    "condor_on": (DAEMONS_ON, True, U.ON),
    "condor_restart": (RESTART, True, U.RESTART),
    "condor_reconfig": (DC_RECONFIG_FULL, True, U.RECONFIG),
    "condor_reschedule": (RESCHEDULE, False, U.RESCHEDULE),
}

# daemon types as daemonString() spells them, and the MyType of their ads
DAEMON_TYPES = ("master", "schedd", "startd", "collector", "negotiator", "kbdd")
MY_TYPE = {"master": "DaemonMaster", "schedd": "Scheduler", "startd": "Machine",
           "collector": "Collector", "negotiator": "Negotiator"}


def command_label(cmd: int, fast: bool = False, peaceful: bool = False) -> str:
    """cmdToStr: the name a ``Sent`` line gives a command."""
    if cmd == RESTART:
        return "Restart-Fast" if fast else ("Restart-Peaceful" if peaceful else "Restart")
    return {
        DAEMONS_OFF: "Kill-All-Daemons", DAEMONS_OFF_FAST: "Kill-All-Daemons-Fast",
        DAEMONS_OFF_PEACEFUL: "Kill-All-Daemons-Peacefully",
        DAEMON_OFF: "Kill-Daemon", DC_OFF_GRACEFUL: "Kill-Daemon", DC_OFF_FORCE: "Kill-Daemon",
        DAEMON_OFF_FAST: "Kill-Daemon-Fast", DC_OFF_FAST: "Kill-Daemon-Fast",
        DAEMON_OFF_PEACEFUL: "Kill-Daemon-Peacefully", DC_OFF_PEACEFUL: "Kill-Daemon-Peacefully",
        DC_SET_PEACEFUL_SHUTDOWN: "Set-Peaceful-Shutdown",
        DC_SET_FORCE_SHUTDOWN: "Set-Force-Shutdown",
        DAEMONS_ON: "Spawn-All-Daemons", DAEMON_ON: "Spawn-Daemon",
        RESCHEDULE: "Reschedule", DC_RECONFIG_FULL: "Reconfig",
    }[cmd]


# ------------------------------------------------------------------------------ options
@dataclass
class Options:
    tool: str
    cmd: int
    dtype: str | None = None            # the daemon flag: a type, or "generic"
    subsys_arg: str | None = None       # what -daemon/-subsystem named
    fast: bool = False
    peaceful: bool = False
    force: bool = False
    all: bool = False
    constraint: str | None = None
    pool: str | None = None
    targets: list[str] = field(default_factory=list)
    help: bool = False
    version: bool = False

    @property
    def subsys(self) -> str | None:
        """The daemon named on the command line, as the master receives it."""
        if self.dtype is None:
            return None
        return self.subsys_arg if self.dtype == "generic" else self.dtype



def _usage_error(o: Options, message: str, usage: str) -> ToolError:
    return ToolError(message + usage)


def parse_args(tool: str, args: list[str]) -> Options:
    cmd, takes_subsys, usage = TOOLS[tool]
    o = Options(tool=tool, cmd=cmd)

    def bad(message: str) -> ToolError:
        return ToolError(message + usage)

    def daemon_flag(kind: str, arg: str | None = None) -> None:
        if not takes_subsys:
            raise bad(f"ERROR: Can't specify a daemon flag with {tool}.\n")
        if o.dtype is not None:
            raise bad("ERROR: can only specify one daemon flag.\n")
        o.dtype, o.subsys_arg = kind, arg

    def shutdown_flag(name: str, allowed: tuple) -> None:
        if o.cmd not in allowed:
            raise bad(f'ERROR: "-{name}" is not valid with {tool}\n')

    cursor = ArgCursor(args)

    def value(flag: str, accept=None) -> str:
        word = cursor.take(accept=accept)
        if word is None:
            raise bad(f"ERROR: {flag} requires another argument\n")
        return word

    for a in cursor:
        if not a.startswith("-"):
            o.targets.append(a)
        elif is_dash_arg_prefix(a, "version"):
            o.version = True
            return o
        elif is_dash_arg_prefix(a, "help"):
            o.help = True
            return o
        elif is_dash_arg_prefix(a, "peaceful", 2):
            o.peaceful, o.fast, o.force = True, False, False
            shutdown_flag("peaceful", (DAEMONS_OFF, RESTART))
        elif is_dash_arg_prefix(a, "pool", 1):
            o.pool = value("-pool")
        elif is_dash_arg_prefix(a, "fast", 2):
            o.fast, o.peaceful, o.force = True, False, False
            shutdown_flag("fast", (DAEMONS_OFF, RESTART))
        elif is_dash_arg_prefix(a, "force-graceful", 2):
            o.fast, o.peaceful, o.force = False, False, True
            shutdown_flag("force-graceful", (DAEMONS_OFF,))
        elif is_dash_arg_prefix(a, "f", -1):
            raise bad('ERROR: ambiguous parameter: "-f"\nPlease specify "-full" or "-fast"\n')
        elif is_dash_arg_prefix(a, "daemon", 2) or is_dash_arg_prefix(a, "subsystem", 2):
            flag = "-daemon" if is_dash_arg_prefix(a, "daemon", 2) else "-subsystem"
            name = value(flag)
            kind = name.lower() if name.lower() in DAEMON_TYPES else "generic"
            daemon_flag(kind, name)
        elif is_dash_arg_prefix(a, "graceful", 1):
            o.fast = o.peaceful = False
        elif is_dash_arg_prefix(a, "addr", 2):
            o.targets.append(value("-addr", not_dashed))
        elif is_dash_arg_prefix(a, "all", 2):
            o.all = True
        elif is_dash_arg_prefix(a, "a", -1):
            raise bad('ERROR: ambiguous parameter: "-a"\nPlease specify "-addr" or "-all"\n')
        elif is_dash_arg_prefix(a, "name", 2):
            o.targets.append(value("-name", not_dashed))
        elif is_dash_arg_prefix(a, "negotiator", 2):
            daemon_flag("negotiator")
        elif is_dash_arg_prefix(a, "n", -1):
            raise bad('ERROR: ambiguous parameter: "-n"\nPlease specify "-name" or "-negotiator"\n')
        elif is_dash_arg_prefix(a, "master", 1):
            daemon_flag("master")
        elif is_dash_arg_prefix(a, "constraint", 3):
            if o.constraint is not None:
                raise ToolError("ERROR: only one -constraint argument is allowed\n")
            o.constraint = value("-constraint")
        elif is_dash_arg_prefix(a, "collector", 3):
            daemon_flag("collector")
        elif is_dash_arg_prefix(a, "co", -1):
            raise bad('ERROR: ambigous parameter: "-co"\nPlease specify "-collector" or "-constraint"\n')
        elif is_dash_arg_prefix(a, "kbdd", 1):
            daemon_flag("kbdd")
        elif is_dash_arg_prefix(a, "schedd", 2):
            daemon_flag("schedd")
        elif is_dash_arg_prefix(a, "startd", 2):
            daemon_flag("startd")
        elif is_dash_arg_prefix(a, "s", -1):
            raise bad('ERROR: ambiguous argument "-s"\n'
                      'Please specify "-subsystem", "-startd" or "-schedd"\n')
        else:
            raise bad(f'ERROR: invalid argument "{a}"\n')
    if o.constraint is not None and o.targets:
        raise bad("ERROR: use of -constraint or -annex conflicts with other arguments containing "
                  "names or addresses.\nYou can change the constraint to select daemons by name "
                  "by adding\n  (NAME == \"daemon-name\" || MACHINE == \"daemon-name\")\nto your "
                  "constraint.\n")
    return o


# ------------------------------------------------------------------------------ plan
@dataclass
class Plan:
    real_type: str          # the type of daemon that receives the command
    real_cmd: int           # the command it receives (before -fast/-peaceful variants)


def plan(o: Options) -> Plan:
    """computeRealAction: who receives which command."""
    dt, cmd, real_cmd, real_type = o.dtype, o.cmd, None, None
    if cmd == RESTART and dt is not None and dt != "master":
        real_cmd = DC_OFF_GRACEFUL
    elif cmd == DAEMONS_OFF and dt is not None:
        real_cmd = (DC_OFF_FORCE if o.force else DC_OFF_GRACEFUL) if dt == "master" else DAEMON_OFF
        real_type = "master"
    elif cmd == DAEMONS_ON:
        real_type = "master"
        if dt is not None and dt != "master":
            real_cmd = DAEMON_ON
    elif cmd == RESCHEDULE:
        real_type = "schedd"
    if real_cmd is None:
        real_cmd = cmd
    if real_type is None:
        real_type = dt or "master"
    return Plan(real_type, real_cmd)


def wire_command(o: Options, p: Plan, to_master: bool = True) -> int:
    """The number actually sent: the -fast/-peaceful variant of the planned command."""
    c = p.real_cmd
    if c == DAEMON_OFF:
        return DAEMON_OFF_FAST if o.fast else (DAEMON_OFF_PEACEFUL if o.peaceful else c)
    if c == RESTART:
        return RESTART_PEACEFUL if o.peaceful else c
    if c == DAEMONS_OFF:
        if not to_master:
            return DC_OFF_FAST if o.fast else DC_OFF_PEACEFUL if o.peaceful else \
                DC_OFF_FORCE if o.force else DC_OFF_GRACEFUL
        return DAEMONS_OFF_FAST if o.fast else (DAEMONS_OFF_PEACEFUL if o.peaceful else c)
    if c == DC_OFF_GRACEFUL:
        return DC_OFF_FAST if o.fast else (DC_OFF_PEACEFUL if o.peaceful else c)
    return c


def sent_line(o: Options, p: Plan, sent: int, target_id: str, generic_target: bool = False) -> str:
    """The line the real tool prints once the command went out."""
    shown = RESTART if o.cmd == RESTART else sent
    label = command_label(shown, o.fast, o.peaceful)
    if shown in (DAEMON_ON, DAEMON_OFF, DAEMON_OFF_FAST) or (
            shown in (DC_OFF_GRACEFUL, DC_OFF_FAST, DC_OFF_FORCE) and p.real_type == "master"):
        if generic_target:
            return f'Sent "{label}" command to {target_id}\n'
        return f'Sent "{label}" command for "{o.subsys_arg or o.dtype}" to {target_id}\n'
    return f'Sent "{label}" command to {target_id}\n'


# ------------------------------------------------------------------------------ locating
@dataclass
class Target:
    kind: str               # daemon type ("generic" for another subsystem)
    address: str
    ident: str              # idStr: "local schedd", "master vm", "daemon at <...>"
    name: str | None = None


def _read_address_file(path: str | None) -> str | None:
    if not path:
        return None
    try:
        with open(path) as f:
            line = f.readline().strip()
    except OSError:
        return None
    return line if line.startswith("<") else None


def locate_local(kind: str, subsys: str | None) -> Target | None:
    """Daemon::locate for a daemon of this host: its address file, else the collector."""
    import htcondor2
    name = (subsys if kind == "generic" else kind) or kind
    ident = f"local {name}"
    knob = name.upper()
    files = [htcondor2.param.get(f"{knob}_ADDRESS_FILE")]
    if os.geteuid() == 0:
        files.insert(0, htcondor2.param.get(f"{knob}_SUPER_ADDRESS_FILE"))
    for path in files:
        addr = _read_address_file(path)
        if addr:
            return Target(kind, addr, ident)
    dtype = {"master": "Master", "schedd": "Schedd", "startd": "Startd",
             "collector": "Collector", "negotiator": "Negotiator"}.get(kind)
    if dtype is None:
        return None
    try:
        ad = htcondor2.Collector().locate(getattr(htcondor2.DaemonType, dtype))
    except Exception:
        return None
    addr = ad.get("MyAddress") if ad is not None else None
    return Target(kind, addr, ident) if isinstance(addr, str) else None


def _ad_type(kind: str):
    import htcondor2
    return {"master": htcondor2.AdType.Master, "schedd": htcondor2.AdType.Schedd,
            "startd": htcondor2.AdType.Startd, "collector": htcondor2.AdType.Collector,
            "negotiator": htcondor2.AdType.Negotiator}.get(kind, htcondor2.AdType.Generic)


def query_ads(kind: str, pool: str | None, constraint: str | None) -> list:
    import htcondor2
    coll = htcondor2.Collector(pool) if pool else htcondor2.Collector()
    return list(coll.query(_ad_type(kind), constraint=constraint or True,
                           projection=["Name", "Machine", "MyAddress", "MyType"]))


def match_name(ads: list, kind: str, name: str):
    """resolveNames: the ad whose Name (or its host part) is ``name``; a startd by host."""
    for ad in ads:
        if kind == "startd" and "@" not in name:
            machine = ad.get("Machine")
            if isinstance(machine, str) and machine.lower() == name.split("@")[-1].lower():
                return ad
            continue
        full = ad.get("Name")
        if not isinstance(full, str):
            continue
        host = full.split("@", 1)[1] if "@" in full else full
        if name.lower() in (host.lower(), full.lower()):
            return ad
    return None


# ------------------------------------------------------------------------------ sending
def send(target: Target, cmd: int, payload: str | None = None) -> None:
    """One command (and its subsystem string) to a daemon, as ``send_command`` sends it."""
    import classad2
    import htcondor2
    from htcondor2.htcondor2_impl import _send_command
    kind = target.kind if target.kind in MY_TYPE else "master"
    ad = classad2.ClassAd({"MyAddress": target.address, "MyType": MY_TYPE[kind],
                           "Name": target.name or "local", "CondorVersion": htcondor2.version()})
    dtype = {"master": htcondor2.DaemonType.Master, "schedd": htcondor2.DaemonType.Schedd,
             "startd": htcondor2.DaemonType.Startd, "collector": htcondor2.DaemonType.Collector,
             "negotiator": htcondor2.DaemonType.Negotiator}[kind]
    if cmd == RESCHEDULE:
        htcondor2.Schedd(ad).reschedule()
        return
    _send_command(ad._handle, int(dtype), int(cmd), payload)


def _targets(o: Options, kind: str, subsys: str | None, out: list[str], err: list[str],
             unresolved: list[str], ignore_missing: bool = False) -> list[Target] | None:
    """The daemons a command goes to; ``None`` (with the error in ``err``) when none."""
    if o.all or o.constraint is not None:
        try:
            ads = query_ads(kind, o.pool, o.constraint)
        except Exception:
            ads = None
        if not ads:
            if ignore_missing and ads is not None:
                return []
            err.append("Found no ClassAds when querying pool (local)\n" if ads is not None else
                       "ERROR: can't connect to local collector\n")
            what = f"for constraint '{o.constraint}'" if o.constraint else "for -all"
            err.append(f"Can't find addresses for {kind}'s {what}\n")
            err.append("Perhaps you need to query another pool.\n")
            return None
        return [Target(kind, ad["MyAddress"], f"{kind} {ad.get('Name')}", ad.get("Name"))
                for ad in ads if isinstance(ad.get("MyAddress"), str)]
    if not o.targets:
        t = locate_local(kind, subsys)
        if t is None:
            if ignore_missing:
                return []
            err.append(f"Can't find address for local {subsys if kind == 'generic' else kind}\n")
            err.append("Perhaps you need to query another pool.\n")
            return None
        return [t]
    found: list[Target] = []
    names = [n for n in o.targets if not n.startswith("<")]
    ads = []
    if names:
        try:
            ads = query_ads(kind, o.pool, None)
        except Exception:
            err.append("ERROR: can't connect to local collector\n")
            for n in names:
                err.append(f"Can't find address for {kind} {n}\n")
            err.append("Perhaps you need to query another pool.\n")
            return None
    for n in names:
        if n in unresolved:
            continue
        ad = match_name(ads, kind, n)
        if ad is None:
            err.append(f"Can't find address for {kind} {n}\n")
            unresolved.append(n)
        else:
            found.append(Target(kind, ad["MyAddress"], f"{kind} {n}", n))
    for a in o.targets:
        if a.startswith("<"):
            shown = a.split("?", 1)[0] + ">" if "?" in a else a
            found.append(Target(kind if o.dtype else "any", a,
                                f"{kind if o.dtype else 'daemon'} at {shown}"))
    return found


def run(o: Options) -> tuple[str, str, int]:
    """Send the commands; returns (stdout, stderr, exit code)."""
    p = plan(o)
    out: list[str] = []
    err: list[str] = []
    unresolved: list[str] = []
    rc = 0
    subsys = o.subsys
    if (o.peaceful or o.force) and p.real_type == "master" and (
            p.real_cmd in (DAEMONS_OFF, DC_OFF_GRACEFUL, DC_OFF_FORCE, RESTART) or
            (p.real_cmd == DAEMON_OFF and subsys in ("startd", "schedd"))):
        pre = DC_SET_PEACEFUL_SHUTDOWN if o.peaceful else DC_SET_FORCE_SHUTDOWN
        for kind in ("startd", "schedd"):
            if subsys is None or subsys == kind:
                for t in _targets(o, kind, None, out, err, unresolved, ignore_missing=True) or []:
                    rc |= _send_one(t, pre, None, f'Sent "{command_label(pre)}" command to '
                                    f"{t.ident}\n", out, err, pre)
    targets = _targets(o, p.real_type, subsys, out, err, unresolved)
    if targets is None:
        return "".join(out), "".join(err), 1
    seen = set()
    for t in targets:
        if t.address in seen:
            continue
        seen.add(t.address)
        cmd = wire_command(o, p, to_master=t.kind == "master")
        payload = subsys if p.real_cmd in (DAEMON_OFF, DAEMON_ON) else None
        line = sent_line(o, p, cmd, t.ident, generic_target=t.kind == "any")
        rc |= _send_one(t, cmd, payload, line, out, err, cmd)
    if unresolved:
        err += [f"Can't find address for {n}\n" for n in unresolved]
        err.append("Perhaps you need to query another pool.\n")
        rc = rc or 1
    return "".join(out), "".join(err), rc


def _send_one(t: Target, cmd: int, payload: str | None, line: str, out: list[str],
              err: list[str], shown: int) -> int:
    try:
        send(t, cmd, payload)
    except Exception:
        err.append(f"Can't connect to {t.ident}\n")
        return 1
    out.append(line)
    return 0


# ------------------------------------------------------------------------------ main
def tool_main(tool: str, argv: list[str] | None = None) -> int:
    def body(args: list[str]) -> int:
        o = parse_args(tool, args)
        if o.help:
            sys.stderr.write(TOOLS[tool][2])
            return 0
        if o.version:
            import htcondor2
            sys.stdout.write(f"{htcondor2.version()}\n{htcondor2.platform()}\n")
            return 0
        out, err, rc = run(o)
        sys.stdout.write(out)
        sys.stdout.flush()
        sys.stderr.write(err)
        return rc
    return run_tool(body, argv)


def off_main(argv: list[str] | None = None) -> int:
    return tool_main("condor_off", argv)


def on_main(argv: list[str] | None = None) -> int:
    return tool_main("condor_on", argv)


def restart_main(argv: list[str] | None = None) -> int:
    return tool_main("condor_restart", argv)


def reconfig_main(argv: list[str] | None = None) -> int:
    return tool_main("condor_reconfig", argv)


def reschedule_main(argv: list[str] | None = None) -> int:
    return tool_main("condor_reschedule", argv)
