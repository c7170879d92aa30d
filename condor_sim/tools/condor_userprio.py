"""``condor_userprio``: user priorities and usage, as HTCondor's ``user_prio.cpp`` shows and
sets them.

The display reads one Accounting ad per submitter and group: from the collector by default
(the negotiator sends them there each cycle), from the negotiator itself
(QUERY_ACCOUNTING_ADS) with ``-allusers``, ``-negotiator`` or a user name.  Which columns
show is the real tool's column table and rules (:data:`COLUMNS`, :func:`columns_for`);
the rendering (:func:`render`) is a pure function of the ads, the options and the time.
The edit options go to the negotiator through ``htcondor2.Negotiator``.

``-inputfile FILE`` reads one ad in the negotiator's old GET_PRIORITY form (``Name1``,
``Priority1``, ..., ``NumSubmittors``) instead of asking the pool (:func:`legacy_to_ads`);
``-af`` and ``-long -modular`` print one ad per record, filtered by ``-constraint``
(:func:`render_modular`), which is also sent with the query.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

import classad2

from condor_sim.tools import common as C

USAGE = ("usage: {name} "
         '[options] [edit-option | display-options [usernames]]\n'
         '    where [options] are\n'
         '\t-name <name>\t\tName of negotiator\n'
         '\t-pool <host>\t\tUse host as the central manager to query\n'
         '\t-inputfile <file>\tDisplay priorities from <file>\n'
         '\t-help\t\t\tThis Screen\n'
         '\t-debug[:<opts>]\t\tSend debug output to stderr, <opts> overrides TOOL_DEBUG\n'
         '    where [edit-option] is one of\n'
         '\t-resetusage <user>\tReset usage data for <user>\n'
         '\t-resetall\t\tReset all usage data\n'
         '\t-delete <user>\t\tRemove a user record from the accountant\n'
         '\t-setprio <user> <val>\tSet priority for <user>\n'
         '\t-setfactor <user> <val>\tSet priority factor for <user>\n'
         '\t-setfloor <user> <val>\tSet floor for <user>\n'
         '\t-setceiling <user> <val>\tSet ceiling for <user>\n'
         '\t-setceiling <user> <val> -duration <secs>\n'
         '\t\t\t\tSet a temporary ceiling lease on <user> for <secs> seconds\n'
         '\t-cancelceilinglease <user>\tCancel an in-effect ceiling lease for <user>\n'
         '\t-setfloor <user> <val> -duration <secs>\n'
         '\t\t\t\tSet a temporary floor lease on <user> for <secs> seconds\n'
         '\t-cancelfloorlease <user>\tCancel an in-effect floor lease for <user>\n'
         '\t-setfactor <user> <val> -duration <secs>\n'
         '\t\t\t\tSet a temporary priority-factor lease on <user> for <secs> seconds\n'
         '\t-cancelfactorlease <user>\tCancel an in-effect priority-factor lease for <user>\n'
         '\t-setaccum <user> <val>\tSet Accumulated usage for <user>\n'
         '\t-setbegin <user> <val>\tset last first date for <user>\n'
         '\t-setlast <user> <val>\tset last active date for <user>\n'
         '    where [display-options] are\n'
         '\t-getreslist <user>\tDisplay list of resources for <user>\n'
         '    or one or more of\n'
         '\t-allusers\t\tDisplay data for all users\n'
         '\t-activefrom <month> <day> <year> Display data for users active since this date\n'
         '\t-priority\t\tDisplay user priority fields\n'
         '\t-usage\t\t\tDisplay user/group usage fields\n'
         '\t-quotas\t\t\tDisplay group quota fields\n'
         '\t-most\t\t\tDisplay most useful prio and usage fields\n'
         '\t-all\t\t\tDisplay all fields\n'
         '\t-flat\t\t\tDo not display users under their groups\n'
         '\t-hierarchical\t\tDisplay users under their groups\n'
         '\t-grouporder\t\tDisplay groups first, then users\n'
         '\t-grouprollup\t\tGroup value are the sum of user values\n'
         '\t-groupid\t\tDisplay group ID numbers\n'
         '\t-order\t\t\tDisplay group order\n'
         '\t-sortkey\t\tDisplay group sort key\n'
         '\t-surplus\t\tDisplay usage surplus\n'
         '\t-collector\t\tForce the query to come from the collector\n'
         '\t-negotiator\t\tForce the query to come from the negotiator\n'
         '\t-long\t\t\tVerbose output (entire classads)\n'
         '\t  -legacy\t\tCauses -long to show a single classad\n'
         '\t  -modular\t\tCauses -long to show a classad per userprio record\n'
         '\t-constraint <expr>\tDisplay users/groups that match <expr>\n'
         '\t\t\t\twhen used with -long -modular or -autoformat\n'
         '\t-autoformat[:jlhVr,tng] <attr> [<attr2> [...]]\n'
         '\t-af[:jlhVr,tng] <attr> [attr2 [...]]\n'
         '\t    Print attr(s) with automatic formatting\n'
         '\t    the [jlhVr,tng] options modify the formatting\n'
         '\t        j   display Job id\n'
         '\t        l   attribute labels\n'
         '\t        h   attribute column headings\n'
         '\t        V   %V formatting (string values are quoted)\n'
         '\t        r   %r formatting (raw/unparsed values)\n'
         '\t        ,   comma after each value\n'
         '\t        t   tab before each value (default is space)\n'
         '\t        n   newline after each value\n'
         '\t        g   newline between ClassAds, no space before values\n'
         '\t    use -af:h to get tabular values with headings\n'
         '\t    use -af:lrng to get -long equivalent format\n'
         '   if [usernames] is specified, output will be restricted to the given names if possible.\n')

# the column flags (DetailXxx)
NAME, PRIORITY, FACTOR, GROUP, RES_USED, WT_RES_USED = 0x1, 0x2, 0x4, 0x8, 0x10, 0x20
USE_TIME1, USE_TIME2, EFF_QUOTA, CFG_QUOTA, SURPLUS, TREE_QUOTA = 0x40, 0x80, 0x100, 0x200, 0x400, 0x800
REAL_PRIO, SORT_KEY, USE_DELTA_T, ORDER, REQUESTED, CEILING, FLOOR = \
    0x1000, 0x2000, 0x4000, 0x8000, 0x10000, 0x20000, 0x40000
PRIOS = PRIORITY | FACTOR | REAL_PRIO
USAGE_COLS = RES_USED | WT_RES_USED
QUOTAS = EFF_QUOTA | CFG_QUOTA | TREE_QUOTA | SURPLUS | REQUESTED
MOST = CFG_QUOTA | SURPLUS | PRIORITY | FACTOR | USAGE_COLS | USE_DELTA_T | REQUESTED | CEILING | FLOOR
ALL = MOST | QUOTAS | PRIOS | USE_TIME1 | USE_TIME2

# (flag, width, first heading, second heading), in the order the columns print
COLUMNS = [
    (GROUP, 5, "Group", "Id"), (ORDER, 9, "Group", "Order"), (SORT_KEY, 9, "Group", "Sort Key"),
    (EFF_QUOTA, 9, "Effective", "Quota"), (CFG_QUOTA, 9, "Config", "Quota"),
    (SURPLUS, 7, "Use", "Surplus"), (TREE_QUOTA, 9, "Subtree", "Quota"),
    (PRIORITY, 12, "Effective", "Priority"), (REAL_PRIO, 8, "Real", "Priority"),
    (FACTOR, 9, "Priority", "Factor"), (RES_USED, 6, "Wghted", "In Use"),
    (WT_RES_USED, 12, "Total Usage", "(wghted-hrs)"), (USE_TIME1, 16, "Usage", "Start Time"),
    (USE_TIME2, 16, "Last", "Usage Time"), (USE_DELTA_T, 10, "Time Since", "Last Usage"),
    (REQUESTED, 10, "Weighted", "Requested"), (FLOOR, 9, "Submitter", "Floor"),
    (CEILING, 9, "Submitter", "Ceiling"),
]
ONE_DAY = 24 * 60 * 60


# ------------------------------------------------------------------------------ text
def pad(text: str | None, cch: int, fill: str = " ", how: str = "right") -> str:
    """CopyAndPadToWidth: ``cch - 1`` characters, ``text`` placed left, right or centred."""
    width = cch - 1
    src = text or ""
    if how == "left":
        return (fill * max(0, width - len(src)) + src)[:width] if len(src) < width else src[:width]
    if how == "center":
        left = max(0, (cch - (len(src) + 1)) // 2)
        return (fill * left + src + fill * width)[:width]
    return (src + fill * width)[:width]


def fmt_float(width: int, decimals: int, value: float) -> str:
    """FormatFloat: ``%W.Df``, or ``%.(W-6)g`` when that is too wide; right-justified."""
    text = f"{value:{width}.{decimals}f}"
    if len(text) > width:
        text = f"{value:.{width - 6}g}"
    return pad(text, width + 1, how="left")


def format_date(t: int) -> str:
    if t < 0:
        return "    ???    "
    tm = time.localtime(t)
    return f"{tm.tm_mon:2d}/{tm.tm_mday:<2d} {tm.tm_hour:02d}:{tm.tm_min:02d}"


def format_date_year(t: int) -> str:
    if t < 0:
        return "    ???    "
    tm = time.localtime(t)
    return f"{tm.tm_mon:2d}/{tm.tm_mday:02d}/{tm.tm_year:<4d} {tm.tm_hour:02d}:{tm.tm_min:02d}"


def format_time_nosecs(secs: int) -> str:
    if secs < 0:
        return "[?????]"
    return f"{secs // 86400:3d}+{secs % 86400 // 3600:02d}:{secs % 3600 // 60:02d}"


def format_time(secs: int) -> str:
    if secs < 0:
        return "[?????]"
    return f"{secs // 86400:3d}+{secs % 86400 // 3600:02d}:{secs % 3600 // 60:02d}:{secs % 60:02d}"


# ------------------------------------------------------------------------------ rows
@dataclass
class Row:
    """LineRec: one submitter or group, with the columns it has data for."""
    name: str
    priority: float = 0.0
    res: int = 0
    wt_res: float = 0.0
    acc_usage: float = -1.0
    requested: float = 0.0
    factor: float = 0.0
    begin: int = 0
    last: int = 0
    group: str = "<none>"
    is_group: bool = False
    has: int = 0
    ceiling: float = -1.0
    floor: float = -1.0
    group_id: int = 0
    index: int = 0


def _num(ad, attr: str):
    v = ad.get(attr)
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def collect(ads: list, min_last: int) -> tuple[list[Row], int]:
    """CollectInfo over the modular ads: the rows, and the details any of them has."""
    rows: list[Row] = []
    avail = 0
    for i, ad in enumerate(ads, 1):
        name, prio = ad.get("Name"), _num(ad, "Priority")
        if not isinstance(name, str) or prio is None:
            continue
        r = Row(name, float(prio), index=i, last=min_last)
        r.has = PRIORITY | NAME
        if (f := _num(ad, "PriorityFactor")) is not None:
            r.factor = float(f)
            r.has |= FACTOR | (REAL_PRIO if f > 0 else 0)
        if (u := _num(ad, "WeightedAccumulatedUsage")) is not None:
            r.acc_usage = float(u)
            r.has |= USAGE_COLS
        if (c := _num(ad, "Ceiling")) is not None:
            r.ceiling, r.has = float(c), r.has | CEILING
        if (f := _num(ad, "Floor")) is not None:
            r.floor, r.has = float(f), r.has | FLOOR
        if (q := _num(ad, "Requested")) is not None:
            r.requested, r.has = float(q), r.has | REQUESTED
        if (b := _num(ad, "BeginUsageTime")) is not None:
            r.begin, r.has = int(b), r.has | USE_TIME1
        last = 0
        if (lu := _num(ad, "LastUsageTime")) is not None:
            last, r.has = int(lu), r.has | USE_TIME2 | USE_DELTA_T
        if (n := _num(ad, "ResourcesUsed")) is not None:
            r.res, r.has = int(n), r.has | USAGE_COLS
        w = _num(ad, "WeightedResourcesUsed")
        if w is None:
            r.wt_res = float(r.res)
        else:
            r.wt_res, r.has = float(w), r.has | WT_RES_USED
        g = ad.get("AccountingGroup")
        r.group = g if isinstance(g, str) else "<none>"
        r.is_group = ad.get("IsAccountingGroup") is True
        if _num(ad, "EffectiveQuota") is not None:
            r.has |= EFF_QUOTA
        if _num(ad, "ConfigQuota") is not None:
            r.has |= CFG_QUOTA
        if r.is_group:
            r.group_id = 0 if name in ("<none>", ".") else -i
            if isinstance(ad.get("SurplusPolicy"), str):
                r.has |= SURPLUS
            if _num(ad, "GroupSortKey") is not None:
                r.has |= SORT_KEY
            if _num(ad, "SubtreeQuota") is not None:
                r.has |= TREE_QUOTA
            r.has &= ~PRIORITY                 # a group's priority means nothing here
        elif r.group not in ("<none>", "."):
            r.group_id = -1
        if r.group_id:
            r.has |= GROUP
        r.last = last if last else -1
        avail |= r.has
        rows.append(r)
    return rows, avail


def columns_for(detail: int, avail: int, rows: list[Row], min_last: int,
                dash_quota: bool = False) -> tuple[int, bool, bool]:
    """The columns that print, and whether users and groups are hidden (ProcessInfo)."""
    if not avail & USAGE_COLS:
        detail &= ~USAGE_COLS
    if not avail & FACTOR:
        detail &= ~FACTOR
    if not avail & USE_TIME1:
        detail &= ~USE_TIME1
    if not avail & USE_TIME2:
        detail &= ~(USE_TIME2 | USE_DELTA_T)
    if not dash_quota and not avail & QUOTAS:
        detail &= ~QUOTAS
    hide_groups = not (detail & ~PRIOS)
    all_none = all(r.group_id <= 0 or r.last < min_last for r in rows)
    if hide_groups or all_none:
        if not dash_quota:
            detail &= ~QUOTAS
    hide_users = bool(detail & QUOTAS) and not (detail & ~QUOTAS)
    return detail, hide_users, hide_groups


def render(ads: list, detail: int, now: int, min_last: int, dash_quota: bool = False) -> str:
    """The table (PrintInfo), flat: submitters in the <none> group only."""
    if not ads:
        return ""
    rows, avail = collect(ads, min_last)
    if not rows:
        return ""
    detail, hide_users, hide_groups = columns_for(detail, avail, rows, min_last, dash_quota)
    if detail & PRIORITY:
        rows.sort(key=lambda r: r.priority)
    elif detail & USAGE_COLS:
        rows.sort(key=lambda r: r.acc_usage)
    else:
        rows.sort(key=lambda r: r.name)
    last_update = _num(ads[0], "LastUpdate")
    tm_last = int(last_update) if last_update is not None else 0
    cols = [c for c in COLUMNS if c[0] & detail]
    max_name = 10
    for r in rows:
        if r.last >= min_last:
            max_name = max(max_name, len(r.name))
    max_name = min(max_name, 99)
    max_name = max(max_name, len(f"Number of users: {len(rows)}"))

    def line(first: str, cells: list[str]) -> str:
        return first + "".join(" " + c for c in cells)

    out = [f"Last Priority Update: {format_date(tm_last)}"]
    out.append(line(pad(None, max_name + 1), [pad(c[2], c[1] + 1, how="center") for c in cols]))
    out.append(line(pad("Group Name" if hide_users else "User Name", max_name + 1),
                    [pad(c[3], c[1] + 1, how="center") for c in cols]))
    rule = line(pad(None, max_name + 1, "-"), [pad(None, c[1] + 1, "-") for c in cols])
    out.append(rule)
    users = 0
    wt_res = acc = 0.0
    begin = 0
    for r in rows:
        if r.last < min_last:
            continue
        if not r.is_group:
            users += 1
            if hide_users:
                continue
        elif hide_groups or not r.group_id:
            continue
        out.append(line(pad(r.name, max_name + 1), [cell(r, c, tm_last) for c in cols]))
        if not r.is_group:
            wt_res += r.wt_res
            acc += r.acc_usage
            begin = min(begin, r.begin)
    out.append(rule)
    out.append(line(pad(f"Number of users: {users}", max_name + 1),
                    [footer(c, wt_res, acc, begin, min_last, tm_last) for c in cols]))
    return "\n".join(out) + "\n"


def cell(r: Row, col: tuple, tm_last: int) -> str:
    flag, width = col[0], col[1]
    if not r.has & flag:
        if r.is_group and flag & (QUOTAS | SORT_KEY):
            return pad("n/d", width + 1, how="left")
        return pad(None, width + 1)
    if flag == PRIORITY:
        return fmt_float(width, 2, r.priority)
    if flag == REAL_PRIO:
        return fmt_float(width, 2, r.priority / r.factor if r.factor > 0 else 0)
    if flag == FACTOR:
        return fmt_float(width, 2, r.factor) if r.factor > 0 else pad(None, width + 1)
    if flag == RES_USED:
        return fmt_float(width, 0, r.wt_res)
    if flag == REQUESTED:
        return fmt_float(width, 0, r.requested)
    if flag == WT_RES_USED:
        return fmt_float(width, 2, r.acc_usage / 3600.0)
    if flag == USE_TIME1:
        return pad("" if r.begin <= 0 else format_date_year(r.begin), width + 1, how="left")
    if flag == USE_TIME2:
        return pad("" if r.last <= 0 else format_date_year(r.last), width + 1, how="left")
    if flag == USE_DELTA_T:
        delta = tm_last - r.last
        return pad("<now>" if delta <= 0 else format_time_nosecs(delta), width + 1, how="left")
    if flag == CEILING:
        return fmt_float(width, 2, r.ceiling) if r.ceiling > -1.0 else pad(None, width + 1)
    if flag == FLOOR:
        return fmt_float(width, 2, r.floor) if r.floor > 0.0 else pad(None, width + 1)
    if flag == SURPLUS:
        return pad("yes" if not r.group_id else "ByQuota", width + 1)
    if flag in (EFF_QUOTA, CFG_QUOTA, TREE_QUOTA, SORT_KEY, ORDER, GROUP):
        return fmt_float(width, 2, 0.0)
    return pad(None, width + 1)


def footer(col: tuple, wt_res: float, acc: float, begin: int, min_last: int, tm_last: int) -> str:
    flag, width = col[0], col[1]
    if flag == RES_USED:
        return fmt_float(width, 0, wt_res)
    if flag == WT_RES_USED:
        return fmt_float(width, 2, acc / 3600.0)
    if flag == USE_TIME1:
        return pad("" if begin <= 0 else format_date_year(begin), width + 1, how="left")
    if flag == USE_TIME2:
        return pad("" if min_last <= 0 else format_date_year(min_last), width + 1, how="left")
    if flag == USE_DELTA_T:
        if min_last <= 0:
            return pad("", width + 1, how="left")
        delta = tm_last - min_last
        return pad("<now>" if delta <= 0 else format_time_nosecs(delta), width + 1, how="left")
    if flag == SURPLUS:
        return pad("ByQuota", width + 1)
    return pad(None, width + 1)


def render_reslist(ad, now: int) -> str:
    """PrintResList: the slots charged to one submitter."""
    fmt = "{:<30} {:>12} {:>12}\n"
    out = [fmt.format("Resource Name", " Start Time", " Match Time"),
           fmt.format("-------------", " ----------", " ----------")]
    i = 1
    while True:
        name, start = ad.get(f"Name{i}"), ad.get(f"StartTime{i}")
        if not isinstance(name, str) or not isinstance(start, int):
            break
        out.append(fmt.format(name.rpartition("@")[0] if "@" in name else name,
                              format_date(start), format_time(now - start)))
        i += 1
    out.append(fmt.format("-------------", " ------------", " ------------"))
    out.append(f"Number of Resources Used: {i - 1}\n")
    return "".join(out)


def render_long(ads: list) -> str:
    return "".join(C.long_ad(ad) + "\n" for ad in ads)


def user_constraint(constraints: list[str]) -> classad2.ExprTree | None:
    """The ``-constraint`` expressions ANDed, or None; a ToolError when they do not parse."""
    if not constraints:
        return None
    text = "( " + " && ".join(f"({c})" for c in constraints) + " )"
    try:
        return classad2.ExprTree(text)
    except Exception:
        raise C.ToolError(f"Error:  could not parse constraint {text}\n") from None


def render_modular(ads: list, constraints: list[str], af: C.AutoFormat | None) -> str:
    """PrintModularAds: the records that match ``-constraint``, as ``-af`` columns or as
    ``-long -modular`` ads (each after a blank line)."""
    expr = user_constraint(constraints)
    picked = [ad for ad in ads if expr is None or expr.eval(ad) is True]
    if af is not None:
        return af.render(picked)
    return "".join("\n" + C.long_ad(ad) for ad in picked)


def parse_legacy(text: str) -> classad2.ClassAd:
    """The first ad of a file in the old ClassAd syntax (it ends at a blank line)."""
    chunk = text.lstrip("\n").split("\n\n", 1)[0]
    if not chunk.strip():
        return classad2.ClassAd()
    return classad2.parseOne(chunk, parser=classad2.ParserType.Old)


def legacy_records(ad: classad2.ClassAd) -> list[classad2.ClassAd]:
    """ConvertLegacyUserprioAdToAdList: every ``attrNNN`` becomes ``attr`` of record NNN,
    which also gets ``SubmittorId = NNN``; attributes without a trailing number are left out."""
    import re
    records: dict[int, classad2.ClassAd] = {}
    for key in ad.keys():
        m = re.fullmatch(r"(.*?\D)(\d+)", key)
        if not m or int(m.group(2)) <= 0:
            continue
        n = int(m.group(2))
        rec = records.setdefault(n, classad2.ClassAd())
        rec[m.group(1)] = ad.lookup(key)
        rec["SubmittorId"] = n
    top = max(records, default=0)
    return [records.get(n, classad2.ClassAd()) for n in range(1, top + 1)]


def legacy_to_ads(ad: classad2.ClassAd) -> list[classad2.ClassAd]:
    """The table's records of a GET_PRIORITY ad: entries 1..NumSubmittors, the ad's
    ``LastUpdate`` carried by the first (the table reads it there)."""
    count = ad.get("NumSubmittors")
    if not isinstance(count, int) or count <= 0:
        return []
    out = []
    for i in range(1, count + 1):
        rec = classad2.ClassAd()
        for attr in ("Name", "Priority", "ResourcesUsed", "Requested", "WeightedResourcesUsed",
                     "PriorityFactor", "BeginUsageTime", "LastUsageTime", "WeightedAccumulatedUsage",
                     "AccountingGroup", "IsAccountingGroup", "Ceiling", "Floor", "EffectiveQuota",
                     "ConfigQuota", "SubtreeQuota", "SurplusPolicy", "GroupSortKey"):
            if f"{attr}{i}" in ad:
                rec[attr] = ad.lookup(f"{attr}{i}")
        out.append(rec)
    if "LastUpdate" in ad:
        out[0]["LastUpdate"] = ad.lookup("LastUpdate")
    return out


# ------------------------------------------------------------------------------ options
@dataclass
class Options:
    detail: int = 0
    dash_quota: bool = False
    long: bool = False
    min_last: int = 0
    from_negotiator: bool = False
    edit: tuple | None = None          # (what, user, value)
    reslist: str | None = None
    full_names: list = field(default_factory=list)
    short_names: list = field(default_factory=list)
    name: str | None = None
    pool: str | None = None
    constraints: list = field(default_factory=list)
    af: C.AutoFormat | None = None
    modular: bool = False
    inputfile: str | None = None


class Usage(Exception):
    """A command line the tool refuses: what it says first (if anything), then the usage."""


def is_af(arg: str) -> bool:
    """``-af[:opts]`` (two letters at least) or ``-autoformat[:opts]`` (five)."""
    return C.is_dash_arg_colon_prefix(arg, "af", 2)[0] or \
        C.is_dash_arg_colon_prefix(arg, "autoformat", 5)[0]


def parse_args(args: list[str], now: int) -> Options:
    o = Options(min_last=now - ONE_DAY)
    arg = C.is_dash_arg_prefix
    cursor = C.ArgCursor(args)

    def take(count: int) -> list[str]:
        if cursor.peek(count) is None:
            raise Usage()
        return [cursor.take() for _ in range(count)]

    for a in cursor:
        two = {"setprio": "prio", "setfactor": "factor", "setfloor": "floor",
               "setceiling": "ceiling", "setbegin": "begin", "setaccum": "accum",
               "setlast": "last"}
        hit = next((k for k in two if arg(a, k)), None)
        if hit:
            user, value = take(2)
            o.edit = (two[hit], user, value)
            continue
        if arg(a, "resetusage"):
            o.edit = ("reset", take(1)[0], None)
            continue
        if arg(a, "delete", 3):
            o.edit = ("delete", take(1)[0], None)
            continue
        if arg(a, "resetall"):
            o.edit = ("resetall", None, None)
        elif arg(a, "long", 1):
            o.long = True
        elif arg(a, "constraint", 1):
            constraint = cursor.take()
            if constraint is None:
                raise Usage(f"Error: Argument {a} requires another parameter\n")
            o.constraints.append(constraint)
        elif arg(a, "legacy", 3):
            o.modular = False
        elif arg(a, "modular", 3):
            o.modular = True
        elif is_af(a):
            if (attr := cursor.peek()) is None or attr.startswith("-"):
                raise Usage(f"Error: Argument {a} requires at least one attribute parameter\n"
                            f"\t\te.g. condor_prio {a} Name\n")
            af = C.autoformat_from(cursor, a)
            o.af = C.AutoFormat(**{**vars(af), "streaming": True})   # headings, then each record
        elif arg(a, "inputfile", 2):
            o.inputfile = take(1)[0]
        elif arg(a, "all"):
            o.detail |= ALL
        elif arg(a, "most", 2):
            o.detail |= MOST
        elif arg(a, "quotas", 1):
            o.detail |= QUOTAS & ~REQUESTED | CFG_QUOTA
            o.dash_quota = True
        elif arg(a, "allusers"):
            o.from_negotiator = True
            o.min_last = -1
        elif arg(a, "usage", 2):
            o.detail |= USAGE_COLS | USE_TIME1 | USE_TIME2
        elif arg(a, "priority", 4):
            o.detail |= PRIOS
        elif arg(a, "getreslist", 6):
            o.reslist = take(1)[0]
            o.from_negotiator = True
        elif arg(a, "pool", 1):
            o.pool = take(1)[0]
        elif arg(a, "name"):
            o.name = take(1)[0]
        elif arg(a, "collector", 3):
            o.from_negotiator = False
        elif arg(a, "negotiator", 3):
            o.from_negotiator = True
        elif arg(a, "flat", 2) or arg(a, "hierarchical", 2) or arg(a, "grouporder") or \
                a.startswith("-debug"):
            pass
        elif a[:1].isalpha() or a == "<none>":
            (o.full_names if "@" in a or a == "<none>" else o.short_names).append(a)
        else:
            raise Usage()
    if o.full_names or o.short_names:
        o.min_last = -1
    return o


# ------------------------------------------------------------------------------ the pool
def negotiator(o: Options):
    import htcondor2
    coll = htcondor2.Collector(o.pool) if o.pool else htcondor2.Collector()
    if o.name:
        return coll.locate(htcondor2.DaemonType.Negotiator, o.name)
    return coll.locate(htcondor2.DaemonType.Negotiator)


def accounting_ads(o: Options) -> list:
    """The Accounting ads: the collector's, or the negotiator's own (QUERY_ACCOUNTING_ADS)."""
    import htcondor2
    names = names_constraint(o)
    if o.from_negotiator or names:
        addr = negotiator(o)["MyAddress"]
        coll = htcondor2.Collector(addr)
    else:
        coll = htcondor2.Collector(o.pool) if o.pool else htcondor2.Collector()
    parts = [f"({c})" for c in o.constraints] + ([f"({names})"] if names else [])
    ads = coll.query(htcondor2.AdTypes.Accounting, " && ".join(parts) or True)
    if o.name:
        ads = [a for a in ads if a.get("NegotiatorName") == o.name]
    return list(ads)


def names_constraint(o: Options) -> str:
    parts = [f'Name=?="{n}"' for n in o.full_names]
    if o.short_names:
        parts.append(f'StringListMember(splitusername(Name)[0], "{",".join(o.short_names)}")')
    return " || ".join(parts)


def edit(o: Options, name: str) -> str:
    """An edit option: the message the real tool prints, or a ToolError."""
    what, user, value = o.edit
    if what != "resetall" and "@" not in user:
        noun = {"delete": "record you wish\n\tto delete"}.get(what, "submittor you wish\n\tto update "
                                                                     "the priority of")
        raise C.ToolError(f"{name}: You must specify the full name of the {noun} "
                          f"(user@uid.domain or user@full.host.name)\n")
    neg = __import__("htcondor2").Negotiator(negotiator(o))
    if what == "prio":
        v = _atof(value)
        neg.setPriority(user, v)
        return f"The priority of {user} was set to {v:f}\n"
    if what == "factor":
        v = _atof(value)
        if v < 1:
            raise C.ToolError("Priority factors must be greater than or equal to 1.\n")
        neg.setFactor(user, v)
        return f"The priority factor of {user} was set to {v:f}\n"
    if what in ("floor", "ceiling"):
        v = _atoi(value)
        (neg.setFloor if what == "floor" else neg.setCeiling)(user, v)
        return f"The {what} of {user} was set to {v}\n"
    if what == "accum":
        v = _atof(value)
        if v < 0:
            raise C.ToolError("Usage must be greater than 0 seconds\n")
        neg.setUsage(user, v)
        return f"The Accumulated Usage of {user} was set to {v:f}\n"
    if what in ("begin", "last"):
        v = _atoi(value)
        if v < 0:
            raise C.ToolError("Time must be greater than 0 seconds\n")
        if what == "begin":
            neg.setBeginUsage(user, v)
            return f"The Begin Usage Time of {user} was set to {v}\n"
        neg.setLastUsage(user, v)
        return f"The Last Usage Time of {user} was set to {v}\n"
    if what == "reset":
        neg.resetUsage(user)
        return f"The accumulated usage of {user} was reset\n"
    if what == "delete":
        neg.deleteUser(user)
        return f"The accountant record named {user} was deleted\n"
    neg.resetAllUsage()
    return "The accumulated usage was reset for all users\n"


def _atof(text: str) -> float:
    import re
    m = re.match(r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", text)
    return float(m.group(0)) if m else 0.0


def _atoi(text: str) -> int:
    import re
    m = re.match(r"\s*[-+]?\d+", text)
    return int(m.group(0)) if m else 0


def body(args: list[str], name: str = "condor_userprio") -> int:
    now = int(time.time())
    try:
        o = parse_args(args, now)
    except Usage as e:
        raise C.ToolError("".join(e.args) + USAGE.format(name=name)) from None
    if o.edit:
        sys.stdout.write(edit(o, name))
        return 0
    if o.reslist is not None:
        if "@" not in o.reslist:
            raise C.ToolError(f"{name}: You must specify the full name of the submittor you wish\n"
                              "\tto update the priority of (user@uid.domain or user@full.host.name)\n")
        import htcondor2
        ad = _reslist(htcondor2.Negotiator(negotiator(o)), o.reslist)
        sys.stdout.write(C.long_ad(ad) if o.long else render_reslist(ad, now))
        return 0
    if o.inputfile is not None:
        sys.stdout.write(from_file(o, read_input(o.inputfile), now))
        return 0
    ads = accounting_ads(o)
    if o.af is not None or (o.long and o.modular):
        sys.stdout.write(render_modular(ads, o.constraints, o.af))
    elif o.long:
        sys.stdout.write(render_long(ads))
    else:
        sys.stdout.write(render(ads, o.detail or MOST, now, o.min_last, o.dash_quota))
    return 0


def read_input(path: str) -> str:
    try:
        with open(path, "rb") as f:
            return f.read().decode(errors="replace")
    except OSError:
        raise C.ToolError(f"Can't open file of userprio ads: {path}\n") from None


def from_file(o: Options, text: str, now: int) -> str:
    """``-inputfile``: what the tool prints for the GET_PRIORITY ad in ``text``."""
    ad = parse_legacy(text)
    if o.af is not None or (o.long and o.modular):
        return render_modular(legacy_records(ad), o.constraints, o.af)
    if o.long:
        return C.long_ad(ad)
    return render(legacy_to_ads(ad), o.detail or MOST, now, o.min_last, o.dash_quota)


def _reslist(neg, user: str) -> classad2.ClassAd:
    """GET_RESLIST's one ad (the bindings hand it back as a list of per-slot ads)."""
    out = classad2.ClassAd()
    for i, ad in enumerate(neg.getResourceUsage(user), 1):
        for k in ad.keys():
            out[f"{k}{i}"] = ad.lookup(k)
    return out


def main(argv: list[str] | None = None) -> int:
    return C.run_tool(body, argv)


if __name__ == "__main__":
    sys.exit(main())
