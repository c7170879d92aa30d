"""More of condor_q's views and job sources: ``-hold-codes``, ``-io``, ``-dag`` (one line
per job, DAG nodes under their DAGMan), ``-help`` with its code tables, and the queues that
come from a file instead of a schedd (``-jobads``: a file of job ads; ``-userlog``, the jobs
a job event log describes, is :mod:`condor_sim.tools._userlog_ads`, shared with
condor_history).

Everything here is a pure function of ads, the time and a few names, so it can be
compared byte for byte with what the real 25.14 condor_q printed; the only I/O is
:func:`read_jobads`, which turns a file into those values.
"""
from __future__ import annotations

import sys
import time
from typing import Any, Iterable, Mapping, Sequence

import classad2

from condor_sim.jobqueue.queue import quote
from condor_sim.tools import _usage
from condor_sim.tools import common as C

# ------------------------------------------------------------------------------ -help
JOB_STATUS_CODES = (
    "    JobStatus codes:\n"
    "\t 1 I IDLE\n\t 2 R RUNNING\n\t 3 X REMOVED\n\t 4 C COMPLETED\n\t 5 H HELD\n"
    "\t 6 > TRANSFERRING_OUTPUT\n\t 7 S SUSPENDED\n\t 8 F FAILED\n\t 9 B BLOCKED\n"
    "\t10 P PREPARING\n\n")
JOB_UNIVERSE_CODES = (
    "    JobUniverse codes:\n"
    "\t 1 Standard\n\t 4 PVM\n\t 5 Vanilla\n\t 6 PVMD\n\t 7 Scheduler\n\t 8 MPI\n"
    "\t 9 Grid\n\t10 Java\n\t11 Parallel\n\t12 Local\n\t13 VM\n\n")


def help_topics(cursor: C.ArgCursor) -> list[str]:
    """The topics named after ``-help`` (every following word that is not an option, all
    taken), as ``universe``/``state``/other names."""
    topics = []
    while (word := cursor.take(accept=C.not_dashed)) is not None:
        if C.is_arg_prefix(word, "universe", 3) or C.is_arg_prefix(word, "Universe", 3):
            topics.append("universe")
        elif any(C.is_arg_prefix(word, n, 2) for n in ("state", "State", "status")):
            topics.append("state")
        else:
            topics.append(word.lower())
    return topics


def help_text(topics: Sequence[str]) -> str:
    """The usage, then the code tables asked for (universes before states, as condor_q
    prints them); other topics add nothing."""
    text = _usage.CONDOR_Q
    if "universe" in topics:
        text += JOB_UNIVERSE_CODES
    if "state" in topics:
        text += JOB_STATUS_CODES
    return text


# ------------------------------------------------------------------------------ -factory
# condor_q -factory: one line per job factory (a cluster ad with a digest), the real
# ``jobFactory_PrintFormat``; the cluster ads come from a query with IncludeClusterAd.
FACTORY_CONSTRAINTS = {1: "ProcId is undefined", 2: "JobMaterializeDigestFile isnt undefined"}
FACTORY_ATTRIBUTES = ("ClusterId", "ProcId", "Owner", "QDate", "JobMaterializeLimit", "JobsPresent",
                      "JobsRunning", "JobsIdle", "JobsHeld", "JobMaterializeNextProcId",
                      "JobMaterializePaused", "JobFactoryPaused", "JobMaterializeDigestFile")
FACTORY_MODES = {-1: "Errs", 0: "Norm", 1: "Held", 2: "Done", 3: "Gone"}


def factory_options(text: str | None) -> int:
    """The bits of ``-factory[:clusters_only,late_materialize]`` (both when none is named)."""
    bits = 0
    for word in filter(None, (text or "").split(",")):
        if C.is_arg_prefix(word, "clusters_only", 1):
            bits |= 1
        elif C.is_arg_prefix(word, "late_materialize", 1):
            bits |= 2
        else:
            raise C.ToolError(f"Error: unknown option {word} for -factory\n")
    return bits or 3


def _int_cell(ad, attr: str) -> str:
    v = ad.get(attr)
    return f"{v:6d}" if isinstance(v, int) and not isinstance(v, bool) else " " * 6


def factory_mode(ad) -> str:
    """MODE: JobMaterializePaused, or else the schedd's JobFactoryPaused, as a word."""
    v = ad.get("JobMaterializePaused", ad.get("JobFactoryPaused"))
    if v is None:
        return ""
    if isinstance(v, int) and not isinstance(v, bool):
        return FACTORY_MODES.get(v, "Unk")
    return "????"


def factory_view(ads: Sequence) -> str:
    """The factories' table: id, owner, submit time, limit, jobs present, running, idle
    and held, the next proc id, the mode and the digest file (no totals)."""
    rows = []
    for ad in ads:
        cid = ad.get("ClusterId")
        pid = ad.get("ProcId")
        owner = ad.get("Owner")
        digest = ad.get("JobMaterializeDigestFile")
        rows.append((
            (f"{cid:4d}." if isinstance(cid, int) else "") .ljust(5)
            + (f"{pid:<3d}" if isinstance(pid, int) else "   "),
            (owner if isinstance(owner, str) else "??").ljust(14),
            C.qdate(ad.get("QDate")).rjust(11),
            " ".join(_int_cell(ad, a) for a in ("JobMaterializeLimit", "JobsPresent",
                                                "JobsRunning", "JobsIdle", "JobsHeld",
                                                "JobMaterializeNextProcId")),
            factory_mode(ad),
            digest if isinstance(digest, str) else ""))
    mode_w = max([4] + [len(r[4]) for r in rows])
    digest_w = max([6] + [len(r[5]) for r in rows])
    out = [" ID     " + " " + "OWNER".ljust(14) + " " + "  SUBMITTED" + " " +
           " LIMIT PRESNT   RUN    IDLE   HOLD NEXTID" + " " + "MODE".ljust(mode_w) + " " +
           "DIGEST".ljust(digest_w) + "\n"]
    for r in rows:
        out.append(f"{r[0]} {r[1]} {r[2]} {r[3]} {r[4].ljust(mode_w)} {r[5].ljust(digest_w)}\n")
    return "".join(out)


# ------------------------------------------------------------------------------ -hold-codes
def _job_key(ad) -> tuple[int, int]:
    return (ad.get("ClusterId", 0), ad.get("ProcId", 0))


def _int_or(ad, attr: str, default: int) -> int:
    v = ad.get(attr)
    return v if isinstance(v, int) and not isinstance(v, bool) else default


def hold_codes_view(ads: Iterable) -> str:
    """``-hold-codes``: one line per hold code and subcode, counting its jobs and showing the
    first of them (its owner, when it was held and why); no totals follow."""
    groups: dict[tuple[int, int], list] = {}
    for ad in sorted(ads, key=lambda a: (_int_or(a, "HoldReasonCode", -1),
                                          _int_or(a, "HoldReasonSubCode", -1), _job_key(a))):
        key = (_int_or(ad, "HoldReasonCode", -1), _int_or(ad, "HoldReasonSubCode", -1))
        groups.setdefault(key, []).append(ad)
    out = ["OWNER".ljust(14) + " CODE/SUB    COUNT  OLDEST_JOB_ID " + "HELD_SINCE".ljust(11)
           + " HOLD_REASON\n"]
    for (code, sub), jobs in groups.items():
        first = jobs[0]
        owner = first.get("Owner")
        code_s = f"{code:4d}" if code >= 0 else "?".rjust(4)
        sub_s = f"/{sub:<3d}" if sub >= 0 else "    "
        since = C.qdate(first.get("EnteredCurrentStatus")) or "??"
        reason = first.get("HoldReason")
        jid = "%d.%d" % _job_key(first)
        out.append(f"{owner if isinstance(owner, str) else '??':<14} {code_s}{sub_s} "
                   f"{len(jobs):9d} {jid:<13} {since:>11} "
                   f"{reason if isinstance(reason, str) else ''}\n")
    return "".join(out)


# ------------------------------------------------------------------------------ -io
IO_CONSTRAINT = ("JobUniverse==1 || TransferQueued=?=true || TransferringOutput=?=true "
                 "|| TransferringInput=?=true")


def readable_bytes(v) -> str:
    """A byte count as ``12.3 KB`` (HTCondor's metric units, binary steps)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return "        "
    value, power = float(v), 0
    units = ("B ", "KB", "MB", "GB", "TB")
    while value > 1024.0 and power < len(units) - 1:
        value, power = value / 1024.0, power + 1
    return f"{value:.1f} {units[power]}"


def _io_values(ad) -> tuple:
    standard = ad.get("JobUniverse") == 1
    names = ("FileReadBytes", "FileWriteBytes") if standard else ("BytesRecvd", "BytesSent")
    got = [C.evaluate(ad, n) for n in names]
    nums = [g for g in got if isinstance(g, (int, float)) and not isinstance(g, bool)]
    total = sum(nums) if len(nums) == 2 else None
    return got[0], got[1], total


def _transfer_misc(ad) -> str:
    flags = [ad.get("TransferringInput") is True, ad.get("TransferringOutput") is True,
             ad.get("TransferQueued") is True]
    words = [w for w, on in zip(("in", "out", "queued"), flags) if on]
    return " transfer=" + ",".join(words) if words else ""


def io_view(ads: Iterable) -> str:
    """``-io``: the jobs moving files (or of the standard universe), with their byte counts."""
    rows = []
    for ad in ads:
        runs = C.evaluate(ad, "NumCkpts_RAW" if ad.get("JobUniverse") == 1 else "NumJobStarts")
        runs_s = f"{runs:4d}" if isinstance(runs, int) and not isinstance(runs, bool) else "?"
        inp, outp, total = _io_values(ad)
        owner = ad.get("Owner")
        rows.append((f"{ad.get('ClusterId', 0):4d}.{ad.get('ProcId', 0):<3d}",
                     owner if isinstance(owner, str) else "??", runs_s,
                     C.STATUS_CHAR.get(ad.get("JobStatus"), "?"),
                     readable_bytes(inp), readable_bytes(outp), readable_bytes(total),
                     _transfer_misc(ad)))
    wi = max([6] + [len(r[4]) for r in rows])
    wo = max([7] + [len(r[5]) for r in rows])
    wr = max([10] + [len(r[6]) for r in rows])
    out = [" ID      " + "OWNER".ljust(14) + " RUNS ST " + " INPUT".rjust(wi) + " "
           + " OUTPUT".rjust(wo) + " " + " RATE".ljust(wr) + " MISC\n"]
    for jid, owner, runs, st, i, o, t, misc in rows:
        out.append(f"{jid} {owner:<14} {runs:>4} {st:<2} {i:>{wi}} {o:>{wo}} {t:>{wr}} {misc}\n")
    return "".join(out)


# ------------------------------------------------------------------------------ -dag
def dag_order(ads: Sequence) -> list[tuple[Any, int]]:
    """The jobs with each DAG node job right under its DAGMan job, and each one's nesting
    depth (0 for a job that is no DAG's node)."""
    by_cluster = {ad.get("ClusterId"): ad for ad in ads if ad.get("ProcId", 0) == 0}
    children: dict[int, list] = {}
    roots = []
    for ad in sorted(ads, key=_job_key):
        parent = ad.get("DAGManJobId")
        if isinstance(parent, int) and parent in by_cluster and parent != ad.get("ClusterId"):
            children.setdefault(parent, []).append(ad)
        else:
            roots.append(ad)
    out: list[tuple[Any, int]] = []

    def walk(ad, depth: int) -> None:
        out.append((ad, depth))
        if ad.get("ProcId", 0) == 0:
            for child in children.get(ad.get("ClusterId"), []):
                walk(child, depth + 1)
    for ad in roots:
        walk(ad, 0)
    return out


def dag_owner_cell(ad, depth: int) -> str:
    node = ad.get("DAGNodeName")
    if depth and "DAGManJobId" in ad and isinstance(node, str):
        return " " * depth + "|-" + node
    owner = ad.get("Owner")
    return owner if isinstance(owner, str) else "??"


# ------------------------------------------------------------------------------ file sources
# The all-users line of condor_q's totals print mask, after its first cell: read from a file
# there are no counts for it, and each cell prints blank, as wide as its text without the
# number (the first cell, which starts the new line, prints nothing).
ALLUSERS_CELLS = ("%d completed,", "%d removed,", "%d idle,", "%d running,", "%d held,",
                  "%d suspended")
FILE_SUMMARY_PAD = sum(len(cell) - len("%d") for cell in ALLUSERS_CELLS)


def file_summary_text(ads: Sequence) -> str:
    """The totals under a queue read from a file: the query's line only, then the blank
    cells of the all-users line (the file has no such counts)."""
    st = [ad.get("JobStatus") for ad in ads]
    return (f"\nTotal for query: {len(st)} jobs; {st.count(4)} completed, {st.count(3)} removed, "
            f"{st.count(1)} idle, {st.count(2) + st.count(6)} running, {st.count(5)} held, "
            f"{st.count(7)} suspended" + " " * FILE_SUMMARY_PAD + "\n\n")


def title_line(title: str, now: float) -> str:
    """The header line of a queue: ``-- TITLE @ time`` (``Userlog: FILE``, ``Jobads: FILE``,
    ``Submitter: ...``)."""
    return f"\n\n-- {title} @ {time.strftime('%m/%d/%y %H:%M:%S', time.localtime(now))}\n"


JOBADS_FORMS = {"long": classad2.ParserType.Old, "xml": classad2.ParserType.XML,
                "json": classad2.ParserType.JSON, "new": classad2.ParserType.New}


def parse_jobads(text: str, form: str = "auto") -> list[classad2.ClassAd]:
    """The job ads of a file's text, in the form named (``auto`` guesses it from the text)."""
    if form not in JOBADS_FORMS:
        head = text.lstrip()
        if head.startswith("<"):
            form = "xml"
        elif head.startswith("[") and head[1:].lstrip().startswith(("{", "]")):
            form = "json"
        elif head.startswith("{"):
            form = "json"
        elif head.startswith("["):
            form = "new"
        else:
            form = "long"
    return [ad for ad in classad2.parseAds(text, JOBADS_FORMS[form]) if len(ad)]


def read_jobads(path: str, form: str = "auto") -> list[classad2.ClassAd]:
    """The job ads of a file (``-`` for stdin); ToolError when it cannot be opened."""
    try:
        text = sys.stdin.read() if path == "-" else open(path, encoding="utf-8",
                                                         errors="replace").read()
    except OSError:
        raise C.ToolError(f"Can't open file of ClassAds: {path}\n")
    return parse_jobads(text, form)


def matching(ads: Iterable, constraint: str) -> list:
    """The ads for which ``constraint`` is true."""
    expr = classad2.ExprTree(constraint)
    out = []
    for ad in ads:
        try:
            ok = expr.eval(ad)
        except Exception:
            ok = False
        if ok is True:
            out.append(ad)
    return out


def submitter_constraint(name: str, uid_domain: str) -> str:
    """The collector constraint of ``-submitter NAME`` (``NAME@UID_DOMAIN`` unless qualified)."""
    full = name if "@" in name else f"{name}@{uid_domain}"
    return f'Name == "{full}"'


def owner_constraint(name: str) -> str:
    """The job constraint of ``-submitter NAME`` (``CondorQ::add(CQ_SUBMITTER)``): the
    jobs whose accounting group, or else owner, is NAME as given (so ``alice@domain``
    matches no job: the real tool compares the whole argument)."""
    return f"(AccountingGroup?:Owner)=={quote(name)}"


def submitter_label(ad: Mapping) -> str:
    """``Submitter: NAME : <addr?...> : MACHINE``, the title of a submitter's queue."""
    addr = str(ad.get("ScheddIpAddr", ""))
    short = addr.split("?", 1)[0] + "?..." if "?" in addr else addr
    return f"Submitter: {ad.get('Name')} : {short} : {ad.get('Machine')}"


def unmatchable(jobs: Iterable, slots: Sequence) -> list:
    """The jobs no slot would take: those for which no slot and the job match each other,
    a partitionable slot tried as the job's own analysis tries it (``anaMatchModePslot``:
    as it is, or drained when the job fits only a drained slot)."""
    from condor_sim.tools import _analyze
    return [job for job in jobs if _analyze.run_analysis(job, list(slots))[0].both == 0]


