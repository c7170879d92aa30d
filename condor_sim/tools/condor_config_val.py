"""condor_config_val: print, dump and write the configuration, locally or as a daemon has it,
and set or unset a daemon's runtime and persistent configuration.

Local lookups go through the config engine the bindings load (``htcondor2.param`` for the
values; :mod:`condor_sim.tools._param_info` for what the bindings do not expose: the raw
text, the file and line, the compiled-in default, the metaknob templates, the table walk
behind ``-dump``, ``-summary`` and ``-writeconfig``).  Where that is not available the
tool falls back to the values alone, with the file and line found by reading the config
files for ``NAME =`` lines; the output is then approximate (see :func:`fallback_info`).

Remote queries ask the daemon with CONFIG_VAL through the bindings; ``-set``/``-unset``
send DC_CONFIG_PERSIST and ``-rset``/``-runset`` DC_CONFIG_RUNTIME, which the bindings do
not send, over an FS-authenticated session (:mod:`condor_sim.security.client`).
"""
from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field

from condor_sim import CONDOR_PLATFORM, CONDOR_VERSION
from condor_sim.tools.common import ArgCursor, ToolError, is_arg_prefix, run_tool

PROG = "condor_config_val"
USAGE = (
    'Usage: condor_config_val <help>\n'
    '\n'
    '       condor_config_val [<location>] <edit> \n'
    '\n'
    '       condor_config_val [<location>] [<view>] <vars>\n'
    '\n'
    '       condor_config_val [<location>] use <template>\n'
    '\n'
    '    where <edit> is one set/unset operation with one or more arguments\n'
    '\t-set "<var> = <value>"\tSet persistent <var> to <value>\n'
    '\t-unset <var>\t\tRevert persistent <var> to previous value\n'
    '\t-rset "<var> = <value>"\tSet runtime <var> to <value>\n'
    '\t-runset <var>\t\tRevert runtime <var> to previous value\n'
    '\n'
    '    where <vars> is <var> [<var>...]\tPrint the value of <var>. The\n'
    '\tvalue is expanded unless -raw, -evaluate, -default or -dump is\n'
    '\tspecified. When used with -dump, <var> is regular expression.\n'
    '\n'
    '    where <view> is one or more of\n'
    '\t-summary[:detected] Print all variables changed by config files\n'
    '\t\t\toptionally including detected values\n'
    '\t-dump\t\tPrint values of all variables that match <var>\n'
    '\t\t\tThe value is raw unless -expanded, -default, or -evaluate\n'
    '\t\t\tis specified. If no <vars>, Print all variables\n'
    '\t-default\tPrint default value\n'
    '\t-expanded\tPrint expanded value\n'
    '\t-raw\t\tPrint raw value as it appears in the file\n'
    '\t-verbose\tPrint source, raw, expanded, and default values\n'
    '\t-trace\t\tPrint source and value for all config files that set <var>\n'
    '\t-debug[:<opts>] dprintf to stderr, optionally overiding TOOL_DEBUG\n'
    '      these options apply when querying a daemon with a <location> argument\n'
    '\t-evaluate\tevaluate with respect to the <daemon> ClassAd\n'
    '\t-used\t\tPrint only variables used by the specified daemon\n'
    '\t-unused\t\tPrint only variables not used by the specified daemon\n'
    '      these options apply when reading configuration files\n'
    '\t-config\t\tPrint the locations of configuration files\n'
    '\t-macro[:path]\tMacro expand <vars> as if they were config values\n'
    '\t\t\tif the path option is specified, canonicalize the result\n'
    '\t-writeconfig[:<filter>[,only]] <file>\tWrite configuration to <file>\n'
    '\t\twhere <filter> is a comma separated filter option\n'
    '\t\t\tdefault - compile time default values\n'
    '\t\t\tdetected - detected values\n'
    '\t\t\tenvironment - values read from environment\n'
    '\t\t\tfile - values from config file(s)\n'
    '\t\t\tonly - show only values that match the filter\n'
    '\t\t\tupgrade - values changed by config files(s)\n'
    '\t-mixedcase\tPrint variable names as originally specified\n'
    '\t-local-name <name>  Use local name for querying and expanding\n'
    '\t-subsystem <daemon> Subsystem/Daemon name for querying and\n'
    '\t\t\texpanding. The default subsystem is TOOL\n'
    '\n'
    '    where <template> is <category>:<var> or <category>\n'
    '        for <category>:<var>\tPrint the statements in that template\n'
    '        for <category>\t\tList available <vars> in <category>\n'
    '            categories are ROLE, POLICY, FEATURE, and SECURITY\n'
    '\n'
    '    where <location> is one or more of\n'
    '\t-address <ip:port>\tConnect to the given ip/port\n'
    '\t-pool <hostname>\tUse the given central manager to find daemons\n'
    '\t-name <daemon_name>\tQuery the specified daemon\n'
    '\t-master\t\t\tQuery the master\n'
    '\t-schedd\t\t\tQuery the schedd\n'
    '\t-startd\t\t\tQuery the startd\n'
    '\t-collector\t\tQuery the collector\n'
    '\t-negotiator\t\tQuery the negotiator\n'
    '\t-root-config <file>\tUse <file> as the root config file\n'
    '\n'
    '    where <help> is one of\n'
    '\t-help\t\tPrint this screen and exit\n'
    '\t-version\tPrint HTCondor version and exit\n'
)

DAEMON_TYPES = {"master": "Master", "schedd": "Schedd", "startd": "Startd",
                "collector": "Collector", "negotiator": "Negotiator"}
WRITE_FLAG_NAMES = ("default", "matches_default", "detected", "environment", "only", "file",
                    "duplicate", "source", "sort", "upgrade", "comment")
SCRATCH = "_CONDOR_SIM_Q"                 # condor_sim.config's expansion knob


@dataclass
class WriteFlags:
    """WRITE_CONFIG_OPTIONS: which entries ``-writeconfig``/``-summary`` write, and how."""
    show_def: bool = False
    show_def_match: bool = False
    show_detected: bool = False
    show_env: bool = False
    show_only: bool = False
    show_dup: bool = False
    comment_def: bool = False
    comment_def_match: bool = False
    comment_detected: bool = False
    comment_env: bool = False
    comment_source: bool = False
    comment_version: bool = False
    sort_name: bool = False
    hide_obsolete: bool = False
    hide_if_match: bool = False


@dataclass
class Options:
    params: list[str] = field(default_factory=list)
    name: str | None = None
    addr: str | None = None
    pool: str | None = None
    local_name: str | None = None
    subsys: str = "TOOL"
    daemon: str = "master"
    ask: bool = False
    mode: str = "query"            # query, set, unset, rset, runset
    mixedcase: bool = False
    raw: bool = False
    default: bool = False
    config: bool = False
    verbose: bool = False
    dump: bool = False
    expanded: bool = False
    macro: bool = False
    macro_path: bool = False
    evaluate: bool = False
    used: bool | None = None       # True: -used, False: -unused, None: neither
    summary: bool = False
    write: str | None = None
    write_flags: WriteFlags = field(default_factory=WriteFlags)


# ------------------------------------------------------------------------------ arguments
def _usage_error(message: str = "") -> ToolError:
    return ToolError(message + USAGE)


def _write_flags(opts: str | None) -> WriteFlags:
    f = WriteFlags()
    if opts is None:
        f.show_def_match = f.comment_def_match = True
        return f
    comment = False
    for opt in re.split(r"[:,]", opts):
        if is_arg_prefix(opt, "comment", 3):
            comment = True
        elif is_arg_prefix(opt, "default", 3):
            f.show_def, f.comment_def = True, comment
        elif is_arg_prefix(opt, "matches_default", 5):
            f.show_def_match, f.comment_def_match = True, comment
        elif is_arg_prefix(opt, "detected", 3):
            f.show_detected, f.comment_detected = True, comment
        elif is_arg_prefix(opt, "environment", 3):
            f.show_env, f.comment_env = True, comment
        elif opt == "only":
            f.show_only = True
        elif opt == "file":
            f.show_only = False
        elif is_arg_prefix(opt, "duplicate", 3):
            f.show_dup = True
        elif is_arg_prefix(opt, "source", 3):
            f.comment_source = True
        elif is_arg_prefix(opt, "sort", 3):
            f.sort_name = True
        elif is_arg_prefix(opt, "upgrade", 3):
            f.hide_obsolete = f.hide_if_match = True
    return f


def parse_args(args: list[str]) -> Options:
    """The command line as config_val.cpp reads it; ToolError for help, version and errors."""
    o = Options()
    cursor = ArgCursor(args)

    def value(what: str) -> str:
        return cursor.take(f"-{what} requires an argument")

    for a in cursor:
        if not a.startswith("-"):
            if a.lower() == "use":
                category = cursor.take(accept=lambda v: not v.startswith("-"))
                if category is None:
                    sys.stderr.write("use should be followed by a category or category:option argument\n")
                o.params.append("^" + (category or ""))
            else:
                o.params.append(a)
            continue
        arg = a[1:]
        word, colon, opts = arg.partition(":")
        if is_arg_prefix(arg, "name", 1):
            o.name = value("name")
        elif is_arg_prefix(arg, "address", 1):
            o.addr = value("address")
        elif is_arg_prefix(arg, "pool", 1):
            o.pool = value("pool")
        elif is_arg_prefix(arg, "local-name", 2):
            o.local_name = value("local_name")
        elif is_arg_prefix(arg, "subsystem", 3):
            o.subsys = value("subsystem")
        elif is_arg_prefix(arg, "master", 2):
            o.daemon, o.ask = "master", True
        elif is_arg_prefix(arg, "schedd", 2):
            o.daemon = "schedd"
        elif is_arg_prefix(arg, "startd", 2):
            o.daemon = "startd"
        elif is_arg_prefix(arg, "collector", 3):
            o.daemon = "collector"
        elif is_arg_prefix(arg, "negotiator", 3):
            o.daemon = "negotiator"
        elif is_arg_prefix(arg, "set", 2):
            o.mode = "set"
        elif is_arg_prefix(arg, "unset", 3):
            o.mode = "unset"
        elif is_arg_prefix(arg, "rset", 3):
            o.mode = "rset"
        elif is_arg_prefix(arg, "runset", 5):
            o.mode = "runset"
        elif is_arg_prefix(arg, "mixedcase", 2):
            o.mixedcase = True
        elif is_arg_prefix(arg, "raw", 3):
            o.raw = True
        elif is_arg_prefix(arg, "default", 3):
            if o.verbose:
                raise _usage_error("-default cannot be used with -verbose\n")
            o.default = True
        elif is_arg_prefix(arg, "config", 2):
            o.config = True
        elif is_arg_prefix(word, "verbose", 1):
            if o.default:
                raise _usage_error("-verbose cannot be used with -default\n")
            o.verbose = not (colon and "terse" in opts.split(","))
        elif is_arg_prefix(arg, "dump", 1):
            o.dump = True
        elif is_arg_prefix(arg, "trace", 2):
            pass                     # the values still print; the trace itself is not kept
        elif is_arg_prefix(arg, "expanded", 2):
            o.expanded = True
        elif is_arg_prefix(word, "macro", 3):
            o.macro = True
            o.macro_path = bool(colon) and is_arg_prefix(opts, "path", 4)
        elif is_arg_prefix(arg, "evaluate", 2):
            o.evaluate = True
        elif is_arg_prefix(arg, "unused", 4):
            o.used = False
        elif is_arg_prefix(arg, "used", 2):
            o.used = True
        elif is_arg_prefix(word, "summary", 3):
            if o.write is not None and not o.summary:
                raise _usage_error(f"{a} cannot be used with -writeconfig\n")
            o.summary = True
            o.write = "-"
            o.write_flags = WriteFlags(hide_obsolete=True, hide_if_match=True, comment_version=True,
                                       show_detected=bool(colon) and any(
                                           is_arg_prefix(x, "detected", 3) for x in opts.split(",")))
        elif is_arg_prefix(word, "writeconfig", 3):
            if o.summary:
                raise _usage_error(f"{a} cannot be used with -summary\n")
            o.write = value("writeconfig")
            o.write_flags = _write_flags(opts if colon else None)
        elif is_arg_prefix(word, "debug", 2):
            pass
        elif is_arg_prefix(arg, "help", 2) or is_arg_prefix(arg, "-help", 3):
            raise _usage_error()
        elif is_arg_prefix(arg, "version", 3):
            raise ToolError("", rc=0, stdout=f"{CONDOR_VERSION}\n{CONDOR_PLATFORM}\n")
        else:
            raise _usage_error(f"{a} is not a valid argument\n")
    if o.name or o.addr or o.daemon != "master":
        o.ask = True
    if o.mode != "query" and not o.ask:
        o.ask = True                  # a set goes to the local master by default
    return o


# ------------------------------------------------------------------------------ local config
@dataclass(frozen=True)
class LocalInfo:
    name: str
    raw: str | None
    default: str | None
    location: str | None


class LocalConfig:
    """The tool's own view of the config (subsystem, local name), with the engine's extras
    when they can be had."""

    def __init__(self, subsys: str = "TOOL", local_name: str | None = None):
        from condor_sim.config import DaemonConfig
        from condor_sim.tools import _param_info
        self.subsys = subsys.upper()
        self.local_name = local_name
        self.cfg = DaemonConfig(self.subsys, local_name)
        self.engine = _param_info.engine()

    def value(self, name: str) -> str | None:
        """param(): the expanded value, None when undefined or empty."""
        return self.cfg.get(name, fresh=True)

    def info(self, name: str) -> LocalInfo | None:
        if self.engine is not None:
            i = self.engine.info(name, self.subsys, self.local_name)
            return LocalInfo(i.name, i.raw, i.default, i.location) if i else None
        return fallback_info(name, self.value(name), self.cfg)

    def default(self, name: str) -> str | None:
        if self.engine is not None:
            return self.engine.default(name, self.subsys)
        return None

    def names(self) -> list[str]:
        """The table's names (defaults included) in the table's order."""
        if self.engine is not None:
            return [e.name for e in self.engine.entries(0) if e.name != SCRATCH]
        return sorted((k for k in self.cfg.names() if k != SCRATCH), key=str.lower)

    def sources(self) -> list[str]:
        return [os.environ.get("CONDOR_CONFIG", "")] + self.cfg.local_sources()


def fallback_info(name: str, value: str | None, cfg) -> LocalInfo | None:
    """Without the engine's metadata: the file and line of the last ``NAME =`` line in the
    config files (approximate: a value from a ``use`` template, an ``include`` or an
    ``if`` branch not taken is missed or misplaced), the raw text from that line (the
    expanded value when there is none), and no default."""
    where = cfg.where_defined(name)
    if value is None and where is None:
        return None
    raw = value
    location = "<Default>"
    if where is not None:
        path, line = where
        location = f"{path}, line {line}"
        try:
            with open(path, errors="replace") as f:
                text = f.read().splitlines()[line - 1]
            raw = re.split(r"[=:]", text, maxsplit=1)[1].strip()
        except (OSError, IndexError):
            pass
    return LocalInfo(name.upper(), raw, None, location)


def herefile(value: str, indent: str) -> str:
    """A multi-line value as ``@=end`` ... ``@end`` (RemotePrintValue)."""
    if "\n" not in value:
        return "= " + value
    return f"@=end{indented(value, indent)}\n@end"


def indented(value: str, indent: str) -> str:
    """indent_herefile(): each non-blank line of ``value``, trimmed, on a new line after
    ``indent``."""
    return "".join(f"\n{indent}{line.strip()}" for line in value.split("\n") if line.strip())


def query_local(o: Options, local: LocalConfig, out: list[str], err: list[str]) -> int:
    """KNOB..., -raw, -default, -expanded, -verbose, -macro: returns the number not defined."""
    missing = 0
    for p in o.params:
        if p.startswith("^"):
            out.append(print_meta(p[1:], local))
            continue
        if o.macro:
            out.append(expand_macro(p, local) + "\n")
            continue
        info = local.info(p)
        location = raw_line = None
        if info is not None:
            name_used = info.name
            if o.default:
                value = info.default
            elif o.raw:
                value = info.raw or ""
            else:
                value = local.value(p)
                raw_line = f"{name_used} = {info.raw or ''}"
            location = info.location
        else:
            name_used = p.upper()
            value = local.default(p) if o.default else None
        if value is None:
            err.append(f"Not defined: {name_used}\n")
            missing += 1
        elif o.verbose:
            out.append(f"{name_used} {herefile(value, '   ')}\n")
        else:
            out.append(value + "\n")
        if o.verbose:
            if location:
                out.append(f" # at: {location}\n")
            if raw_line:
                out.append(f" # raw: {raw_line}\n")
            out.append("\n")
    return missing


def expand_macro(text: str, local: LocalConfig) -> str:
    """-macro: ``text`` expanded as a config value would be."""
    import htcondor2
    htcondor2.param[SCRATCH] = text
    try:
        return htcondor2.param.get(SCRATCH, "")
    finally:
        try:
            del htcondor2.param[SCRATCH]
        except Exception:
            pass


def print_meta(spec: str, local: LocalConfig) -> str:
    """``use CATEGORY`` lists the options; ``use CATEGORY:OPTION`` prints its statements
    (PrintMetaParam; ``CATEGORY.OPTION`` is taken for the common typo)."""
    m = re.search(r"[=:]", spec)
    if m:
        cat, opt = spec[:m.start()], spec[m.end():]
    elif "." in spec:
        cat, opt = spec.split(".", 1)
        sys.stderr.write(f"{spec} is not valid, assuming {cat}:{opt} was intended\n")
    else:
        cat, opt = spec, ""
    knob = re.match(r"\s*([^\s(]*)", opt).group(1)
    eng = local.engine
    table = eng.meta_table(cat) if eng is not None else None
    if table is not None:
        key, items = table
        if not opt:
            return f"use {key} accepts\n" + "".join(f"  {k}\n" for k, _ in items) if items else ""
        for k, text in items:
            if k.lower() == knob.lower():
                return f"use {key}:{k} is\n{text}\n"
        return f"Not defined: use {cat.upper()}:{opt.upper()}\n"
    return f"Not defined: use {cat.upper()}\n"


def dump_local(o: Options, local: LocalConfig) -> str:
    """-dump [regex...]: every knob whose name matches, raw unless -expanded/-default."""
    import socket
    host = local.value("FULL_HOSTNAME") or socket.gethostname() or "<unknown hostname>"
    out = [f"# Configuration from machine: {host}\n"]
    names = local.names()
    for pattern in o.params or [""]:
        if pattern:
            out.append(f"\n# Parameters with names that match {pattern}:\n")
        try:
            rx = re.compile(pattern, re.I)
        except re.error:
            continue
        for name in names:
            if not rx.search(name):
                continue
            info = local.info(name)
            if info is None:
                continue
            if o.default:
                text = info.default or ""
            elif o.expanded:
                text = local.value(name) or ""
            else:
                text = info.raw or ""
            shown = name if (o.default or o.expanded) else info.name
            out.append(f"{shown} {herefile(text, '   ')}\n")
            if o.verbose:
                out.append(f" # at: {info.location or ''}\n")
                if o.expanded:
                    out.append(f" # raw: {info.raw or ''}\n")
                else:
                    out.append(f" # expanded: {local.value(name) or ''}\n")
                if info.default is not None:
                    out.append(f" # default: {info.default}\n")
    if not o.verbose:
        out.append("# Contributing configuration file(s):\n")
        out += [f"#\t{s}\n" for s in local.sources() if s]
    return "".join(out)


# ------------------------------------------------------------------------------ -writeconfig
DETECTED, DEFAULT, ENVIRONMENT, WIRE = 0, 1, 2, 3        # the engine's first source ids


def write_config_text(flags: WriteFlags, local: LocalConfig) -> str:
    """do_write_config(): the knobs the config files set (and more, per ``flags``), grouped
    under each source file in the order they were set."""
    eng = local.engine
    if eng is None:
        raise ToolError("-writeconfig and -summary need the config engine's metadata, "
                        "which this platform's bindings do not expose\n")
    obsolete = set()
    obsolete_if = set()
    if flags.hide_obsolete:
        for key in ("DISCARD", "DISCARDX"):
            obsolete |= {x.lower() for x in (eng.meta_value("UPGRADE", key) or "").split("\n") if x}
    if flags.hide_if_match:
        for key in ("DISCARDIF", "DISCARDIFX"):
            obsolete_if |= {x for x in (eng.meta_value("UPGRADE", key) or "").split("\n") if x}
    # with "only", file values still show unless another kind was asked for
    show_file = not flags.show_only or not (flags.show_def or flags.show_def_match or
                                            flags.show_detected or flags.show_env or flags.show_dup)
    rows: list[tuple[tuple, str]] = []
    last = None
    for n, e in enumerate(eng.entries(8)):
        if e.name == SCRATCH or e.meta is None:
            continue
        m = e.meta
        comment = ""
        if m.matches_default and not m.inside:
            if not flags.show_def_match:
                continue
            comment = "#" if flags.comment_def_match else ""
        elif m.source_id == DETECTED:
            if not (flags.show_detected or flags.show_def):
                continue
            comment = "#detected#" if flags.comment_detected else "#def#" if flags.comment_def else ""
        elif m.inside:
            if not flags.show_def:
                continue
            comment = "#def#" if flags.comment_def else ""
        elif m.source_id == ENVIRONMENT:
            if flags.show_only and not flags.show_env:
                continue
            comment = "#env#" if flags.comment_env else ""
        elif m.source_id > WIRE:
            if not show_file:
                continue
            if m.param_id >= 0 and not e.raw and not eng.default_raw_by_id(m.param_id):
                if not flags.show_def_match:
                    continue
                comment = "#" if flags.comment_def_match else ""
            if e.name.lower() in obsolete:
                continue
            if f"{e.name.upper()}={e.raw or ''}" in obsolete_if:
                continue
        elif flags.show_only:
            continue
        raw = e.raw or ""
        text = f"{comment}{e.name} = {raw}"
        if m.multi_line:
            pad = "#   " if comment.startswith("#") else "   "
            text = f"{comment}{e.name} @=end{indented(raw, pad)}\n@end"
        if last is not None and last.lower() == e.name.lower() and not flags.show_dup:
            continue
        if flags.comment_source:
            text += f"\n # at: {eng.location(m.address) or ''}"
        source = {ENVIRONMENT: 0xFFFE, WIRE: 0xFFFF}.get(m.source_id, m.source_id)
        key = (n,) if flags.sort_name else (source, m.source_line, n)
        rows.append((key, text, m.source_id))
        last = e.name
    if not rows:
        return ""
    out = []
    if flags.comment_version:
        out.append(f"# condor_config_val {CONDOR_VERSION}\n")
    if flags.sort_name:
        return "".join(out) + "".join(t + "\n" for _, t, _ in rows)
    current = None
    for key, text, source_id in sorted(rows, key=lambda r: r[0]):
        if source_id != current:
            name = eng.source_name(source_id)
            if name:
                out.append(f"\n#\n# from {name}\n#\n")
            current = source_id
        out.append(text + "\n")
    return "".join(out)


def write_config(o: Options, local: LocalConfig) -> None:
    text = write_config_text(o.write_flags, local)
    if o.write == "-":
        sys.stdout.write(text)
        return
    try:
        with open(o.write, "w") as f:
            f.write(text)
    except OSError:
        raise ToolError(f"Failed to create configuration file {o.write}.\n", rc=2)


# ------------------------------------------------------------------------------ daemons
@dataclass
class Target:
    daemon: str                 # master, schedd, ...
    name: str
    addr: str
    ad: object                  # the location ad (classad2.ClassAd)


def locate(o: Options) -> Target:
    """DaemonAllowLocateFull::locate(): the daemon the options name."""
    import classad2
    import htcondor2
    if o.addr:
        ad = classad2.ClassAd({"MyAddress": o.addr})
        return Target(o.daemon, "", o.addr, ad)
    name = o.name
    if name is not None and "@" not in name and "." not in name:
        raise ToolError(f"{PROG}: unknown host {name}\n")
    if o.pool and not name:
        raise ToolError("Error: you must specify -name with -pool\n")
    dtype = getattr(htcondor2.DaemonType, DAEMON_TYPES[o.daemon])
    try:
        coll = htcondor2.Collector(o.pool) if o.pool else htcondor2.Collector()
        ad = coll.locate(dtype, name) if name else coll.locate(dtype)
    except Exception:
        ad = None
    if ad is None or "MyAddress" not in ad:
        raise ToolError(f"Can't find address for {o.daemon} '{name or 'default'}' in "
                        f"{o.pool or 'local pool'}\nPerhaps you need to query another pool.\n")
    return Target(o.daemon, str(ad.get("Name", "")), str(ad["MyAddress"]), ad)


def remote_get(t: Target, name: str) -> str:
    """CONFIG_VAL through the bindings: the value, or "Not defined"."""
    from htcondor2._remote_param import _remote_param_get
    try:
        return _remote_param_get(t.ad._handle, name)
    except Exception:
        raise ToolError(f"Can't connect to {t.daemon} on {t.name} {t.addr}\n")


def evaluated(value: str, daemon_ad) -> str:
    """EvaluatedValue(): the value as a ClassAd expression evaluated against the ad."""
    import classad2
    from condor_sim.tools.common import unparse_value
    try:
        result = classad2.ExprTree(value).eval(daemon_ad)
    except Exception:
        sys.stderr.write(f"Warning: Failed to evaluate '{value}', returning it as config value\n")
        return value
    return unparse_value(result)


def full_ad(t: Target):
    """The daemon's own ad from the collector, for -evaluate."""
    import htcondor2
    try:
        kind = getattr(htcondor2.AdType, DAEMON_TYPES[t.daemon])
        ads = htcondor2.Collector().query(kind, f'MyAddress == "{t.addr}"')
        return ads[0] if ads else t.ad
    except Exception:
        return t.ad


def query_remote(o: Options, t: Target, local: LocalConfig, out: list[str], err: list[str]) -> int:
    """KNOB... of a daemon: CONFIG_VAL answers "Not defined" itself, so nothing is missing.
    With -verbose, -raw or -default the real tool asks DC_CONFIG_VAL for the raw text and
    source; the bindings do not, so those come from the local config (approximate when
    the daemon's config differs from the tool's)."""
    ad = full_ad(t) if o.evaluate else None
    for p in o.params:
        if p.startswith("^"):
            raise ToolError(f"remote query not supported for use {p[1:]}\n")
        value = remote_get(t, p)
        info = local.info(p) if (o.verbose or o.raw or o.default) else None
        if info is not None and not o.verbose:
            value = (info.default if o.default else info.raw) or value
        if ad is not None and value is not None:
            value = evaluated(value, ad)
        if o.verbose:
            out.append(f"{p.upper()} {herefile(value, '   ')}\n")
            if info is not None and value != "Not defined":
                if info.location:
                    out.append(f" # at: {info.location}\n")
                out.append(f" # raw: {info.name} = {info.raw or ''}\n")
            out.append("\n")
        else:
            out.append(value + "\n")
    return 0


def dump_remote(o: Options, t: Target, local: LocalConfig) -> str:
    """-dump of a daemon: the names it lists (``?names``) that match each pattern, with
    the values it gives for them.  Approximate: the bindings get expanded values only (the
    real tool prints the raw text unless -expanded), the sources come from the tool's own
    config, and -used/-unused select nothing since the use counts are not sent."""
    from htcondor2._remote_param import _remote_param_keys
    try:
        names = [n for n in _remote_param_keys(t.ad._handle).split(",") if n]
    except Exception:
        raise ToolError(f"Can't connect to {t.daemon} on {t.name} {t.addr}\n")
    out = [f"# Configuration from {t.daemon} on {t.name} {t.addr}\n"]
    sources: set[str] = set()
    for pattern in o.params or [""]:
        if pattern:
            out.append(f"\n# Parameters with names that match {pattern}:\n")
        try:
            rx = re.compile(pattern, re.I)
        except re.error:
            raise ToolError(f"Error: invalid regular expression {pattern}\n")
        for name in sorted((n for n in names if rx.search(n)), key=str.lower):
            value = remote_get(t, name)
            if value == "Not defined":
                continue
            info = local.info(name)
            text = (info.default or "") if (o.default and info) else value
            out.append(f"{name} {herefile(text, '   ')}\n")
            if info is not None and info.location:
                sources.add(re.sub(r", line \d+$", "", info.location))
    if not o.verbose and sources:
        out.append("# Contributing configuration file(s):\n")
        out += [f"#\t{s}\n" for s in sorted(sources)]
    return "".join(out)


# ------------------------------------------------------------------------------ set/unset
SET_COMMANDS = {"set": 60002, "unset": 60002, "rset": 60003, "runset": 60003}   # DC_CONFIG_PERSIST / RUNTIME


def config_name_for(mode: str, value: str, mixedcase: bool) -> tuple[str, str]:
    """The name a set/unset sends first (lower case unless -mixedcase) and the argument with
    leading blanks gone; ToolError for what the real tool refuses before connecting."""
    from condor_sim.remote_config import assigned_name
    value = value.lstrip()
    if mode in ("set", "rset"):
        name = assigned_name(value)
        if not name:
            cut = re.search(r"[=:]", value)
            shown = value[:cut.start()] if cut else value
            raise ToolError(f'{PROG}: Can\'t set configuration value ("{shown}")\n'
                            'You must specify "macro_name = value" or "expr_name : value"\n')
    else:
        if ":" in value or "=" in value:
            raise ToolError(f'{PROG}: Can\'t unset configuration value ("{value}")\n'
                            "To unset, you only specify the name of the attribute\n")
        name = value.split(" ", 1)[0]
    if not re.fullmatch(r"[A-Za-z0-9_.]+", name):
        raise ToolError(f"{PROG}: Error: Configuration variable name ({name}) is not valid, "
                        "alphanumeric and _ only\n")
    return (name if mixedcase else name.lower()), value


def send_set(t: Target, cmd: int, config_name: str, line: str) -> int:
    """One DC_CONFIG_PERSIST/RUNTIME exchange: the daemon's reply (0 accepted, -1 refused)."""
    import asyncio

    from condor_sim.security.client import open_command

    async def exchange() -> int:
        conn = await open_command(t.addr, cmd, subsystem="TOOL")
        try:
            await conn.send(conn.message().put_string(config_name).put_string(line).getvalue())
            return (await conn.read()).get_int()
        finally:
            conn.close()
    return asyncio.run(asyncio.wait_for(exchange(), 30))


def set_remote(o: Options, t: Target) -> str:
    """SetRemoteParam() for each argument; the success lines, or ToolError at the first failure."""
    out = []
    is_set = o.mode in ("set", "rset")
    for p in o.params:
        config_name, value = config_name_for(o.mode, p, o.mixedcase)
        try:
            rval = send_set(t, SET_COMMANDS[o.mode], config_name, value if is_set else "")
        except OSError:
            raise ToolError(f"Can't connect to {t.daemon} on {t.name} {t.addr}\n")
        except Exception:
            raise ToolError(f"Can't receive reply from {t.daemon} on {t.name} {t.addr}\n")
        what = "set" if is_set else "unset"
        if rval < 0:
            raise ToolError(f'Attempt to {what} configuration "{value}" on {t.daemon} {t.name} '
                            f'{t.addr} failed.\n', stdout="".join(out))
        out.append(f'Successfully {what} configuration "{value}" on {t.daemon} {t.name} '
                   f'{t.addr}. The change will take effect on the next condor_reconfig.\n')
    return "".join(out)


# ------------------------------------------------------------------------------ main
def body(args: list[str]) -> int:
    o = parse_args(args)
    local = LocalConfig(o.subsys, o.local_name)
    if o.config:
        sys.stderr.write("Configuration source:\n")
        sys.stderr.flush()
        sources = local.sources()
        sys.stdout.write(f"\t{sources[0]}\n")
        sys.stdout.flush()
        if sources[1:]:
            sys.stderr.write("Local configuration source:\n" if len(sources) == 2
                             else "Local configuration sources:\n")
            sys.stderr.flush()
            sys.stdout.write("".join(f"\t{s}\n" for s in sources[1:]))
            sys.stdout.flush()
            sys.stderr.write("\n")
    if o.summary and o.ask:
        raise ToolError("-summary of a daemon's configuration is not supported\n")
    if o.write is not None:
        write_config(o, local)
    if o.dump and not o.ask:
        sys.stdout.write(dump_local(o, local))
        return 0
    if not o.params and not o.config:
        if o.write is not None:
            return 0
        raise _usage_error()
    out: list[str] = []
    err: list[str] = []
    if o.ask:
        target = locate(o)
        if o.mode != "query":
            sys.stdout.write(set_remote(o, target))
            return 0
        if o.dump:
            sys.stdout.write(dump_remote(o, target, local))
            return 0
        missing = query_remote(o, target, local, out, err)
    else:
        missing = query_local(o, local, out, err)
    sys.stdout.write("".join(out))
    sys.stdout.flush()
    sys.stderr.write("".join(err))
    return 1 if missing else 0


def main(argv: list[str] | None = None) -> int:
    """condor_config_val's command line; returns the exit code."""
    return run_tool(body, argv)


if __name__ == "__main__":
    sys.exit(main())
