"""``condor_q -analyze`` / ``-better-analyze``: why a job does or does not match the pool's
slots, as HTCondor 25.x condor_q prints it.

The text is a pure function of the job ad, the slot ads (partitionable and static slots, as
condor_q asks the collector for them), the schedd's name and address and the per-autocluster
match records the schedd may report (:func:`analyze_jobs`). The job's Requirements are split
into clauses the way condor_q numbers them: the expression is unparsed by ``classad2`` and cut
at its top-level ``||``/``&&``/``!``/parentheses (strings and brackets respected); each clause
is evaluated by ``classad2`` with the job as MY and each slot as TARGET.

A partitionable slot that is too busy for the job is also tried "drained" (its resources set
to the slot's totals), which gives the "would match if drained" counts and the second column
of the conditions table.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

import classad2

from condor_sim.tools import common as C

DISPLAY_WIDTH = 80
COMPARISONS = ("==", "!=", "<=", ">=", "<", ">", "=?=", "=!=")

# ------------------------------------------------------------------------------ expression text
@dataclass
class Node:
    """A piece of an unparsed expression: ``kind`` is ``or``/``and`` (two children), ``not``
    and ``paren`` (one child) or ``leaf`` (anything condor_q does not look inside)."""
    kind: str
    text: str
    kids: list["Node"] = field(default_factory=list)


def _scan(text: str):
    """``(index, character, depth)`` for each character outside string literals and quoted
    names; ``depth`` counts the brackets open before it (a closing one counts itself)."""
    depth = 0
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            i = j + 1
            continue
        if c in "([{":
            depth += 1
            yield i, c, depth - 1
        elif c in ")]}":
            depth -= 1
            yield i, c, depth
        else:
            yield i, c, depth
        i += 1


def _top_level(text: str) -> list[tuple[int, str]]:
    """The positions of the operators ``||``, ``&&``, ``?`` and comparisons that are outside
    strings, quoted names and brackets."""
    out: list[tuple[int, str]] = []
    skip_to = 0
    for i, c, depth in _scan(text):
        if i < skip_to or depth != 0 or c in "()[]{}":
            continue
        two, three = text[i:i + 2], text[i:i + 3]
        if three in ("=?=", "=!="):
            out.append((i, three))
            skip_to = i + 3
        elif two in ("||", "&&", "==", "!=", "<=", ">="):
            out.append((i, two))
            skip_to = i + 2
        elif c in "<>?":
            out.append((i, c))
    return out


def _closes_at_end(text: str) -> bool:
    """Whether ``text`` is one parenthesised group."""
    if not (text.startswith("(") and text.endswith(")")):
        return False
    last = len(text) - 1
    return all(not (c in ")]}" and depth == 0 and i != last) for i, c, depth in _scan(text))


def split_expr(text: str) -> Node:
    """The tree of the logical structure of an unparsed expression."""
    text = text.strip()
    ops = _top_level(text)
    if any(op == "?" for _, op in ops):
        return Node("leaf", text)
    for word, kind in (("||", "or"), ("&&", "and")):
        at = [i for i, op in ops if op == word]
        if at:
            i = at[-1]
            return Node(kind, text, [split_expr(text[:i]), split_expr(text[i + 2:])])
    if _closes_at_end(text):
        return Node("paren", text, [split_expr(text[1:-1])])
    if text.startswith("!") and not text.startswith("!=") and not ops:
        return Node("not", text, [split_expr(text[1:])])
    return Node("leaf", text)


def is_variable(text: str) -> bool:
    low = text.lower().replace(" ", "")
    return "time()" in low or "currenttime" in low


# ------------------------------------------------------------------------------ clauses
@dataclass
class Clause:
    """One numbered step of the analysis (condor_q's ``AnalSubExpr``)."""
    text: str
    logic: int = 0              # 0 none, 1 !, 2 ||, 3 &&
    left: int = -1
    right: int = -1
    label: str = ""
    effective: int = -1
    constant: bool = False
    hard: int = -1
    variable: bool = False
    dont_care: bool = False
    counts: list[int] = field(default_factory=lambda: [0, 0])

    def make_label(self) -> str | None:
        if self.logic == 1:
            return None if self.left < 0 else f" ! [{self.left}]"
        if self.logic in (2, 3):
            return f"[{self.left}] {'||' if self.logic == 2 else '&&'} [{self.right}]"
        return None

    def shown(self) -> str:
        if not self.label:
            made = self.make_label()
            if made is not None:
                self.label = made
            else:
                return self.text or "empty"
        return self.label


def clauses_of(tree: Node) -> list[Clause]:
    """The clauses in the order condor_q numbers them (left, right, then the operator)."""
    subs: list[Clause] = []

    def walk(node: Node) -> tuple[int, bool]:
        if node.kind == "leaf":
            subs.append(Clause(node.text, variable=is_variable(node.text)))
            return len(subs) - 1, subs[-1].variable
        if node.kind == "paren":
            return walk(node.kids[0])
        if node.kind == "not":
            ix, var = walk(node.kids[0])
            if ix == len(subs) - 1:
                last = subs[-1]
                last.text, last.logic = node.text, 1
                if last.label:
                    last.label = "! " + last.label
            return ix, var
        left, lvar = walk(node.kids[0])
        right, rvar = walk(node.kids[1])
        subs.append(Clause(node.text, 2 if node.kind == "or" else 3, left, right,
                           variable=lvar or rvar))
        return len(subs) - 1, lvar or rvar

    walk(tree)
    return subs


def numbered_clauses(subs: list[Clause]) -> str:
    out = []
    for ix, s in enumerate(subs):
        made = s.make_label()
        clause = made if made is not None else s.text
        out.append(f"    {step_label(ix, 4)} : {clause}\n")
    return "".join(out)


def step_label(ix: int, width: int) -> str:
    return f"[{ix}]      "[:width + 2]


def truthy(v) -> bool | None:
    """A value as a boolean the way the matchmaker takes it (numbers too); None if neither."""
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float)) and not isinstance(v, classad2.Value):
        return v != 0
    return None


def evaluate(text: str, my, target=None):
    try:
        return classad2.ExprTree(text).eval(scope=my, target=target)
    except Exception:
        return classad2.Value.Error


def mark_irrelevant(subs: list[Clause], ix: int) -> None:
    if ix >= 0:
        subs[ix].dont_care = True
        for k in (subs[ix].left, subs[ix].right):
            mark_irrelevant(subs, k)


def propagate_constants(subs: list[Clause], job) -> None:
    for s in subs:
        s.constant = not external_refs(job, s.text)
        if s.constant:
            s.hard = 1 if truthy(evaluate(s.text, job)) else 0
    tchars = ["?", "F", "T", "", "u", "e", "?", "f", "t", "s"]
    for ix, s in enumerate(subs):
        eff, irr, soft_irr = -1, -1, False
        if s.logic:
            hl = hr = 2
            sl = sr = False
            if s.left >= 0 and subs[s.left].constant:
                hl, sl = subs[s.left].hard, subs[s.left].variable
            if s.right >= 0 and subs[s.right].constant:
                hr, sr = subs[s.right].hard, subs[s.right].variable
            if s.logic == 1:
                if not s.label and s.left >= 0:
                    s.label = f" ! [{s.left}]{tchars[hl + 1 + sl * 6]}"
            elif s.logic == 2:
                if hl == 1 or hr == 1:
                    s.constant, s.hard, s.variable = True, 1, sl and sr
                    if hl == 1:
                        s.effective = eff = s.left
                        irr, soft_irr = s.right, sl and bool(hr or sr)
                    else:
                        s.effective = eff = s.right
                        irr, soft_irr = s.left, sr and bool(hl or sl)
                elif hl == 0 and hr == 0:
                    s.constant, s.hard, s.variable = True, 0, sl or sr
                elif hl == 0:
                    s.effective = eff = s.right
                    irr, soft_irr = s.left, sl
                elif hr == 0:
                    s.effective = eff = s.left
                    irr, soft_irr = s.right, sr
                s.label = f"[{s.left}]{tchars[hl + 1 + sl * 6]} || [{s.right}]{tchars[hr + 1 + sr * 6]}"
            else:
                if hl == 0 or hr == 0:
                    s.constant, s.hard, s.variable = True, 0, sl or sr
                    if hl == 0:
                        s.effective = eff = s.left
                        irr, soft_irr = s.right, sl
                    else:
                        s.effective = eff = s.right
                        irr, soft_irr = s.left, sr
                elif hl == 1 and hr == 1:
                    s.constant, s.hard, s.variable = True, 1, sl or sr
                elif hl == 1:
                    s.effective = eff = s.right
                elif hr == 1:
                    s.effective = eff = s.left
                s.label = f"[{s.left}]{tchars[hl + 1 + sl * 6]} && [{s.right}]{tchars[hr + 1 + sr * 6]}"
        if eff >= 0:
            if irr < 0:
                if eff == s.left:
                    irr = s.right
                if eff == s.right:
                    irr = s.left
                if s.variable:
                    soft_irr = True
            while subs[eff].effective >= 0:
                eff = subs[eff].effective
                s.effective = eff
        if irr >= 0 and not soft_irr:
            mark_irrelevant(subs, irr)


class Columns:
    """How matches are counted and shown: one column, or undrained and drained columns when
    some partitionable slot was also tried drained."""

    def __init__(self, drained: bool):
        self.drained = drained

    def header1(self) -> str:
        return "  Slots      If    " if self.drained else " Slots"

    def header2(self) -> str:
        return " Matched   Drained " if self.drained else " Matched "

    def bar(self) -> str:
        return "--------- ---------" if self.drained else "---------"

    def count(self, c: list[int]) -> int:
        return c[0] + c[1] if self.drained else c[0]

    def show(self, c: list[int]) -> str:
        return f"{c[0]:9d} {c[1]:9d}" if self.drained else f"{c[0]:9d}"


def conditions_table(job, text: str, targets: list[tuple[object, bool]], cols: Columns) -> str:
    """The "reduces to these conditions" table: each clause still relevant after constant
    folding and after short-circuiting on the counts, with how many slots it matches."""
    subs = clauses_of(split_expr(text))
    propagate_constants(subs, job)
    for s in subs:
        changed = False
        for side in ("left", "right"):
            j = getattr(s, side)
            if j >= 0 and subs[j].effective >= 0:
                setattr(s, side, subs[j].effective)
                changed = True
        if changed:
            s.label = ""
    n_all = len(targets)
    for ix, s in enumerate(subs):
        if s.effective >= 0 or s.dont_care:
            continue
        if s.constant:
            continue
        s.counts = [0, 0]
        il, ir = s.left, s.right
        if il >= 0 and ir >= 0 and s.logic:
            eff, prune = -1, -1
            cl, cr = cols.count(subs[il].counts), cols.count(subs[ir].counts)
            if s.logic == 3:
                if cl == 0:
                    eff = il
                elif cr == 0:
                    eff = ir
            elif s.logic == 2:
                if cl == n_all:
                    eff, prune = il, ir
                elif cr == n_all:
                    eff, prune = ir, il
                elif cl == 0 and cr != 0:
                    eff, prune = ir, il
                elif cl != 0 and cr == 0:
                    eff, prune = il, ir
            if prune >= 0:
                mark_irrelevant(subs, prune)
            _settle(subs, s, eff, il, ir)
        for slot, is_drained in targets:
            if truthy(evaluate(s.text, job, slot)):
                s.counts[1 if (cols.drained and is_drained) else 0] += 1
        if il >= 0 and ir >= 0 and s.logic:
            eff = -1
            if s.logic == 3:
                me, cl, cr = (cols.count(subs[k].counts) for k in (ix, il, ir))
                if cl == me:
                    eff = il
                    if cr > me:
                        subs[ir].dont_care = True
                elif cr == me:
                    eff = ir
                    if cl > me:
                        subs[il].dont_care = True
            if eff >= 0:
                while subs[eff].effective >= 0:
                    eff = subs[eff].effective
                s.effective = eff
                s.label = ""
            else:
                _settle(subs, s, -1, il, ir)
    out = [" " * 7 + cols.header1() + "\n", "Step  " + cols.header2() + " Condition\n",
           "----- " + cols.bar() + " ---------\n"]
    for ix, s in enumerate(subs):
        if s.effective >= 0 or s.dont_care:
            continue
        if s.constant:
            word = ("always" if s.hard else "never") if not s.variable else \
                ("now" if s.hard else "not now")
            out.append(f"{step_label(ix, 3)} {word:>9}  {s.shown()}\n")
            continue
        out.append(f"{step_label(ix, 3)} {cols.show(s.counts)}  {s.shown()}\n")
    return "".join(out)


def _settle(subs: list[Clause], s: Clause, eff: int, il: int, ir: int) -> None:
    if eff >= 0:
        while subs[eff].effective >= 0:
            eff = subs[eff].effective
        s.effective = eff
        return
    if subs[il].effective >= 0:
        s.left = subs[il].effective
        s.label = ""
    if subs[ir].effective >= 0:
        s.right = subs[ir].effective
        s.label = ""


# ------------------------------------------------------------------------------ text helpers
def pretty(text: str, indent: int, width: int) -> str:
    """Fold an unparsed expression into lines at most about ``width`` wide, breaking after
    ``&&``/``||`` and indenting by the parenthesis depth (the caller printed the first
    line's indent)."""
    buf = list(text)
    if indent > width:
        indent = width * 2 // 3
    i = last_and = line_start = 0
    at_last_and = indent
    pos = indent
    was_and = False
    prev = ""
    while i < len(buf):
        c = buf[i]
        is_and = False
        if c in "&|" and prev == c:
            is_and = True
        elif c == "(":
            indent += 2
        elif c == ")":
            indent -= 2
        if pos >= width and last_and != line_start:
            buf[last_and] = "\n"
            line_start = last_and + 1
            last_and = line_start
            pos = 0
            if at_last_and > 0:
                buf[line_start:line_start] = [" "] * at_last_and
                i += at_last_and
                pos = i - line_start
            at_last_and = indent
        if was_and:
            last_and = i
            at_last_and = indent
        prev = buf[i]
        i += 1
        pos += 1
        was_and = is_and
    return "".join(buf)


def unparse(expr) -> str:
    """An expression as the old-ClassAd unparser writes it (as ``condor_q -long`` shows it)."""
    ad = classad2.ClassAd()
    ad["X"] = expr
    return ad.printOld().split(" = ", 1)[1].rstrip("\n")


def unparse_value(v) -> str:
    """A value as the analysis prints it: as the tools print values, expressions unparsed."""
    if isinstance(v, classad2.ExprTree):
        return unparse(v)
    return C.unparse_value(v)


def _nocase(names: Iterable[str]) -> list[str]:
    return sorted(set(names), key=str.lower)


def external_refs(ad, text: str) -> list[str]:
    try:
        refs = ad.externalRefs(classad2.ExprTree(text))
    except Exception:
        return []
    return _nocase(r[7:] if r.lower().startswith("target.") else r for r in refs if r)


def internal_refs(ad, text: str) -> list[str]:
    try:
        refs = ad.internalRefs(classad2.ExprTree(text))
    except Exception:
        return []
    return _nocase(r[3:] if r.lower().startswith("my.") else r for r in refs if r)


def ctime(t: int, localtime: Callable = time.localtime) -> str:
    tm = localtime(t)
    return (f"{time.strftime('%a %b', tm)} {tm.tm_mday:2d} "
            f"{tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d} {tm.tm_year}")


def _int(ad, name: str, default: int = 0) -> int:
    v = ad.get(name) if ad is not None else None
    return v if isinstance(v, int) and not isinstance(v, bool) else default


def _str(ad, name: str) -> str | None:
    v = ad.get(name) if ad is not None else None
    return v if isinstance(v, str) else None


def _bool(ad, name: str) -> bool:
    try:
        v = ad.eval(name) if name in ad else None
    except Exception:
        return False
    return v is True


# ------------------------------------------------------------------------------ matching
def requirements_met(my, target) -> bool:
    """Whether MY's Requirements hold against TARGET."""
    if "Requirements" not in my:
        return False
    return bool(truthy(evaluate(unparse(my.lookup("Requirements")), my, target)))


def drained_copy(slot) -> classad2.ClassAd | None:
    """A partitionable slot as it would be drained: each of its machine resources at the
    slot's total (``Cpus = TotalSlotCpus`` ...)."""
    names = _str(slot, "MachineResources") or "Cpus Memory Disk"
    tags = [t for t in names.replace(",", " ").split() if t]
    if not tags:
        return None
    ad = classad2.ClassAd()
    ad.update(slot)
    for tag in _nocase(tags):
        ad[tag] = classad2.ExprTree(f"TotalSlot{tag}")
    return ad


@dataclass
class Counts:
    slots: int = 0
    machines: int = 0
    rejected_by_job: int = 0
    reject_job: int = 0
    job_matches: int = 0
    both: int = 0
    offline: int = 0
    running_jobs: int = 0
    running_yours: int = 0
    available: int = 0
    if_drained: int = 0


@dataclass
class Slot:
    ad: object
    drained: object = None          # the drained copy, when it is what was matched


def run_analysis(job, slots: list) -> tuple[Counts, list[Slot], bool]:
    """Match the job against each slot (drained where it would only fit drained): the counts
    of the summary, the slots as tried, and whether some slot refused the job's
    Requirements."""
    c = Counts()
    machines: set = set()
    tried: list[Slot] = []
    needs = False
    user = _str(job, "User") or ""
    for slot in slots:
        machine = _str(slot, "Machine") or ""
        if machine not in machines:
            machines.add(machine)
            c.machines += 1
        if _bool(slot, "DynamicSlot") and not _bool(slot, "PartitionableSlot"):
            continue
        entry = Slot(slot)
        offer = slot
        within = True
        if _bool(slot, "PartitionableSlot") and "WithinResourceLimits" in slot:
            fits = truthy(evaluate("WithinResourceLimits", slot, job))
            if fits is False:
                within = False
                over = drained_copy(slot)
                if over is not None and truthy(evaluate("WithinResourceLimits", over, job)) is not False:
                    entry.drained = over
                    offer = over
        tried.append(entry)
        c.slots += 1
        if not requirements_met(job, offer):
            c.rejected_by_job += 1
            needs = True
            continue
        c.job_matches += 1
        if not requirements_met(offer, job):
            c.reject_job += 1
            continue
        c.both += 1
        if _bool(offer, "Offline"):
            c.offline += 1
        remote = _str(offer, "RemoteUser")
        if remote is None:
            if within:
                c.available += 1
            else:
                c.if_drained += 1
            continue
        c.running_jobs += 1
        if remote == user:
            c.running_yours += 1
    return c, tried, needs


# ------------------------------------------------------------------------------ the report
def job_status_text(job, now: int) -> str:
    st = _int(job, "JobStatus")
    text = ""
    if st in (2, 6, 7):
        text = "Job is running."
    if st == 5:
        text = "Job is held."
        reason = _str(job, "HoldReason")
        if reason:
            text += "\n\nHold reason: " + reason
    if st == 3:
        text = "Job is removed."
    if st == 4:
        text = "Job is completed."
    if st == 1 and _int(job, "JobCoolDownExpiration") > _int(job, "ServerTime", now):
        text = "Job is in cool down."
    return text


def requirements_report(job, tried: list[Slot], job_id: str) -> str:
    """The Requirements, their numbered clauses, the attributes they use and the conditions
    table."""
    out = []
    req = job.lookup("Requirements") if "Requirements" in job else None
    if req is None:
        return ""
    text = unparse(req)
    out.append(f"The Requirements expression for job {job_id} is\n\n    "
               f"{pretty(text, 4, DISPLAY_WIDTH)}\n\n")
    out.append(numbered_clauses(clauses_of(split_expr(text))) + "\n")
    out.append(f"Job {job_id} defines the following attributes:\n\n")
    for name in internal_refs(job, "Requirements"):
        if name.lower() == "requirements" or name not in job:
            continue
        unit = " (kb)" if name == "RequestDisk" else " (mb)" if name == "RequestMemory" else ""
        out.append(f"    {name} = {unparse(job.lookup(name))}{unit}\n")
    n_ads = len(tried) + sum(1 for s in tried if s.drained is not None)
    if n_ads == 1:
        trefs = external_refs(job, "Requirements")
        for s in tried:
            lines = []
            for name in trefs:
                if name not in s.ad:
                    continue
                unit = " (kb)" if name == "Disk" else " (mb)" if name == "Memory" else ""
                lines.append(f"    TARGET.{name} = {unparse_value(evaluate(name, job, s.ad))}{unit}\n")
            if lines:
                out.append(f"\n{_str(s.ad, 'Name') or 'Target'} has the following attributes:\n\n")
                out.extend(lines)
    out.append("\n")
    drained = any(s.drained is not None for s in tried)
    targets = [(s.ad, False) for s in tried] + [(s.drained, True) for s in tried if s.drained is not None]
    out.append(f"The Requirements expression for job {job_id} reduces to these conditions:\n\n")
    out.append(conditions_table(job, text, targets, Columns(drained)))
    universe = _int(job, "JobUniverse")
    if universe == 9:
        if "$$" not in (_str(job, "GridResource") or ""):
            out.append("\nWARNING: Analysis is only meaningful for Grid universe jobs using matchmaking.\n")
    elif universe == 8:
        out.append("\nWARNING: Analysis is meaningless for MPI universe jobs.\n")
    elif universe in (7, 12):
        out.append("\nWARNING: Analysis is not complete for Scheduler or Local universe jobs.\n")
    elif universe not in (5, 10, 11, 13):
        out.append("\nWARNING: Job universe unknown.  Analysis may not be meaningful.\n")
    return "".join(out)


def totals_text(c: Counts, cluster: int, proc: int) -> str:
    out = [f"\n{cluster:03d}.{proc:03d}:  Run analysis summary ignoring user priority.  "
           f"Of {c.slots} slots on {c.machines} machines,\n",
           f"  {c.rejected_by_job:5d} slots are rejected by your job's requirements\n",
           f"  {c.reject_job:5d} slots reject your job because of their own requirements\n"]
    if c.running_yours:
        out.append(f"  {c.running_yours:5d} slots match and are already running your jobs\n")
    if c.running_jobs:
        out.append(f"  {c.running_jobs - c.running_yours:5d} slots match but are serving other users\n")
    if c.offline > 0:
        out.append(f"  {c.offline:5d} slots match but are currently offline\n")
    out.append(f"  {c.available:5d} slots match and are willing to run your job\n")
    if c.if_drained:
        out.append(f"  {c.if_drained:5d} slots would match if drained\n")
    if not c.job_matches or not c.both:
        out.append("\nWARNING:  Be advised:\n")
        if not c.job_matches:
            out.append("   No machines matched the job's constraints\n")
        else:
            out.append("   Job did not match any machines' constraints\n"
                       "   To see why, pick a machine that you think should match and add\n"
                       "     -reverse -machine <name>\n"
                       "   to your query.\n")
    return "".join(out)


def match_history(job, status: str, autoclusters: dict, localtime: Callable) -> str:
    """The job's state, then its last successful and failed matches (or its
    autocluster's, as the schedd reports them)."""
    cluster, proc = _int(job, "ClusterId"), _int(job, "ProcId")
    out = []
    if status:
        out.append(f"\n{cluster:03d}.{proc:03d}:  {status}\n\n")
    last = _int(job, "LastMatchTime")
    rej = _int(job, "LastRejMatchTime")
    if last:
        out.append(f"Last successful match: {ctime(last, localtime)}\n")
    elif rej:
        out.append("No successful match recorded.\n")
    if rej > last:
        line = f"Last failed match: {ctime(rej, localtime)}"
        who = _str(job, "LastRejMatchNegotiator")
        out.append(line + (f" from {who}" if who else "") + "\n")
        why = _str(job, "LastRejMatchReason")
        if why is not None:
            out.append(f"Reason for last match failure: {why}\n")
        return "".join(out)
    ac = autoclusters.get(_int(job, "AutoClusterId", -1))
    if ac is None:
        return "".join(out)
    ac_rej = _int(ac, "LastRejMatchTime")
    if ac_rej > last:
        who = _str(ac, "LastRejMatchNegotiator")
        out.append(f"Last failed match for this autocluster: {ctime(ac_rej, localtime)}"
                   + (f" from {who}" if who else "") + "\n")
        why = _str(ac, "LastRejMatchReason")
        if why is not None:
            out.append(f"\tReason: {why}\n")
    if isinstance(ac.get("LastMatchTime"), int):
        out.append(f"Last successful match for this autocluster: "
                   f"{ctime(ac['LastMatchTime'], localtime)}\n")
    running, completed = ac.get("NumRunning"), ac.get("NumCompleted")
    if isinstance(running, int) or isinstance(completed, int):
        out.append(f"This autocluster currently has {running if isinstance(running, int) else 0} running")
        if isinstance(completed, int) and completed and not isinstance(running, int):
            out.append(f" and {completed} completed")
        out.append(" jobs.\n")
    return "".join(out)


def analyze_job(job, slots: list, better: bool = True, autoclusters: dict | None = None,
                now: int | None = None, localtime: Callable = time.localtime) -> str:
    """The analysis of one job against these slot ads."""
    now = int(time.time()) if now is None else now
    cluster, proc = _int(job, "ClusterId"), _int(job, "ProcId")
    if _str(job, "Owner") is None:
        status, counts, tried, needs = "Nothing here.", Counts(), [], False
    else:
        status = job_status_text(job, now)
        if _int(job, "JobUniverse") in (7, 12):
            counts, tried, needs = Counts(), [], False
        else:
            counts, tried, needs = run_analysis(job, slots)
    out = []
    if better or needs:
        out.append(requirements_report(job, tried, f"{cluster}.{proc:03d}") + "\n")
    if counts.slots > 0:
        out.append(totals_text(counts, cluster, proc))
    out.append("\n")
    out.append(match_history(job, status, autoclusters or {}, localtime))
    return "".join(out)


def source_label(schedd_name: str, schedd_address: str) -> str:
    short = schedd_address.split("?", 1)[0] + "?..." if "?" in schedd_address else schedd_address
    return f"Schedd: {schedd_name} : {short}"


def analyze_jobs(jobs: list, slots: list, schedd_name: str, schedd_address: str,
                 better: bool = True, autoclusters: dict | None = None, now: int | None = None,
                 localtime: Callable = time.localtime) -> str:
    """condor_q's whole ``-analyze`` output for the jobs of one schedd."""
    out = [f"\n\n-- {source_label(schedd_name, schedd_address)}\n"]
    for job in jobs:
        out.append(analyze_job(job, slots, better, autoclusters, now, localtime))
    return "".join(out)


# ------------------------------------------------------------------------------ :summary
SUMMARY_ROW = "{:<13} {:>12} {:>12} {:>11} {:>11} {:>10} {:>9} {}\n"


def summary_groups(jobs: list) -> list[tuple[int, list]]:
    """The jobs by AutoClusterId, in id order; jobs without one (id -1) come first."""
    groups: dict[int, list] = {}
    for job in jobs:
        acid = job.get("AutoClusterId")
        groups.setdefault(acid if isinstance(acid, int) and not isinstance(acid, bool) else -1,
                          []).append(job)
    return sorted(groups.items())


def summary_text(jobs: list, slots: list, schedd_name: str, schedd_address: str) -> str:
    """``-analyze:summary``: a line per autocluster (per job, for jobs without one): its
    members and idle jobs, the slots its first job's Requirements match, the slots that
    reject it, the slots running its user's jobs (after its own running jobs), others'
    jobs, and the slots available now, with the owner."""
    out = [f"\n\n-- {source_label(schedd_name, schedd_address)}\n",
           f"Analyzing matches for {len(slots)} slots\n",
           SUMMARY_ROW.format("", " Autocluster", "   Matches  ", "  Machine  ", "  Running  ",
                              "  Serving ", "", ""),
           SUMMARY_ROW.format(" JobId", "Members/Idle", "Requirements", "Rejects Job", " Users Job ",
                              "Other User", "Available", "Owner"),
           SUMMARY_ROW.format("-------------", "------------", "------------", "-----------",
                              "-----------", "----------", "---------", "-----")]
    for acid, members in summary_groups(jobs):
        for job in (members if acid == -1 else members[:1]):
            counted = [job] if acid == -1 else members
            idle = sum(1 for j in counted if _int(j, "JobStatus") == 1)
            running = sum(1 for j in counted if _int(j, "JobStatus") in (2, 6, 7))
            c, _, _ = run_analysis(job, slots)
            group = f"{len(counted)}/{idle}" if acid >= 0 else ""
            users = (f"{running}/" if running else "") + str(c.running_yours)
            out.append(f"{_int(job, 'ClusterId')}.{_int(job, 'ProcId')}".ljust(13) + " "
                       + f"{group:<12} {c.slots - c.rejected_by_job:>12} {c.reject_job:>11} "
                       f"{users:>11} {c.running_jobs - c.running_yours:>10} {c.available:>9} "
                       f"{_str(job, 'Owner') or ''}\n")
    return "".join(out)


def autoclusters_of(summary) -> dict:
    """The per-autocluster match records in a query summary's ``Analyze`` ad, by id."""
    out: dict = {}
    sub = summary.get("Analyze") if summary is not None else None
    if isinstance(sub, classad2.ClassAd):
        for _, ad in sub.items():
            if isinstance(ad, classad2.ClassAd) and isinstance(ad.get("AutoClusterId"), int):
                out[ad["AutoClusterId"]] = ad
    return out
