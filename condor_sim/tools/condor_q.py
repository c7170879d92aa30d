"""``condor_q``: the job queue of a schedd, in the views HTCondor's condor_q prints (the
batch summary by default; ``-nobatch``, ``-hold``, ``-run``, ``-idle``, ``-totals``) or as
``-af``/``-format``/``-long``/``-json``/``-xml``.

The views are pure functions of the job ads, the schedd's summary ad and the time
(:func:`render_view`), so they can be compared byte for byte with what the real tool printed;
:func:`main` parses the command line and asks the schedd through ``htcondor2``.
"""
from __future__ import annotations

import re
import sys
import time
from dataclasses import dataclass, field

from condor_sim.tools import _usage
from condor_sim.tools import _userlog_ads as UL
from condor_sim.tools import common as C
from condor_sim.tools import q_views

UNIVERSE = {1: "Standard", 5: "Vanilla", 7: "Scheduler", 8: "MPI", 9: "Grid", 10: "Java",
            11: "Parallel", 12: "Local", 13: "VM"}
SUMMARY_KEYS = ("Jobs", "Completed", "Removed", "Idle", "Running", "Held", "Suspended")


# ------------------------------------------------------------------------------ options
@dataclass
class Options:
    view: str = "batch"              # batch nobatch hold run idle totals af format long json xml
    restrictions: list[str] = field(default_factory=list)
    constraints: list[str] = field(default_factory=list)
    allusers: bool = False
    cputime: bool = False            # CPU_TIME (RemoteUserCpu) instead of RUN_TIME
    current_run: bool | None = None  # run times of the current run only (None: not said)
    dag: bool = False                # DAG node jobs under their DAGMan (with -nobatch)
    unmatchable: bool = False        # only jobs that match no slot
    batch_specified: bool = False    # -batch or -nobatch was given
    submitter: str | None = None
    userlog: str | None = None       # read the queue from a job event log
    jobads: str | None = None        # read the queue from a file of job ads
    jobads_form: str = "auto"
    limit: int = -1
    name: str | None = None
    pool: str | None = None
    af: C.AutoFormat | None = None
    formats: list[tuple[str, str]] = field(default_factory=list)
    attributes: list[str] = field(default_factory=list)
    is_global: bool = False
    factory: int = 0                 # -factory: bits of clusters_only (1), late_materialize (2)




OUTPUT_ERRORS = {"attributes": "Error: -attributes requires a list of attributes to show",
                 "format": "Error: -format requires format and attribute parameters",
                 "autoformat": "Error: -autoformat requires at least one attribute parameter"}


def parse_args(args: list[str]) -> Options:
    o = Options()
    cursor = C.ArgCursor(args)
    for a in cursor:
        if not a.startswith("-"):
            o.restrictions.append(C.restriction(a))
        elif C.is_option(a, "constraint", 2):
            o.constraints.append(cursor.take("Error: -constraint requires another parameter"))
        elif C.is_option(a, "help", 1):
            topics = q_views.help_topics(cursor)
            raise C.ToolError("", rc=0, stdout=q_views.help_text(topics))
        elif C.is_option(a, "submitter", 2):
            o.submitter = cursor.take("Error: -submitter requires the name of a user.")
        elif C.is_option(a, "unmatchable", 5):
            o.unmatchable = True
        elif C.is_option(a, "hold-codes", 6) or C.is_option(a, "holdcodes", 5):
            o.view = "holdcodes"
        elif C.is_option(a, "cputime", 2):
            o.cputime = True
        elif C.is_option(a, "currentrun", 3) or C.is_option(a, "cumulative-time", 3):
            mine, other = (("-currentrun", "-cumulative-time") if C.is_option(a, "currentrun", 3)
                           else ("-cumulative-time", "-currentrun"))
            if o.current_run is not None:
                raise C.ToolError(f"Error: {mine} can't be used with {other}\n")
            o.current_run = mine == "-currentrun"
        elif C.is_dash_arg_colon_prefix(a, "factory", 4)[0]:
            o.factory = q_views.factory_options(C.is_dash_arg_colon_prefix(a, "factory", 4)[1])
        elif C.is_option(a, "io", 2):
            o.view = "io"
        elif C.is_option(a, "dag", 2):
            o.dag = True
        elif C.is_option(a, "jobads", 1):
            o.jobads = cursor.take("Error: -jobads requires a filename")
            o.jobads_form = C.is_dash_arg_colon_prefix(a, "jobads", 1)[1] or "auto"
        elif C.is_option(a, "userlog", 1):
            o.userlog = cursor.take("Error: -userlog requires a filename")
        elif C.is_option(a, "name", 2):
            o.name = cursor.take("Error: -name requires the name of a schedd as an argument.")
        elif C.is_option(a, "pool", 2):
            o.pool = cursor.take("Error: -pool requires a hostname as an argument.")
        elif C.is_option(a, "limit", 3):
            text = cursor.take("Error: -limit requires the max number of results as an argument.")
            try:
                o.limit = int(text)
            except ValueError:
                raise C.ToolError(f"Error: Unable to convert ({text}) to a number for -limit.\n")
            if o.limit <= 0:
                raise C.ToolError(f"Error: {o.limit} is not a valid for -limit.\n")
        elif C.is_option(a, "allusers", 2):
            o.allusers = True
        elif C.is_option(a, "global", 2):
            o.is_global = True
        elif C.is_option(a, "nobatch", 3):
            o.batch_specified = True
            if o.view == "batch":
                o.view = "nobatch"
        elif C.is_option(a, "batch", 2):
            o.batch_specified = True
            o.view = "batch"
        elif C.is_option(a, "totals", 3):
            o.view = "totals"
        elif C.is_option(a, "hold", 2) or C.is_option(a, "held", 4):
            o.view = "hold"
        elif C.is_option(a, "run", 2) or C.is_option(a, "running", 3):
            o.view = "run"
        elif C.is_option(a, "idle", 2):
            o.view = "idle"
        elif any(C.is_dash_arg_colon_prefix(a, w, 2)[0] for w in ANALYZE_WORDS):
            o.view = "better-analyze" if "b" in a[1:3] else "analyze"
            refuse_analyze_modes(a)
            if analyze_summary(a):
                o.view = "analyze-summary"
        elif C.is_dash_arg_colon_prefix(a, "reverse-analyze", 3)[0]:
            raise C.ToolError(f"condor_q: {a} (the analysis of machines) is not supported by "
                              "this condor_q\n")
        elif C.is_option(a, "wide", 2):
            pass
        elif C.ad_output_option(o, cursor, a, OUTPUT_ERRORS):
            pass
        else:
            raise C.ToolError(f"Error: unrecognized argument {a}\n", stdout=_usage.CONDOR_Q)
    return settled(o)


def settled(o: Options) -> Options:
    """What the options imply together: ``-unmatchable`` refuses an explicit ``-batch``
    or ``-nobatch`` (condor_q's own quirk) and turns the batch default off."""
    if o.unmatchable:
        if o.batch_specified:
            raise C.ToolError("Error: -batch conflicts with -unmatchable\n")
        if o.view == "batch":
            o.view = "nobatch"
    if o.dag and o.view == "nobatch":
        o.view = "dag"
    if o.factory and (o.view == "nobatch" or (o.view == "batch" and not o.batch_specified)):
        o.view = "factory"                # -factory turns the batch default off
    return o


def constraint_of(o: Options) -> str:
    parts = []
    if o.restrictions:
        parts.append(" || ".join(o.restrictions) if len(o.restrictions) == 1 else
                     "(" + " || ".join(o.restrictions) + ")")
    parts += [f"({c})" for c in o.constraints]
    if o.factory:
        parts += [f"({q_views.FACTORY_CONSTRAINTS[b]})" for b in (1, 2) if o.factory & b]
    if o.submitter is not None:
        parts.append(f"({q_views.owner_constraint(o.submitter)})")
    if o.view in ("hold", "holdcodes"):
        parts.append("(JobStatus == 5)")
    elif o.view == "io":
        parts.append(f"({q_views.IO_CONSTRAINT})")
    elif o.view == "run":
        parts.append("(JobStatus == 2)")
    elif o.view == "idle":
        parts.append("(JobStatus == 1)")
    return " && ".join(parts) if parts else "true"


# ------------------------------------------------------------------------------ renderings
def header_line(schedd_ad, now: float) -> str:
    addr = str(schedd_ad.get("MyAddress", ""))
    short = addr.split("?", 1)[0] + "?..." if "?" in addr else addr
    stamp = time.strftime("%m/%d/%y %H:%M:%S", time.localtime(now))
    return f"\n\n-- Schedd: {schedd_ad.get('Name')} : {short} @ {stamp}\n"


def summary_text(summary) -> str:
    def line(label: str, prefix: str) -> str:
        n = [summary.get(prefix + k, 0) for k in SUMMARY_KEYS]
        return (f"Total for {label}: {n[0]} jobs; {n[1]} completed, {n[2]} removed, {n[3]} idle, "
                f"{n[4]} running, {n[5]} held, {n[6]} suspended")
    lines = [line("query", "")]
    me = summary.get("MyName")
    if isinstance(me, str):
        lines.append(line(me, "My"))
    lines.append(line("all users", "Allusers"))
    return "\n" + " \n".join(lines) + "\n\n"


def with_query_counts(summary, ads) -> dict:
    """The summary with its query totals counted from the ads received (as condor_q does
    when ``-limit`` cuts the list short); the all-users totals stay the schedd's."""
    out = {k: summary.get(k) for k in summary.keys()} if summary else {}
    st = [a.get("JobStatus") for a in ads]
    for k, n in zip(SUMMARY_KEYS, [len(st), st.count(4), st.count(3), st.count(1),
                                   st.count(2), st.count(5), st.count(7)]):
        out[k] = n
    return out


def run_time(ad, now: int, current_run: bool = False) -> int:
    """Wall clock time of the job's runs (of its current run only with ``current_run``)."""
    def number(attr: str) -> float:
        v = ad.get(attr, 0)
        return v if isinstance(v, (int, float)) and not isinstance(v, bool) else 0
    wall = 0 if current_run else number("RemoteWallClockTime")
    bday = ad.get("ShadowBday")
    status = ad.get("JobStatus")
    if status in (2, 6, 7) and isinstance(bday, int) and bday:
        wall += now - bday
    elif current_run and status in (1, 5, 9):
        wall = number("LastRemoteWallClockTime")
    return int(wall)


def time_column(ad, now: int, cputime: bool, current_run: bool) -> int:
    """The RUN_TIME column, or the CPU_TIME column (RemoteUserCpu) with ``-cputime``."""
    if cputime:
        cpu = ad.get("RemoteUserCpu", 0)
        return int(cpu) if isinstance(cpu, (int, float)) and not isinstance(cpu, bool) else 0
    return run_time(ad, now, current_run)


def memory_mb(ad) -> float:
    v = C.evaluate(ad, "MemoryUsage") if "MemoryUsage" in ad else None
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v)
    size = ad.get("ImageSize", 0)
    return (size if isinstance(size, (int, float)) else 0) / 1024.0


def job_id_cells(ad) -> str:
    return f"{ad.get('ClusterId', 0):4d}.{ad.get('ProcId', 0):<3d}"


def owner_of(ad) -> str:
    owner = ad.get("Owner")
    return owner if isinstance(owner, str) else "??"


def nobatch_view(ads, now: int, cputime: bool = False, current_run: bool = False,
                 dag: bool = False) -> str:
    """One line per job; with ``dag`` each DAG node job under its DAGMan, named by its node."""
    rows = q_views.dag_order(ads) if dag else [(ad, 0) for ad in ads]
    ow, ohead = (17, "OWNER/NODENAME") if dag else (14, "OWNER")
    pri = [str(ad.get("JobPrio", 0)) for ad, _ in rows]
    pw = max([3] + [len(p) for p in pri])
    label = "CPU_TIME" if cputime else "RUN_TIME"
    out = [" ID      " + ohead.ljust(ow) + f"   SUBMITTED     {label} ST " + "PRI".ljust(pw)
           + " SIZE CMD\n"]
    for (ad, depth), p in zip(rows, pri):
        st = C.STATUS_CHAR.get(ad.get("JobStatus"), "?")
        owner = q_views.dag_owner_cell(ad, depth) if dag else owner_of(ad)
        out.append(f"{job_id_cells(ad)} {owner:<{ow}} {C.qdate(ad.get('QDate')):>11} "
                   f"{C.duration(time_column(ad, now, cputime, current_run)):>12} {st:<2} "
                   f"{p:<{pw}} {memory_mb(ad):4.1f} {C.job_description(ad)}\n")
    return "".join(out)


def hold_view(ads) -> str:
    out = [" ID      " + "OWNER".ljust(14) + " HELD_SINCE  CODE/SUB HOLD_REASON\n"]
    for ad in ads:
        code = ad.get("HoldReasonCode")
        sub = ad.get("HoldReasonSubCode")
        code_s = f"{code:4d}" if isinstance(code, int) else "?".rjust(4)
        sub_s = f"/{sub:<3d}"[:4] if isinstance(sub, int) else "    "
        reason = ad.get("HoldReason")
        out.append(f"{job_id_cells(ad)} {owner_of(ad):<14} "
                   f"{C.qdate(ad.get('EnteredCurrentStatus')) or '??':>11} {code_s}{sub_s} "
                   f"{reason if isinstance(reason, str) else 'undefined'}\n")
    return "".join(out)


def run_view(ads, now: int, cputime: bool = False, current_run: bool = False) -> str:
    label = "CPU_TIME" if cputime else "RUN_TIME"
    out = [" ID      " + "OWNER".ljust(14) + f"   SUBMITTED     {label} HOST(S)\n"]
    for ad in ads:
        host = ad.get("RemoteHost")
        out.append(f"{job_id_cells(ad)} {owner_of(ad):<14} {C.qdate(ad.get('QDate')):>11} "
                   f"{C.duration(time_column(ad, now, cputime, current_run)):>12} "
                   f"{host if isinstance(host, str) else '??'}\n")
    return "".join(out)


def idle_view(ads) -> str:
    out = [" ID      " + "OWNER".ljust(14) + " UNIVERSE  CPUS MEMORY STARTS LAST_HOST\n"]
    for ad in ads:
        uni = UNIVERSE.get(ad.get("JobUniverse"), "Unknown")
        cpus = ad.get("RequestCpus", 0)
        mem = C.evaluate(ad, "RequestMemory")
        starts = ad.get("NumShadowStarts", 0)
        last = ad.get("LastRemoteHost")
        out.append(f"{job_id_cells(ad)} {owner_of(ad):<14} {uni:<9} "
                   f"{cpus if isinstance(cpus, int) else 0:4d} "
                   f"{mem if isinstance(mem, int) else 0:6d} "
                   f"{starts if isinstance(starts, int) else 0:6d} "
                   f"{last if isinstance(last, str) else 'undefined'}\n")
    return "".join(out)


@dataclass
class BatchRow:
    owner: str
    name: str
    submitted: str
    first: tuple[int, int]
    last: tuple[int, int]
    counts: dict = field(default_factory=lambda: {"run": 0, "idle": 0, "held": 0})
    procs: dict = field(default_factory=dict)      # cluster -> number of procs seen
    totals: dict = field(default_factory=dict)     # cluster -> TotalSubmitProcs
    made: dict = field(default_factory=dict)       # factory cluster -> JobMaterializeNextProcId


def batch_rows(ads) -> list[BatchRow]:
    rows: dict[tuple, BatchRow] = {}
    for ad in sorted(ads, key=lambda a: (a.get("ClusterId", 0), a.get("ProcId", 0))):
        c, p = ad.get("ClusterId", 0), ad.get("ProcId", 0)
        batch = ad.get("JobBatchName")
        name = batch if isinstance(batch, str) else f"ID: {c}"
        key = (owner_of(ad), name)
        row = rows.get(key)
        if row is None:
            row = rows[key] = BatchRow(owner_of(ad), name, C.qdate(ad.get("QDate")), (c, p), (c, p))
        row.first, row.last = min(row.first, (c, p)), max(row.last, (c, p))
        st = ad.get("JobStatus")
        if st in (2, 6):
            row.counts["run"] += 1
        elif st in (1, 7):
            row.counts["idle"] += 1
        elif st == 5:
            row.counts["held"] += 1
        row.procs[c] = row.procs.get(c, 0) + 1
        total = ad.get("TotalSubmitProcs")
        if isinstance(total, int):
            row.totals[c] = total
        made = ad.get("JobMaterializeNextProcId")
        if isinstance(made, int) and made >= 0:
            row.made[c] = made
    return list(rows.values())


def done_count(row: BatchRow, c: int, present: int) -> int:
    """The DONE of one cluster: the jobs it had that have left the queue (of a factory,
    those it has made so far; of others, of all it has)."""
    return (row.made[c] if c in row.made else row.totals.get(c, 0)) - present


def batch_view(ads, partial: bool, show_held_always: bool = False) -> str:
    rows = batch_rows(ads)
    if not rows:
        return "OWNER BATCH_NAME      SUBMITTED   DONE   RUN    IDLE   HOLD  TOTAL JOB_IDS\n"
    ow = max(len(r.owner) for r in rows)
    ow = max(8, ow) if ow < 5 else ow
    bw = max(10, max(len(r.name) for r in rows))
    any_held = show_held_always or any(r.counts["held"] for r in rows)
    cells = []
    for r in rows:
        total = sum(r.totals.values()) if len(r.totals) == len(r.procs) else 0
        done = 0 if partial else sum(done_count(r, c, n) for c, n in r.procs.items())
        nums = [done, r.counts["run"], r.counts["idle"], r.counts["held"], total]
        if r.first == r.last:
            ids = f"{r.first[0]}.{r.first[1]}"
        elif r.first[0] == r.last[0]:
            ids = f"{r.first[0]}.{r.first[1]}-{r.last[1]}"
        else:
            ids = f"{r.first[0]}.{r.first[1]} ... {r.last[0]}.{r.last[1]}"
        cells.append((r, nums, ids))
    widths = [max(6, max(len(str(n[k])) for _, n, _ in cells)) for k in range(5)]
    heads = ["DONE", "RUN ", "IDLE", "HOLD", "TOTAL"]
    keep = [k for k in range(5) if k != 3 or any_held]
    out = ["OWNER".ljust(ow) + " " + "BATCH_NAME".ljust(bw) + " " + "   SUBMITTED" + " "
           + " ".join(heads[k].rjust(widths[k]) for k in keep) + " JOB_IDS\n"]
    for r, nums, ids in cells:
        counters = " ".join((str(nums[k]) if nums[k] > 0 else "_").rjust(widths[k]) for k in keep)
        out.append(f"{r.owner:<{ow}} {r.name:<{bw}} {r.submitted:>12} {counters} {ids}\n")
    return "".join(out)


def render_view(view: str, ads: list, summary, schedd_ad, now: int,
                partial: bool = False, *, title: str | None = None, cputime: bool = False,
                current_run: bool = False) -> str:
    """The text of a standard view (header line, table, totals) for these ads. ``title``
    replaces ``Schedd: NAME : ADDRESS`` in the header line; a ``summary`` of None means a
    queue read from a file (totals of the ads alone)."""
    if view in ("af", "format", "long", "json", "xml"):
        raise ValueError(view)
    head = header_line(schedd_ad, now) if title is None else q_views.title_line(title, now)
    totals = summary_text(summary) if summary is not None else q_views.file_summary_text(ads)
    if view == "totals":
        return head + totals.lstrip("\n")
    if view == "run":
        return head + run_view(ads, now, cputime, bool(current_run))
    if view == "idle":
        return head + idle_view(ads)
    if view == "hold":
        return head + hold_view(ads) + totals
    if view == "holdcodes":
        return head + q_views.hold_codes_view(ads)
    if view == "factory":                 # SUMMARY NONE
        return head + q_views.factory_view(ads)
    if view == "io":
        return head + q_views.io_view(ads) + totals
    if view in ("nobatch", "dag"):
        return head + nobatch_view(ads, now, cputime, bool(current_run), view == "dag") + totals
    return head + batch_view(ads, partial) + totals


def render_ads(o: Options, ads: list) -> str:
    if o.view == "af":
        return o.af.render(ads)
    if o.view == "format":
        return C.render_format(ads, o.formats)
    if o.view == "long":
        return C.render_long(ads)
    if o.view == "json":
        return C.render_json(ads)
    return C.render_xml(ads)


# ------------------------------------------------------------------------------ main
AD_VIEWS = ("af", "format", "long", "json", "xml")
VIEW_ATTRIBUTES = ("ClusterId", "ProcId", "Owner", "User", "QDate", "JobStatus", "LastJobStatus",
                   "JobPrio", "ImageSize", "MemoryUsage", "RequestMemory", "RequestCpus", "Cmd",
                   "Args", "Arguments", "JobDescription", "JobBatchName", "JobUniverse",
                   "HoldReason", "HoldReasonCode", "HoldReasonSubCode", "RemoteHost",
                   "LastRemoteHost", "RemoteWallClockTime", "RemoteUserCpu", "ShadowBday",
                   "JobCurrentStartDate", "JobStartDate", "EnteredCurrentStatus",
                   "NumShadowStarts", "TotalSubmitProcs", "JobMaterializeNextProcId",
                   "DAGManJobId", "DAGNodeName",
                   "ServerTime", "LastRemoteWallClockTime", "NumJobStarts", "NumCkpts_RAW",
                   "BytesRecvd", "BytesSent", "FileReadBytes", "FileWriteBytes",
                   "TransferQueued", "TransferringInput", "TransferringOutput")


def projection_of(o: Options) -> list[str]:
    """The attributes to ask the schedd for: what -af/-format evaluate (every name their
    expressions mention, and the job id), -attributes, or the totals' three; [] (all)
    for the views that print whole ads or many columns."""
    from ._projection import printed_expressions, referenced_names
    if o.view == "totals":
        return ["ClusterId", "ProcId", "JobStatus"]
    if o.unmatchable:
        return []                             # matching needs every attribute
    if o.view in ("af", "format") and not o.attributes:
        exprs = printed_expressions(o.view, o.af.attrs if o.af else (), o.formats)
        return referenced_names(exprs, always=("clusterid", "procid"))
    if o.view == "factory":
        return list(q_views.FACTORY_ATTRIBUTES)
    if o.view not in AD_VIEWS and not o.attributes:
        return list(VIEW_ATTRIBUTES)          # the columns of the batch and one-line views
    return list(o.attributes)


def query(o: Options):
    import htcondor2
    location = C.locate_schedd(o.name, o.pool, tool="condor_q") if o.submitter is None \
        else locate_submitter(o)
    constraint = constraint_of(o)
    if not C.constraint_ok(constraint):
        raise C.ToolError(f"\n-- Failed to fetch ads from: {location.get('MyAddress')} : "
                          f"{location.get('Name')}\n\n")
    opts = htcondor2.QueryOpt.Default
    if not (o.allusers or o.restrictions or o.constraints or o.is_global or o.submitter):
        opts = htcondor2.QueryOpt.DefaultMyJobsOnly
    if o.factory and (o.view in AD_VIEWS or o.view == "factory"):
        opts |= htcondor2.QueryOpt.IncludeClusterAd      # the factories' cluster ads
    schedd = htcondor2.Schedd(location)
    try:
        ads = schedd.query(constraint, projection_of(o), limit=o.limit, opts=opts)
        summary = [] if o.view in AD_VIEWS or o.view == "factory" else \
            schedd.query(constraint, [], opts=htcondor2.QueryOpt.SummaryOnly)
    except Exception:
        raise C.ToolError(f"\n-- Failed to fetch ads from: {location.get('MyAddress')} : "
                          f"{location.get('Name')}\n\n")
    summary = summary[0] if summary else {}
    if o.view == "factory":
        summary = {}
    elif opts != htcondor2.QueryOpt.Default or o.limit > 0:
        summary = with_query_counts(summary, ads)
    if o.view == "totals":
        ads = []
    return location, ads, summary


def locate_submitter(o: Options):
    """The schedd holding ``-submitter``'s jobs, from the collector's submitter ad: a
    location ad (its ``MyAddress`` is the schedd's) that keeps the submitter's name."""
    import classad2
    import htcondor2
    domain = htcondor2.param.get("UID_DOMAIN", "")
    try:
        coll = htcondor2.Collector(o.pool) if o.pool else htcondor2.Collector()
        found = coll.query(htcondor2.AdType.Submitter,
                           q_views.submitter_constraint(o.submitter, domain))
    except Exception:
        found = []
    found = [ad for ad in found if all(k in ad for k in ("ScheddIpAddr", "Name", "Machine"))]
    if not found:
        raise C.ToolError("", rc=0, stdout="All queues are empty\n")
    ad = found[0]
    location = classad2.ClassAd({"MyType": "Scheduler", "Name": ad["Name"],
                                 "Machine": ad["Machine"], "MyAddress": ad["ScheddIpAddr"],
                                 "ScheddIpAddr": ad["ScheddIpAddr"],
                                 "CondorVersion": ad.get("CondorVersion", htcondor2.version())})
    return location


def slot_ads(o: Options) -> list:
    import htcondor2
    try:
        coll = htcondor2.Collector(o.pool) if o.pool else htcondor2.Collector()
        return list(coll.query(htcondor2.AdType.Startd))
    except Exception:
        return []


def render_file_queue(o: Options, ads: list, title: str, now: int) -> str:
    """A queue read from a file (``-userlog``, ``-jobads``): the ads that pass the
    command line's constraint, in any view; the totals are counted from them."""
    ads = q_views.matching(ads, constraint_of(o))
    if o.view in AD_VIEWS:
        return render_ads(o, ads)
    return render_view(o.view, ads, None, None, now, bool(o.restrictions or o.constraints),
                       title=title, cputime=o.cputime, current_run=bool(o.current_run))


def file_queue(o: Options) -> str:
    now = int(time.time())
    if o.jobads is not None:
        return render_file_queue(o, q_views.read_jobads(o.jobads, o.jobads_form),
                                 f"Jobads: {o.jobads}", now)
    try:
        events = UL.read_userlog(o.userlog)
    except Exception:
        raise C.ToolError(f"\nCan't open user log: {o.userlog}\n")
    ads = UL.ads_from_events(events, o.userlog, C.user_name(), now)
    return render_file_queue(o, ads, f"Userlog: {o.userlog}", now)


ANALYZE_WORDS = ("better-analyze", "better-analyse", "analyze", "analyse")
# the analysis modes this condor_q does not have (the others only tune the detail)
ANALYZE_MODES_NOT_HERE = (("reverse", 1), ("priority", 2))


def analyze_summary(option: str) -> bool:
    """Whether ``-analyze:...`` or ``-better-analyze:...`` asks for the summary table."""
    _, _, opts = option.partition(":")
    return any(C.is_arg_prefix(w, "summary", 1) for w in filter(None, re.split(r"[,:]", opts)))


def refuse_analyze_modes(option: str) -> None:
    """``-analyze:summary``, ``:reverse`` and ``:priority`` print other reports than the
    one this condor_q prints: refused, rather than answered with the wrong one."""
    _, _, opts = option.partition(":")
    for word in filter(None, re.split(r"[,:]", opts)):
        for mode, least in ANALYZE_MODES_NOT_HERE:
            if C.is_arg_prefix(word, mode, least):
                raise C.ToolError(f"condor_q: {option.split(':')[0]}:{mode} is not supported "
                                  "by this condor_q\n")


def analyze_body(o: Options) -> int:
    """``-analyze``/``-better-analyze``: the job ads from the schedd, the partitionable and
    static slot ads from the collector, and the analysis of each job."""
    import htcondor2
    from condor_sim.tools import _analyze
    location = C.locate_schedd(o.name, o.pool, tool="condor_q")
    failed = (f"\n-- Failed to fetch ads from: {location.get('MyAddress')} : "
              f"{location.get('Name')}\n\n")
    constraint = constraint_of(o)
    if not C.constraint_ok(constraint):
        raise C.ToolError(failed)
    opts = htcondor2.QueryOpt.Default
    if not (o.allusers or o.restrictions or o.constraints or o.is_global):
        opts = htcondor2.QueryOpt.DefaultMyJobsOnly
    try:
        schedd = htcondor2.Schedd(location)
        jobs = schedd.query(constraint, [], limit=o.limit, opts=opts)
        summary = schedd.query(constraint, [], opts=htcondor2.QueryOpt.SummaryOnly)
    except Exception:
        raise C.ToolError(failed)
    try:
        slots = htcondor2.Collector(o.pool).query(htcondor2.AdTypes.Startd,
                                                  constraint="!(DynamicSlot?:false)")
    except Exception:
        raise C.ToolError("Error:  Could not fetch startd ads\n")
    jobs = sorted(jobs, key=lambda a: (a.get("ClusterId", 0), a.get("ProcId", 0)))
    if o.view == "analyze-summary":
        sys.stdout.write(_analyze.summary_text(jobs, list(slots), str(location.get("Name")),
                                               str(location.get("MyAddress", ""))))
        return 0
    autoclusters = _analyze.autoclusters_of(summary[0] if summary else None)
    autoclusters.update(autocluster_records(schedd, jobs, autoclusters))
    sys.stdout.write(_analyze.analyze_jobs(
        jobs, list(slots), str(location.get("Name")), str(location.get("MyAddress", "")),
        better=o.view == "better-analyze", autoclusters=autoclusters))
    return 0


def autocluster_records(schedd, jobs: list, known: dict) -> dict:
    """The autocluster records the real condor_q gets in the summary of a query that asks
    ``ForAnalysis``, which the bindings cannot ask: built the schedd's way (from the first
    job of each autocluster, and a query of all its jobs)."""
    import classad2
    from condor_sim.jobqueue import analysis
    records: dict = {}
    for job in jobs:
        acid = job.get("AutoClusterId")
        if not isinstance(acid, int) or acid in known or acid in records:
            continue
        try:
            members = schedd.query(f"AutoClusterId == {acid}", list(analysis.RECORD_ATTRIBUTES))
        except Exception:
            continue
        records[acid] = classad2.ClassAd(analysis.autocluster_record(acid, job, members))
    return records


def body(args: list[str]) -> int:
    o = parse_args(args)
    if o.jobads is not None or o.userlog is not None:
        sys.stdout.write(file_queue(o))
        return 0
    if o.view in ("analyze", "better-analyze", "analyze-summary"):
        return analyze_body(o)
    location, ads, summary = query(o)
    ads = sorted(ads, key=lambda a: (a.get("ClusterId", 0), a.get("ProcId", 0)))
    if o.unmatchable:
        ads = q_views.unmatchable(ads, slot_ads(o))
    if o.view in ("af", "format", "long", "json", "xml"):
        sys.stdout.write(render_ads(o, ads))
        return 0
    partial = bool(o.restrictions or o.constraints)
    title = q_views.submitter_label(location) if o.submitter is not None else None
    sys.stdout.write(render_view(o.view, ads, summary, location, int(time.time()), partial,
                                 title=title, cputime=o.cputime,
                                 current_run=bool(o.current_run)))
    return 0


def main(argv: list[str] | None = None) -> int:
    """condor_q's command line; returns the exit code."""
    return C.run_tool(body, argv)


if __name__ == "__main__":
    sys.exit(main())
