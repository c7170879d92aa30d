"""``condor_status``: the ads in the collector, in the views HTCondor's condor_status prints
(slots by default; ``-any``, ``-master``, ``-schedd``, ``-submitters``, ``-negotiator``,
``-collector``, ``-startd``, ``-run``, ``-claimed``, ``-avail``, ``-compact``, ``-total``) or
as ``-af``/``-format``/``-long``/``-json``/``-xml``.

A view is a list of columns (heading, width, alignment, how to render one ad) and, for some
views, a totals table under it.  :func:`render_view` is pure: it takes the ads and returns
the text, so it can be compared byte for byte with what the real tool printed.  The times
the views show are taken from the ads (``LastHeardFrom``, which the collector stamps), the
negotiator's cycle date from the local clock's time zone.  :func:`main` parses the command
line and asks the collector through ``htcondor2``.
"""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from typing import Callable

import classad2

from condor_sim.tools import common as C

USAGE_TAIL = "Use \"condor_status -help\" for details\n"


# ------------------------------------------------------------------------------ values
def _get(ad, attr: str):
    """An attribute's evaluated value, or None when it is missing or not a plain value."""
    if attr not in ad:
        return None
    try:
        v = ad.eval(attr)
    except Exception:
        return None
    return None if isinstance(v, classad2.Value) else v


def _int(ad, attr: str):
    v = _get(ad, attr)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return int(v)


def _num(ad, attr_or_expr: str):
    v = C.evaluate(ad, attr_or_expr)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return v


def _str(ad, attr: str):
    v = _get(ad, attr)
    return v if isinstance(v, str) else None


def format_time(secs: int) -> str:
    """``D+HH:MM:SS`` as HTCondor's ``format_time`` spells an interval."""
    secs = max(int(secs), 0)
    return f"{secs // 86400}+{secs % 86400 // 3600:02d}:{secs % 3600 // 60:02d}:{secs % 60:02d}"


def metric_units(n: float) -> str:
    suffixes = ["B ", "KB", "MB", "GB", "TB"]
    power = 0
    while n > 1024.0 and power < len(suffixes) - 1:
        n /= 1024.0
        power += 1
    return "%.1f %s" % (n, suffixes[power])


def readable_mb(ad, attr: str):
    v = _num(ad, attr)
    return None if v is None else metric_units(v * 1024.0 * 1024.0)


def platform(ad):
    """``x64/Debian12``: the architecture and the OS with its version."""
    opsys = _str(ad, "OpSys")
    name = _str(ad, "OpSysShortName") if opsys == "WINDOWS" else _str(ad, "OpSysAndVer")
    if name is None:
        return None
    arch = _str(ad, "Arch") or ""
    arch = {"X86_64": "x64", "X86": "x86"}.get(arch, arch)
    return f"{arch}/{name}"


def version(ad, with_build: bool = True):
    """``25.14.0.PRE`` from ``$CondorVersion: 25.14.0 2026-11-28 PRE-RELEASE-UWCS $``."""
    text = _str(ad, "CondorVersion")
    if not text:
        return None
    words = text.split()
    if len(words) < 2:
        return None
    out = words[1]
    rest = words[2:]
    if rest and re.match(r"\d{4}-\d\d-\d\d$", rest[0]):
        rest = rest[1:]
    else:
        rest = rest[3:]
    if rest and rest[0].startswith("B"):
        rest = rest[1:]
    if rest and not rest[0].startswith("$") and with_build:
        out += "." + rest[0].split("-", 1)[0]
    return out


def ad_now(ad):
    """The time an ad's intervals are measured to: ``MyCurrentTime`` or ``LastHeardFrom``."""
    now = _int(ad, "MyCurrentTime")
    return now if now is not None else _int(ad, "LastHeardFrom")


def since(ad, attr: str, clamp: bool = True):
    t, now = _int(ad, attr), ad_now(ad)
    if t is None or now is None:
        return None
    return format_time(max(now - t, 0) if clamp else now - t)


def elapsed(ad, attr: str):
    t, now = _int(ad, attr), _int(ad, "LastHeardFrom")
    if t is None or now is None:
        return None
    return format_time(now - t)


def date(ad, attr: str):
    t = _int(ad, attr)
    return None if t is None else C.format_date(t)


def printf(spec: str, attr: str) -> Callable:
    def render(ad):
        v = _num(ad, attr)
        if v is None:
            return None
        return spec % (int(v) if spec.endswith("d") else float(v))
    return render


def text(attr: str) -> Callable:
    def render(ad):
        v = _get(ad, attr)
        if v is None:
            return None
        return v if isinstance(v, str) else C.unparse_value(v)
    return render


def member_count(attr: str) -> Callable:
    def render(ad):
        v = _get(ad, attr)
        if isinstance(v, str):
            return str(len([w for w in re.split(r"[ ,]+", v) if w]))
        if isinstance(v, list):
            return str(len(v))
        return None
    return render


# ------------------------------------------------------------------------------ columns
@dataclass
class Column:
    """One column: ``width`` < 0 left-aligns, > 0 right-aligns; ``auto`` grows to fit."""
    heading: str
    width: int
    render: Callable
    alt: str = ""
    auto: bool = False
    noprefix: bool = False


def render_table(columns: list[Column], ads: list) -> str:
    """The heading line, a blank line and one line per ad."""
    cells = []
    for ad in ads:
        row = []
        for col in columns:
            v = col.render(ad)
            row.append(col.alt if v is None else v)
        cells.append(row)
    widths = []
    for i, col in enumerate(columns):
        w = abs(col.width)
        if col.auto:
            w = max([w, len(col.heading)] + [len(r[i]) for r in cells])
        widths.append(w)

    def line(values: list[str], heading: bool) -> str:
        out = []
        for i, (col, v) in enumerate(zip(columns, values)):
            w = widths[i]
            if heading or col.width <= 0:
                cell = v.ljust(w)
            else:
                cell = v.rjust(w)
            if i and not col.noprefix:
                out.append(" ")
            out.append(cell)
        return "".join(out) + "\n"

    return line([c.heading for c in columns], True) + "\n" + "".join(line(r, False) for r in cells)


def load_avg(attr: str) -> Callable:
    def render(ad):
        v = _num(ad, attr)
        return None if v is None else "%.3f" % v
    return render


def slot_columns(wide: bool, claimed: bool = False) -> list[Column]:
    cols = [Column("Name", -34, text("Name"), "??", auto=True),
            Column("OpSys", -10, text("OpSys"), "??"),
            Column("Arch", -8, text("Arch"), "??")]
    if not claimed:
        cols += [Column("State", 0, text("State"), "??", auto=True),
                 Column("Activity", -8, text("Activity"), "??")]
    cols.append(Column("LoadAv", 6, load_avg("CondorLoadAvg"), "??"))
    if claimed:
        cols += [Column("RemoteUser", -20, text("RemoteUser"), "??"),
                 Column("ClientMachine", -16, text("ClientMachine"), "??")]
        return cols
    cols.append(Column("Mem", 6, printf("%6d", "Memory"), "??"))
    if wide:
        cols.append(Column("ActivityTime", 12, lambda ad: since(ad, "EnteredCurrentActivity"), "-"))
    else:
        cols.append(Column("  ActvtyTime", 12, lambda ad: since(ad, "EnteredCurrentActivity"), "-",
                           noprefix=True))
    return cols


COLUMNS: dict[str, Callable[[bool], list[Column]]] = {
    "slots": lambda wide: slot_columns(wide),
    "claimed": lambda wide: slot_columns(wide, claimed=True),
    "any": lambda wide: [
        Column("MyType", -18, lambda ad: _str(ad, "MyType") or "None"),
        Column("TargetType", -18, lambda ad: _str(ad, "TargetType") or "None"),
        Column("Name", -41, text("Name"), "?")],
    "schedd": lambda wide: [
        Column("Name", -15, text("Name"), auto=True),
        Column("Machine", -12, text("Machine"), auto=True),
        Column("RunningJobs", 11, printf("%11d", "TotalRunningJobs")),
        Column("  IdleJobs", 10, printf("%10d", "TotalIdleJobs")),
        Column("  HeldJobs", 10, printf("%10d", "TotalHeldJobs"))],
    "submitters": lambda wide: [
        Column("Name", -15, text("Name"), auto=True),
        Column("Machine", -12, text("Machine"), auto=True),
        Column("RunningJobs", 11, printf("%11d", "RunningJobs")),
        Column("  IdleJobs", 10, printf("%10d", "IdleJobs")),
        Column("  HeldJobs", 10, printf("%10d", "HeldJobs"))],
    "schedd-run": lambda wide: [
        Column("Name", -15, text("Name"), auto=True),
        Column("TotalJobs", 9, printf("%9d", "TotalJobAds")),
        Column("Shadows", 7, printf("%7d", "ShadowsRunning")),
        Column("ActiveDAGs", 10, printf("%10d", "TotalSchedulerJobsRunning")),
        Column("IdleDAGs", 8, printf("%8d", "TotalSchedulerJobsIdle")),
        Column("RcntDone", 8, printf("%8d", "RecentJobsCompleted")),
        Column("RcntStart", 9, printf("%9d", "RecentJobsStarted"))],
    "collector": lambda wide: [
        Column("Name", 0, text("Name"), auto=True),
        Column("Machine", -34 if wide else -18, text("Machine")),
        Column("RunningJobs", 11, printf("%11d", "RunningJobs")),
        Column("  IdleJobs", 10, printf("%10d", "IdleJobs")),
        Column("HostsTotal", 10, printf("%10d", "HostsTotal"))],
    "master": lambda wide: [
        Column("Name", -12, text("Name"), auto=True),
        Column("Version", -14, lambda ad: version(ad)),
        Column("Cpus", 4, printf("%4d", "DetectedCpus"), "??"),
        Column("  Memory", 10, lambda ad: readable_mb(ad, "DetectedMemory"), "??"),
        Column("   Uptime", 13, lambda ad: elapsed(ad, "DaemonStartTime"))],
    "startd": lambda wide: [
        Column("Name", 0, text("Name"), auto=True),
        Column("Platform", 0, platform, auto=True),
        Column("Version", 0, lambda ad: version(ad), auto=True),
        Column("Cpus", 4, printf("%4d", "DetectedCpus"), "??"),
        Column("  Memory", 10, lambda ad: readable_mb(ad, "DetectedMemory"), "??"),
        Column("GPUs", 5, member_count("DetectedGPUs"), " "),
        Column("   Uptime", 13, lambda ad: elapsed(ad, "DaemonStartTime"))],
    "negotiator": lambda wide: [
        Column("Name", -12, text("Name"), auto=True),
        Column("LastCycleEnd", 12, lambda ad: date(ad, "LastNegotiationCycleEnd0")),
        Column("(Sec)", 5, printf("%5d", "LastNegotiationCycleDuration0")),
        Column("  Slots", 7, printf("%7d", "LastNegotiationCycleCandidateSlots0")),
        Column("Submitrs", 8, printf("%8d", "LastNegotiationCycleActiveSubmitterCount0")),
        Column("Schedds", 7, printf("%7d", "LastNegotiationCycleNumSchedulers0")),
        Column("   Jobs", 7, printf("%7d", "LastNegotiationCycleNumIdleJobs0")),
        Column("Matches", 7, printf("%7d", "LastNegotiationCycleMatches0")),
        Column("Rejections", 10, printf("%10d", "LastNegotiationCycleRejections0"))],
}
# -generic asks for the generic ads only, and shows them as -any does
COLUMNS["generic"] = COLUMNS["any"]


# ------------------------------------------------------------------------------ totals
SLOT_STATES = ["Owner", "Claimed", "Unclaimed", "Matched", "Preempting", "Drained", "Backfill"]


def slot_totals_row(ads) -> tuple[list[int], int]:
    """Total Owner Claimed Unclaimed Matched Preempting Drain Backfill BkIdle, and how many
    ads had no usable State."""
    n = dict.fromkeys(SLOT_STATES + ["BkIdle"], 0)
    total = bad = 0
    for ad in ads:
        state = _str(ad, "State")
        if state not in SLOT_STATES:
            bad += 1
            continue
        n[state] += 1
        total += 1
    return [total] + [n[s] for s in SLOT_STATES] + [n["BkIdle"]], bad


def _slot_info(v: list[int]) -> str:
    return "%6d %5d %7d %9d %7d %10d %6d %8d %6d\n" % (v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8])


def _totals(keyed: dict, header: str, row: Callable, total_row: Callable, key_width: int,
            malformed: int = 0, top_rows: bool = True) -> str:
    out = [" " * key_width + header + "\n"]
    for key in sorted(keyed):
        out.append(key.rjust(key_width)[:key_width] if len(key) <= key_width else key[:key_width])
        out.append(row(keyed[key]) if top_rows else "")
    if keyed:
        out.append("\n")
    out.append("Total".rjust(key_width) + total_row([a for ads in keyed.values() for a in ads]))
    if malformed:
        out.append("\n" + " " * key_width
                   + f"(Omitted {malformed} malformed ads in computed attribute totals)\n\n")
    return "".join(out)


def _group(ads, key: Callable) -> tuple[dict, int]:
    groups: dict = {}
    bad = 0
    for ad in ads:
        k = key(ad)
        if k is None:
            bad += 1
            continue
        groups.setdefault(k, []).append(ad)
    return groups, bad


def _arch_opsys(ad):
    arch, opsys = _str(ad, "Arch"), _str(ad, "OpSys")
    return None if arch is None or opsys is None else f"{arch}/{opsys}"


def slot_totals(ads, key=_arch_opsys) -> str:
    groups, bad = _group(ads, key)
    head = "%6.6s %5.5s %7.7s %9.9s %7.7s %10.10s %6.6s %8.8s %6.6s\n" % (
        "Total", "Owner", "Claimed", "Unclaimed", "Matched", "Preempting", "Drain", "Backfill", "BkIdle")
    bad += sum(slot_totals_row(g)[1] for g in groups.values())
    return _totals(groups, head, lambda g: _slot_info(slot_totals_row(g)[0]),
                   lambda g: _slot_info(slot_totals_row(g)[0]), 14, bad)


def run_totals(ads) -> str:
    groups, bad = _group(ads, _arch_opsys)

    def info(g):
        mips = sum(_int(a, "Mips") or 0 for a in g)
        kflops = sum(_int(a, "KFlops") or 0 for a in g)
        load = sum(_num(a, "LoadAvg") or 0 for a in g)
        return "%9d  %11d  %11d   %-.3f\n" % (len(g), mips, kflops, load / len(g) if g else 0)
    bad += sum(1 for g in groups.values() for a in g
               if _int(a, "Mips") is None or _int(a, "KFlops") is None or _num(a, "LoadAvg") is None)
    head = "%9.9s  %11.11s  %11.11s  %11.11s\n" % ("Machines", "MIPS", "KFLOPS", "AvgLoadAvg")
    return _totals(groups, head, info, info, 14, bad)


def schedd_totals(ads) -> str:
    def info(g):
        return "%18d %18d %18d\n" % tuple(sum(_int(a, k) or 0 for a in g) for k in
                                          ("TotalRunningJobs", "TotalIdleJobs", "TotalHeldJobs"))
    bad = sum(1 for a in ads if any(_int(a, k) is None for k in
                                    ("TotalRunningJobs", "TotalIdleJobs", "TotalHeldJobs")))
    head = "%18s %18s %18s\n" % ("TotalRunningJobs", "TotalIdleJobs", "TotalHeldJobs")
    return _totals({" ": list(ads)}, head, lambda g: "", info, 14, bad)


def submitter_totals(ads) -> str:
    groups, bad = _group(ads, lambda a: _str(a, "Name"))

    def info(g):
        return "%11d %10d %10d\n" % tuple(sum(_int(a, k) or 0 for a in g) for k in
                                          ("RunningJobs", "IdleJobs", "HeldJobs"))
    bad += sum(1 for g in groups.values() for a in g
               if any(_int(a, k) is None for k in ("RunningJobs", "IdleJobs", "HeldJobs")))
    width = max([5] + [len(k) for k in groups])
    head = "%11s %10s %10s\n" % ("RunningJobs", "IdleJobs", "HeldJobs")
    return _totals(groups, head, info, info, width, bad)


def startd_totals(ads) -> str:
    groups, bad = _group(ads, platform)

    def info(g):
        machines = slots = cpus = gpus = busy = bk = bgpu = bkgpu = 0
        mem = bkmem = 0.0
        for a in g:
            machines += 1
            slots += _int(a, "TotalSlots") or _int(a, "NumDynamicSlots") or 0
            cpus += _int(a, "TotalCpus") or 0
            gpus += _int(a, "TotalGPUs") or 0
            busy += _int(a, "TotalInUseCpus") or 0
            bgpu += _int(a, "TotalInUseGPUs") or 0
            bk += _int(a, "TotalBackfillInUseCpus") or 0
            bkgpu += _int(a, "TotalBackfillInUseGPUs") or 0
            total_mem = _int(a, "TotalMemory") or 0
            if total_mem:
                mem += (_int(a, "TotalInUseMemory") or 0) / total_mem
                bkmem += (_int(a, "TotalBackfillInUseMemory") or 0) / total_mem
        return "%8d %8d %8d %8d %8d %8d %8d %8d %7.2f%% %7.2f%%\n" % (
            machines, slots, cpus, busy, bk, gpus, bgpu, bkgpu, 100 * mem / machines, 100 * bkmem / machines)
    head = ("%8.8s " * 9 + "%8.8s\n") % ("Machines", "Slots", "Cpus", "BusyCpus", "BkCpus", "GPUs",
                                         "BusyGPUs", "BkGPUs", "Memory%", "BkMem%")
    return _totals(groups, head, info, info, 14, bad)


TOTALS: dict[str, Callable] = {"slots": slot_totals, "claimed": run_totals, "schedd": schedd_totals,
                               "submitters": submitter_totals, "startd": startd_totals}


# ------------------------------------------------------------------------------ -compact
def activity_code(state, activity) -> str:
    s = {"Owner": "O", "Unclaimed": "U", "Matched": "M", "Claimed": "C", "Preempting": "P",
         "Shutdown": "S", "Delete": "X", "Backfill": "B", "Drained": "D"}.get(state, "?")
    a = {"Idle": "i", "Busy": "b", "Retiring": "r", "Vacating": "v", "Suspended": "s",
         "Benchmarking": "e", "Killing": "k"}.get(activity, "?")
    return s + a


def compact_view(ads) -> str:
    """``-compact``: one line per machine (its partitionable or static slots rolled up)."""
    machines: dict = {}
    for ad in ads:
        machines.setdefault(_str(ad, "Machine") or "", []).append(ad)
    columns = ["Machine", "Platform", "Slots", "Cpus", "Gpus", " TotalGb", "FreCpu", " FreeGb ",
               "CpuLoad", "ST", "Jobs/Min", "MaxSlotGb"]
    rows = []
    totals_ads = []
    for mach, group in machines.items():
        tops = [a for a in group if _get(a, "DynamicSlot") is not True]
        if not tops:
            continue
        top = tops[0]
        kids = [a for a in group if _get(a, "DynamicSlot") is True]
        nslots = _int(top, "NumDynamicSlots")
        child_states = [(_str(k, "State"), _str(k, "Activity")) for k in kids]
        codes = {activity_code(s, a) for s, a in child_states}
        code = codes.pop() if len(codes) == 1 else activity_code(_str(top, "State"), _str(top, "Activity"))
        total_cpus = _num(top, "TotalCpus") or 0
        load = _num(top, "TotalLoadAvg")
        child_mem = [m for m in (_num(k, "Memory") for k in kids) if m is not None]
        rows.append([
            mach, platform(top) or "", ("%4d" % nslots if nslots is not None else " ") + " ",
            "%4d" % (_int(top, "TotalSlotCpus") or 0), "%4d" % (_int(top, "TotalSlotGpus") or 0),
            "%8.2f" % ((_num(top, "TotalSlotMemory") or 0) / 1024.0),
            "%6d" % (_int(top, "Cpus") or 0),
            "%8.2f" % ((_num(top, "Memory") or 0) / 1024.0),
            "%7.2f" % (load * 1.0 / total_cpus) if load is not None and total_cpus else "",
            code,
            "%8.2f" % (_num(top, "RecentJobStarts") / 20.0) if _num(top, "RecentJobStarts") is not None else "_",
            "%9.2f" % (max(child_mem) / 1024.0) if child_mem else "*"])
        totals_ads.extend(kids if kids else tops)
    if not rows:
        return ""
    widths = [max(12, max(len(r[0]) for r in rows)), max(len("Platform"), max(len(r[1]) for r in rows))]
    widths += [max(len(h), max(len(r[i]) for r in rows)) for i, h in enumerate(columns) if i >= 2]
    head = " ".join(h.ljust(w) for h, w in zip(columns, widths))
    lines = [head.rstrip() + "\n", "\n"]
    for r in rows:
        cells = [r[0].ljust(widths[0]), r[1].ljust(widths[1])]
        cells += [r[2].ljust(widths[2])] + [c.rjust(w) for c, w in zip(r[3:], widths[3:])]
        lines.append(" ".join(cells) + "\n")
    return "".join(lines) + "\n" + slot_totals(totals_ads, key=lambda a: platform(a)).rstrip("\n") + "\n"


# ------------------------------------------------------------------------------ sorting
def natural_key(s: str):
    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"(\d+)", s) if p]


def sort_key_value(ad, expr: str) -> str:
    v = C.evaluate(ad, expr)
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return str(int(v))
    if isinstance(v, int):
        return str(v)
    return C.unparse_value(v)


def sort_ads(ads: list, specs: list[str]) -> list:
    """Ads in condor_status's order: by the sort expressions (``Machine`` then ``Name`` unless
    ``-sort`` says otherwise), comparing numbers in names by value; ties keep the collector's
    order."""
    if not specs:
        return list(ads)
    keyed = [(natural_key("\n".join(sort_key_value(ad, e) for e in specs)), i, ad)
             for i, ad in enumerate(ads)]
    return [ad for _, _, ad in sorted(keyed, key=lambda t: (t[0], t[1]))]


# ------------------------------------------------------------------------------ views
def render_view(view: str, ads: list, wide: bool = False, totals_only: bool = False) -> str:
    """The text of a standard view for these ads (already selected and sorted)."""
    if not ads:
        return ""
    if view == "compact":
        return compact_view(ads)
    totals = TOTALS.get(view)
    if totals_only:
        return "\n" + totals(ads) if totals else ""
    out = render_table(COLUMNS[view](wide), ads)
    if totals:
        out += "\n" + totals(ads)
    return out


# ------------------------------------------------------------------------------ options
@dataclass
class Options:
    view: str = "slots"          # a key of COLUMNS, or compact
    output: str = "view"         # view af format long json xml
    mode_set: bool = False
    names: list[str] = field(default_factory=list)
    constraints: list[str] = field(default_factory=list)
    mode_constraint: str | None = None
    pool: str | None = None
    limit: int = -1
    sort: list[str] = field(default_factory=list)
    nosort: bool = False
    wide: bool = False
    totals: bool = False
    compact: bool = False
    af: C.AutoFormat | None = None
    formats: list[tuple[str, str]] = field(default_factory=list)
    attributes: list[str] = field(default_factory=list)
    direct: str | None = None


AD_TYPES = {"slots": "Startd", "claimed": "Startd", "avail": "Startd", "compact": "Startd",
            "any": "Any", "schedd": "Schedd", "schedd-run": "Schedd", "submitters": "Submitter",
            "collector": "Collector", "master": "Master", "negotiator": "Negotiator",
            "startd": "StartDaemon", "generic": "Generic", "accounting": "Accounting"}


def usage_error(message: str) -> C.ToolError:
    return C.ToolError(message + USAGE_TAIL)


def _value(cursor: C.ArgCursor, what: str, needs: str = "another argument") -> str:
    value = cursor.take()
    if value is None:
        raise usage_error(f"condor_status: -{what} requires {needs}\n")
    return value



def _mode(o: Options, view: str) -> None:
    o.view = view
    o.mode_set = True


def parse_args(args: list[str]) -> Options:
    o = Options()
    cursor = C.ArgCursor(args)
    for a in cursor:
        if not a.startswith("-"):
            o.names.append(a)
        elif C.is_option(a, "help", 1):
            raise C.ToolError(USAGE, rc=0)
        elif C.is_option(a, "pool", 1):
            o.pool = _value(cursor, "pool", "a hostname as an argument.")
        elif C.is_option(a, "direct", 3):
            o.direct = _value(cursor, "direct")
        elif C.is_option(a, "format", 1):
            if cursor.peek(2) is None:
                raise usage_error("condor_status: -format requires two other arguments\n")
            o.formats.append((cursor.take(), cursor.take()))
            o.output = "format"
        elif C.is_option(a, "autoformat", 5) or C.is_option(a, "af", 2):
            af = C.autoformat_from(cursor, a)
            if not af.attrs:
                raise usage_error(f"Error: Argument {a} requires at least one attribute parameter\n")
            o.af, o.output = af, "af"
        elif C.is_option(a, "wide", 3):
            o.wide = True
        elif C.is_option(a, "natural", 3):
            pass
        elif C.is_option(a, "constraint", 3):
            o.constraints.append(_value(cursor, "constraint"))
        elif C.is_option(a, "limit", 2):
            m = re.match(r"\s*[-+]?\d+", _value(cursor, "limit", "one additional argument"))
            o.limit = int(m.group(0)) if m else 0
        elif C.is_option(a, "long", 1):
            o.output = "long"
        elif C.is_option(a, "xml", 1):
            o.output = "xml"
        elif C.is_option(a, "json", 2):
            o.output = "json"
        elif C.is_option(a, "attributes", 2):
            names = _value(cursor, "attributes")
            o.attributes += [n.strip() for n in names.split(",") if n.strip()]
        elif C.is_option(a, "claimed", 2):
            _mode(o, "claimed")
            o.mode_constraint = 'State == "Claimed"'
        elif C.is_option(a, "avail", 2):
            _mode(o, "slots")
            o.mode_constraint = 'State == "Unclaimed" && Cpus > 0 && Memory > 0'
        elif C.is_option(a, "run", 1):
            if o.view in ("slots", "claimed") and o.mode_set:
                _mode(o, "claimed")
                o.mode_constraint = 'State == "Claimed"'
            else:
                _mode(o, "schedd-run")
                o.mode_constraint = "(ShadowsRunning+TotalSchedulerJobsRunning) > 0"
        elif C.is_option(a, "slots", 2):
            _mode(o, "slots")
        elif C.is_option(a, "compact", 3):
            o.compact = True
        elif C.is_option(a, "nocompact", 5):
            o.compact = False
        elif C.is_option(a, "startd", 4):
            _mode(o, "startd")
        elif C.is_option(a, "schedd", 2):
            _mode(o, "schedd")
        elif C.is_option(a, "negotiator", 1):
            _mode(o, "negotiator")
        elif C.is_option(a, "generic", 2):
            _mode(o, "generic")
        elif C.is_option(a, "any", 2):
            _mode(o, "any")
        elif C.is_option(a, "sort", 2):
            expr = _value(cursor, "sort")
            if expr == "no":
                o.nosort = True
            elif not C.constraint_ok(expr):
                raise C.ToolError(f"Error:  Parse error of: {expr}\n")
            else:
                o.sort.append(expr)
        elif C.is_option(a, "submitters", 4):
            _mode(o, "submitters")
        elif C.is_option(a, "master", 1):
            _mode(o, "master")
        elif C.is_option(a, "collector", 3) or C.is_option(a, "world", 1):
            _mode(o, "collector")
        elif C.is_option(a, "totals", 1):
            o.totals = True
        elif C.is_option(a, "expert", 1):
            pass
        else:
            raise C.ToolError(f"Error:  Unknown option {a}\n" + USAGE)
    if o.compact and o.view == "slots" and o.mode_constraint is None:
        o.view = "compact"
    return o


def constraint_of(o: Options) -> str:
    parts = []
    if o.direct is not None:
        parts.append(f'(Name=="{o.direct}" || Machine=="{o.direct}")')
    if o.names:
        key = "RemoteUser" if o.view == "claimed" else None
        ors = [f'{key} == "{n}"' if key else f'Name=="{n}" || Machine=="{n}"' for n in o.names]
        parts.append("(" + " || ".join(f"({x})" for x in ors) + ")" if len(ors) > 1 else f"({ors[0]})")
    if o.mode_constraint:
        parts.append(f"({o.mode_constraint})")
    if o.view == "compact":
        parts.append("(PartitionableSlot =?= true || DynamicSlot =!= true || DynamicSlot =?= true)")
    parts += [f"({c})" for c in o.constraints]
    if not o.nosort:
        parts += [f"({s} =!= UNDEFINED)" for s in o.sort]
    return " && ".join(parts) if parts else ""


# ------------------------------------------------------------------------------ errors
COLLECTOR_EXTRA = (
    "Error: Couldn't contact the condor_collector on {host} \n"
    "({addr}). \n"
    "\n"
    "Extra Info: the condor_collector is a process that runs on the central \n"
    "manager of your Condor pool and collects the status of all the machines and \n"
    "jobs in the Condor pool. The condor_collector might not be running, it might \n"
    "be refusing to communicate with you, there might be a network problem, or \n"
    "there may be some other problem. Check with your system administrator to fix \n"
    "this problem. \n"
    "\n"
    "If you are the system administrator, check that the condor_collector is \n"
    "running on {host} ({addr}), check the ALLOW/DENY configuration \n"
    "in your condor_config, and check the MasterLog and CollectorLog files in your \n"
    "log directory for possible clues as to why the condor_collector is not \n"
    "responding. Also see the Troubleshooting section of the manual. \n")


def collector_unreachable(pool: str | None) -> C.ToolError:
    """The real tool's text when no collector answers at ``pool`` (host:port)."""
    import htcondor2
    where = pool or htcondor2.param.get("COLLECTOR_HOST") or "127.0.0.1"
    where = where.split(",")[0].strip()
    addr = where if where.startswith("<") else f"<{where}>"
    host = addr.strip("<>").split("?")[0].rsplit(":", 1)[0]
    host = "<unknown_host>" if re.match(r"^[\d.]+$", host) else host
    return C.ToolError(f"Error: communication error\nCEDAR:6001:Failed to connect to {addr}\n"
                       + COLLECTOR_EXTRA.format(host=host, addr=addr))


# ------------------------------------------------------------------------------ main
# What the slot views print and total (and the times they measure against)
SLOT_VIEW_ATTRIBUTES = ("Name", "Machine", "OpSys", "Arch", "State", "Activity", "CondorLoadAvg",
                        "Memory", "EnteredCurrentActivity", "MyCurrentTime", "LastHeardFrom",
                        "RemoteUser", "ClientMachine", "Mips", "KFlops", "LoadAvg")


def sort_specs(o: Options) -> list[str]:
    """The expressions the ads are sorted by, as the real tool sorts them."""
    specs = [] if o.nosort else (o.sort or ["Machine", "Name"])
    return ["Machine", "SlotTypeId"] + specs if o.view == "compact" else specs


def projection_of(o: Options) -> list[str]:
    """The attributes to ask the collector for, as the real tool projects its query: what
    -af/-format evaluate (every name their expressions mention) or the slot views' columns
    and totals, with what the sort needs; -attributes for -long/-json/-xml; [] (all) for
    the other views."""
    from ._projection import printed_expressions, referenced_names
    if o.output in ("long", "json", "xml"):
        return list(o.attributes)
    if o.output in ("af", "format"):
        exprs = printed_expressions(o.output, o.af.attrs if o.af else (), o.formats)
    elif o.view in ("slots", "claimed"):
        exprs = list(SLOT_VIEW_ATTRIBUTES)
    else:
        return []
    return referenced_names(exprs + sort_specs(o))


def query(o: Options) -> list:
    import htcondor2
    ad_type = getattr(htcondor2.AdTypes, AD_TYPES["compact" if o.view == "compact" else o.view])
    constraint = constraint_of(o)
    if constraint and not C.constraint_ok(constraint):
        raise C.ToolError("Error: invalid constraint\n\n")
    if o.direct is not None and "." not in o.direct and "@" not in o.direct:
        raise C.ToolError(f"Error: Failed to locate {AD_TYPES.get(o.view, 'daemon').lower()} "
                          f"{o.direct}\nunknown host {o.direct}\n")
    projection = projection_of(o)
    try:
        coll = htcondor2.Collector(o.pool) if o.pool else htcondor2.Collector()
        ads = coll.query(ad_type, constraint or None, projection)
    except Exception:
        raise collector_unreachable(o.pool)
    return list(ads)


def render_ads(o: Options, ads: list) -> str:
    if o.output == "af":
        return o.af.render(ads)
    if o.output == "format":
        return C.render_format(ads, o.formats)
    if o.attributes:
        ads = [_only(ad, o.attributes) for ad in ads]
    if o.output == "long":
        return C.render_long(ads)
    if o.output == "json":
        return C.render_json(ads)
    return render_xml(ads)


def xml_real(v: float) -> str:
    """A real as the ClassAd XML writer spells it: ``0.0``, else ``%.15E``."""
    return "0.0" if v == 0 else "%.15E" % v


NUMBER = re.compile(r"-?\d+(\.\d*)?([eE][-+]?\d+)?")


def _xml_value(ad, attr: str) -> str:
    """One attribute as ClassAd XML: literals typed (``<i>``, ``<r>``, ``<s>``, ``<b>``),
    anything else an ``<e>`` expression."""
    expr = ad.lookup(attr)
    text = str(expr)
    literal = NUMBER.fullmatch(text) or text in ("true", "false", "undefined", "error")
    if not literal and text.startswith('"'):
        v = ad.eval(attr)
        literal = isinstance(v, str) and str(classad2.ExprTree(classad2.quote(v))) == text
    if not literal:
        return C._xml_value(expr) if C._xml_value(expr).startswith("<e>") else \
            f"<e>{C._xml_escape(C._compact_expr(expr))}</e>"
    v = ad.eval(attr)
    if isinstance(v, float):
        return f"<r>{xml_real(v)}</r>"
    return C._xml_value(expr)


def render_xml(ads) -> str:
    """``-xml``: as :func:`common.render_xml`, with reals spelled as the XML writer does."""
    out = ['<?xml version="1.0"?>\n<!DOCTYPE classads SYSTEM "classads.dtd">\n<classads>\n']
    for ad in ads:
        out.append("<c>\n")
        for k in C.sorted_attrs(ad):
            text = _xml_value(ad, k)
            out.append(f'    <a n="{k}">{text}</a>\n')
        out.append("</c>\n\n")
    out.append("</classads>\n")
    return "".join(out)


def _only(ad, attrs: list[str]):
    lower = {a.lower() for a in attrs}
    out = classad2.ClassAd()
    for k in ad.keys():
        if k.lower() in lower:
            out[k] = ad.lookup(k)
    return out


def output(o: Options, ads: list) -> str:
    """What the tool prints for the ads the collector returned (in the collector's order)."""
    specs = sort_specs(o)
    if o.limit > 0:                  # the collector's first ones, as the real query's limit
        ads = ads[:o.limit]
    ads = sort_ads(ads, specs)
    if o.output != "view":
        return render_ads(o, ads)
    return render_view(o.view, ads, o.wide, o.totals)


def body(args: list[str]) -> int:
    o = parse_args(args)
    sys.stdout.write(output(o, query(o)))
    return 0


def main(argv: list[str] | None = None) -> int:
    """condor_status's command line; returns the exit code."""
    return C.run_tool(body, argv)


# what -help prints (to stderr), and what follows an unknown option's error
USAGE = (
    'Usage: condor_status [help-opt] [query-opt] [custom-opts] [display-opts] [name ...]\n'
    '    where [help-opt] is one of\n'
    '\t-help\t\t\tPrint this screen and exit\n'
    '\t-version\t\tPrint HTCondor version and exit\n'
    '\t-diagnose\t\tPrint out query ad without performing query\n'
    '\n'
    '    and [query-opt] is one of\n'
    '\t-absent\t\t\tPrint information about absent resources\n'
    "\t-annex-name <name>\tPrint information about the named annex's slots\n"
    "\t-annex-slots\t\tPrint information about any annex's slots\n"
    '\t-avail\t\t\tPrint information about available resources\n'
    '\t-ckptsrvr\t\tDisplay checkpoint server attributes\n'
    '\t-claimed\t\tPrint information about claimed resources\n'
    '\t-cod\t\t\tDisplay Computing On Demand (COD) jobs\n'
    '\t-collector\t\tDisplay collector daemon attributes\n'
    '\t-data\t\t\tDisplay data transfer information\n'
    '\t-debug\t\t\tDisplay debugging info to console\n'
    '\t-defrag\t\t\tDisplay status of defrag daemon\n'
    '\t-direct <host>\t\tGet attributes directly from the given daemon\n'
    '\t-java\t\t\tDisplay Java-capable hosts\n'
    '\t-vm\t\t\tDisplay VM-capable hosts\n'
    '\t-license\t\tDisplay attributes of licenses\n'
    '\t-master\t\t\tDisplay daemon master attributes\n'
    '\t-pool <name>\t\tGet information from collector <name>\n'
    '\t-ads[:<form>] <file>\tGet information from <file> in <form> format.\n'
    '\t           where <form> choice is one of:\n'
    '\t       long    The traditional -long form. This is the default\n'
    '\t       xml     XML form, the same as -xml\n'
    '\t       json    JSON classad form, the same as -json\n'
    "\t       new     'new' classad form without newlines\n"
    '\t       auto    Guess the format from reading the input stream\n'
    '\t-grid\t\t\tDisplay grid resources\n'
    '\t-gpus\t\t\tDisplay resources that have GPUs\n'
    '\t-run\t\t\tDisplay running job stats\n'
    '\t-schedd\t\t\tDisplay attributes of schedds\n'
    '\t-server\t\t\tDisplay important attributes of resources\n'
    '\t-slot\t\t\tDisplay slot resource attributes\n'
    '\t-startd\t\t\tDisplay STARTD daemon attributes\n'
    '\t-broken\t\t\tDisplay broken machine resources\n'
    '\t-healthy[:verbose]\tDisplay machine or slot health factor\n'
    "\t-generic\t\tDisplay attributes of 'generic' ads\n"
    '\t-subsystem <type>\tDisplay classads of the given type\n'
    '\t-negotiator\t\tDisplay negotiator attributes\n'
    '\t-storage\t\tDisplay network storage resources\n'
    '\t-any\t\t\tDisplay any resources\n'
    '\t-state\t\t\tDisplay state of resources\n'
    '\t-submitters\t\tDisplay information about request submitters\n'
    '\n'
    '    and [custom-opts ...] are one or more of\n'
    '\t-constraint <const>\tAdd constraint on classads\n'
    '\t-compact\t\tShow compact form, rolling up slots into a single line\n'
    '\t-statistics <set>:<n>\tDisplay statistics for <set> at level <n>\n'
    '\t\t\t\tsee STATISTICS_TO_PUBLISH for valid <set> and level values\n'
    '\t\t\t\tuse with -direct queries to STARTD and SCHEDD daemons\n'
    '\t-target <file>\t\tUse target classad with -format or -af evaluation\n'
    '\n'
    '    and [display-opts] are one or more of\n'
    '\t-long[:<form>]\t\tDisplay entire classads in format <form>. See -ads\n'
    '\t-limit <n>\t\tDisplay no more than <n> classads.\n'
    "\t-sort <expr>\t\tSort ClassAds by expressions. 'no' disables sorting\n"
    '\t-natural[:off]\t\tUse natural sort order in default output (default=on)\n'
    '\t-totals\t\t\tDisplay totals only\n'
    '\t-expert\t\t\tDisplay shorter error messages\n'
    "\t-wide[:<width>]\t\tDon't truncate data to fit in 80 columns.\n"
    '\t\t\t\tTruncates to console width or <width> argument if specified.\n'
    '\t-xml\t\t\tDisplay entire classads, but in XML\n'
    '\t-json\t\t\tDisplay entire classads, but in JSON\n'
    '\t-attributes X,Y,...\tAttributes to show in -xml or -long \n'
    '\t-format <fmt> <attr>\tDisplay <attr> values with formatting\n'
    '\t-autoformat[:lhVr,tng] <attr> [<attr2> [...]]\n'
    '\t-af[:jlhVrTY,tng] <attr> [attr2 [...]]\n'
    '\t    Print attr(s) with automatic formatting\n'
    '\t    the [jlhVrTY,tng] options modify the formatting\n'
    '\t        j   display Job id\n'
    '\t        l   attribute labels\n'
    '\t        h   attribute column headings\n'
    '\t        V   %V formatting (string values are quoted)\n'
    '\t        r   %r formatting (raw/unparsed values)\n'
    '\t        T   %T formatting (elapsed time values)\n'
    '\t        Y   %Y formatting (time and date values)\n'
    '\t        ,   comma after each value\n'
    '\t        t   tab before each value (default is space)\n'
    '\t        n   newline after each value\n'
    '\t        g   newline between ClassAds, no space before values\n'
    '\t    use -af:h to get tabular values with headings\n'
    '\t    use -af:lrng to get -long equivalent format\n'
    '\t-aaf[:VrTY] <attr> [attr2 [...]]\n'
    '\t    Like -af, but appends attr(s) after the standard columns\n'
    '\t-merge <file>\t\tCompare ads in file and query by sort key\n'
    '\t-print-format <file>\tUse <file> to set display attributes and formatting\n'
    '\t\t\t\t(experimental, see htcondor-wiki for more information)\n'
)


if __name__ == "__main__":
    sys.exit(main())
