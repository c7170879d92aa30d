"""What every command-line tool shares: how it fails (one message, an exit code, never a
traceback), how it finds the schedd through the client library, and how it prints a list of
ClassAds for ``-af``/``-autoformat``, ``-format``, ``-long``, ``-json`` and ``-xml``.

The printing functions are pure: they take ads (``classad2.ClassAd``) and return text, so they
can be checked against what the real tools printed without a pool.  Time-dependent renderings
take the time as an argument.
"""
from __future__ import annotations

import getpass
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

import classad2
import htcondor2

# ------------------------------------------------------------------------------ errors
SCHEDD_NOT_FOUND_EXTRA = (
    "\n"
    "Extra Info: You probably saw this error because the condor_schedd is not \n"
    "running on the machine you are trying to query. If the condor_schedd is not \n"
    "running, the Condor system will not be able to find an address and port to \n"
    "connect to and satisfy this request. Please make sure the Condor daemons are \n"
    "running and try again.\n"
    " \n"
    "Extra Info: If the condor_schedd is running on the machine you are trying to \n"
    "query and you still see the error, the most likely cause is that you have \n"
    "setup a personal Condor, you have not defined SCHEDD_NAME in your \n"
    "condor_config file, and something is wrong with your SCHEDD_ADDRESS_FILE \n"
    "setting. You must define either or both of those settings in your config \n"
    "file, or you must use the -name option to {tool}. Please see the Condor \n"
    "manual for details on SCHEDD_NAME and SCHEDD_ADDRESS_FILE. \n"
)
UNKNOWN_HOST_EXTRA = (
    "Extra Info: The name given with the -name should be the name of a \n"
    "condor_schedd process. Normally it is either a hostname, or \"name@hostname\". \n"
    "In either case, the hostname should be the Internet host name, but it appears \n"
    "that it wasn't. \n"
)


class ToolError(Exception):
    """A failure the user sees as text: ``stderr`` (and optionally ``stdout``) then ``rc``.

    Every tool stops this one way.  A tool that collects its output in an :class:`Output`
    may write its message there first and raise :class:`Exit`, which carries no text."""

    def __init__(self, stderr: str = "", rc: int = 1, stdout: str = ""):
        super().__init__(stderr)
        self.stderr = stderr
        self.stdout = stdout
        self.rc = rc


class Exit(ToolError):
    """Stop the tool now with what has been collected, and this exit code."""

    def __init__(self, rc: int = 1):
        super().__init__("", rc)


def run_tool(body: Callable[[list[str]], int], argv: Sequence[str] | None) -> int:
    """Run a tool's body that prints as it goes: :func:`run_collected` with an unexpected
    error worded ``Error: ...``."""
    return run_collected(None, lambda args, _out: body(args), argv)


class ArgCursor:
    """A tool's arguments walked one at a time, the way HTCondor's option loops walk
    ``argv``: iterate for the current word; :meth:`take` the word after it as an option's
    value (or fail with the tool's own text), :meth:`peek` at it without taking it, or
    :meth:`rest` for everything left."""

    def __init__(self, argv: Sequence[str]):
        self.args = list(argv)
        self.index = -1

    def __iter__(self):
        while self.index + 1 < len(self.args):
            self.index += 1
            yield self.args[self.index]

    def __len__(self) -> int:
        return len(self.args)

    def peek(self, ahead: int = 1) -> str | None:
        """The word ``ahead`` places after the current one, not taken; None past the end."""
        j = self.index + ahead
        return self.args[j] if j < len(self.args) else None

    def take(self, error: str | None = None, accept: Callable[[str], bool] | None = None) -> str | None:
        """Take the next word as the current option's value.  When there is none, or
        ``accept`` refuses it (it is then left for the loop), raise :class:`ToolError`
        with ``error`` and a newline, or return None when ``error`` is None."""
        nxt = self.peek()
        if nxt is None or (accept is not None and not accept(nxt)):
            if error is None:
                return None
            raise ToolError(error + "\n")
        self.index += 1
        return nxt

    def rest(self) -> list[str]:
        """Every word after the current one, all taken."""
        words = self.args[self.index + 1:]
        self.index = len(self.args) - 1
        return words


def not_dashed(word: str) -> bool:
    """For :meth:`ArgCursor.take`: a value is any word that does not start with ``-``."""
    return not word.startswith("-")


def not_an_option(word: str) -> bool:
    """For :meth:`ArgCursor.take`: a value, not the next option (``-`` alone is a value)."""
    return word == "-" or not word.startswith("-")


def is_option(arg: str, name: str, least: int = 2) -> bool:
    """HTCondor's option match with an optional ``:tail`` (``-cons`` for ``-constraint``,
    ``-af:h`` for ``-af``): :func:`is_dash_arg_colon_prefix`."""
    return is_dash_arg_colon_prefix(arg, name, least)[0]


# ------------------------------------------------------------------------------ locating
def local_host_name() -> str:
    import htcondor2
    return htcondor2.param.get("FULL_HOSTNAME") or htcondor2.param.get("HOSTNAME") or \
        os.uname().nodename


def locate_schedd(name: str | None = None, pool: str | None = None, tool: str = "condor_q"):
    """The schedd's location ad from the collector (``Collector().locate``), as condor_q
    does it; failures raise :class:`ToolError` with the texts the real tool prints."""
    import htcondor2
    if name is not None and "@" not in name and "." not in name:
        raise ToolError(f"Error: unknown host {name}\n{UNKNOWN_HOST_EXTRA}", stdout="\n")
    try:
        coll = htcondor2.Collector(pool) if pool else htcondor2.Collector()
        ad = coll.locate(htcondor2.DaemonType.Schedd, name) if name else \
            coll.locate(htcondor2.DaemonType.Schedd)
    except Exception:
        ad = None
    if ad is None:
        if name is not None:
            raise ToolError("Error: Collector has no record of schedd/submitter\n")
        raise ToolError(f"Error: Can't find address for schedd {local_host_name()}\n"
                        + SCHEDD_NOT_FOUND_EXTRA.format(tool=tool))
    return ad


def schedd_for(location):
    import htcondor2
    return htcondor2.Schedd(location)


def constraint_ok(text: str) -> bool:
    """Whether ``text`` parses as a ClassAd expression."""
    try:
        classad2.ExprTree(text)
    except Exception:
        return False
    return True


# ------------------------------------------------------------------------------ values
def evaluate(ad, attr_or_expr: str):
    """The value of an attribute, or of an expression over the ad; ``classad2.Value.Undefined``
    when it has none and ``Error`` when it cannot be evaluated."""
    if attr_or_expr in ad:
        try:
            return ad.eval(attr_or_expr)
        except Exception:
            return classad2.Value.Error
    try:
        return ad.eval(attr_or_expr) if attr_or_expr.isidentifier() else \
            classad2.ExprTree(attr_or_expr).eval(ad)
    except Exception:
        try:
            return classad2.ExprTree(attr_or_expr).eval(ad)
        except Exception:
            return classad2.Value.Error


def is_undefined(v) -> bool:
    return v is classad2.Value.Undefined or (isinstance(v, classad2.Value) and
                                             v == classad2.Value.Undefined)


def unparse_value(v) -> str:
    """A value as ClassAd text (strings quoted), as ``-af:V`` and ``-long`` show it."""
    if isinstance(v, classad2.Value):
        return "undefined" if v == classad2.Value.Undefined else "error"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return format_real(v)
    if isinstance(v, (int, str)):
        return str(classad2.ExprTree(classad2.quote(v) if isinstance(v, str) else str(v)))
    return str(v)


def repr_number(v) -> str:
    return str(v) if isinstance(v, int) else format_real(v)


def format_real(v: float) -> str:
    """A real as the ClassAd library prints it in the old syntax (``printOld``, ``-long``,
    ``-af``): ``%.16G`` with a ``.0`` when it looks whole."""
    s = "%.16G" % v
    if "." not in s and "E" not in s and "INF" not in s and "NAN" not in s:
        s += ".0"
    return s


def plain_value(v) -> str:
    """A value as ``-af`` shows it: strings bare, the rest as ClassAd text."""
    if isinstance(v, str):
        return v
    if isinstance(v, classad2.ExprTree):
        return str(v)
    return unparse_value(v)


# ------------------------------------------------------------------------------ -af
@dataclass
class AutoFormat:
    """``-af[:opts] attr...``: ``h`` headings, ``j`` job id first, ``l`` ``name = value``,
    ``r``/``o`` raw expressions, ``V`` ClassAd values, ``,`` / ``t`` / ``n`` separators."""
    attrs: list[str] = field(default_factory=list)
    headings: bool = False
    jobid: bool = False
    labels: bool = False
    raw: bool = False
    quoted: bool = False
    sep: str = " "
    end: str = "\n"
    streaming: bool = False      # widths grow row by row (condor_history), not from all rows

    @classmethod
    def from_option(cls, option: str) -> "AutoFormat":
        """HTCondor's separators: a space before each column but the first (a tab for
        ``t``, nothing for ``g``), and ``,`` or a newline after each column but the last
        (``,`` / ``n``); so ``-af:,`` prints ``a, b`` and ``-af:n`` ``a\\n b``."""
        af = cls()
        opts = option.split(":", 1)[1] if ":" in option else ""
        pre, suffix = " ", ""
        for ch in opts:
            if ch == "h":
                af.headings = True
            elif ch == "j":
                af.jobid = True
            elif ch == "l":
                af.labels = True
            elif ch in "ro":
                af.raw = True
            elif ch == "V":
                af.quoted = True
            elif ch == ",":
                suffix = ","
            elif ch == "n":
                suffix = "\n"
            elif ch == "t":
                pre = "\t"
            elif ch == "g":
                pre = ""
        af.sep, af.end = suffix + pre, "\n"
        return af

    def cell(self, ad, attr: str) -> str:
        if self.raw:
            expr = ad.lookup(attr) if attr in ad else None
            if expr is not None:
                return str(expr)
        v = evaluate(ad, attr)
        return unparse_value(v) if self.quoted else plain_value(v)

    def render(self, ads: Iterable) -> str:
        rows = []
        for ad in ads:
            cells = [self.cell(ad, a) for a in self.attrs]
            if self.jobid:
                cells.insert(0, f"{ad.get('ClusterId')}.{ad.get('ProcId')}")
            rows.append(cells)
        names = (["ID"] if self.jobid else []) + list(self.attrs)
        if self.labels:
            return "".join(self.sep.join(f"{n} = {c}" for n, c in zip(names, r)) + self.end
                           for r in rows)
        if not self.headings:
            return "".join(self.sep.join(r) + self.end for r in rows)
        if self.streaming:
            widths = [len(n) for n in names]
            out = [self.sep.join(names) + self.end]
            for r in rows:
                widths = [max(w, len(c)) for w, c in zip(widths, r)]
                out.append(self.sep.join(c.ljust(w) for c, w in zip(r, widths)) + self.end)
            return "".join(out)
        widths = [max([len(n)] + [len(r[i]) for r in rows]) for i, n in enumerate(names)]
        out = [self.sep.join(n.ljust(w) for n, w in zip(names, widths)).rstrip() + self.end]
        out += [self.sep.join(c.ljust(w) for c, w in zip(r, widths)) + self.end for r in rows]
        return "".join(out)


def autoformat_from(cursor: ArgCursor, option: str) -> AutoFormat:
    """``-af[:opts]`` (the cursor's current word, ``option``) and the attributes after it,
    taken up to the next option."""
    af = AutoFormat.from_option(option)
    while (attr := cursor.take(accept=not_dashed)) is not None:
        af.attrs.append(attr)
    return af


# ------------------------------------------------------------------------------ -format
def printf_one(fmt: str, v) -> str:
    """One ``-format`` item: a printf conversion applied to a ClassAd value."""
    import re
    m = re.search(r"%[-+ #0]*\d*(?:\.\d+)?([a-zA-Z])", fmt)
    if m is None:
        return fmt.replace("%%", "%")
    conv = m.group(1)
    spec = m.group(0)
    try:
        if conv in "di":
            arg = int(v) if not isinstance(v, (str, classad2.Value)) else None
            if arg is None:
                return ""
            text = spec[:-1].replace("l", "") + "d"
            return fmt[:m.start()] + (text % arg) + fmt[m.end():]
        if conv in "feEgG":
            if isinstance(v, (str, classad2.Value)):
                return ""
            return fmt[:m.start()] + (spec % float(v)) + fmt[m.end():]
        if conv == "s":
            text = plain_value(v) if not isinstance(v, classad2.Value) else unparse_value(v)
            return fmt[:m.start()] + (spec % text) + fmt[m.end():]
        if conv == "V":
            return fmt[:m.start()] + unparse_value(v) + fmt[m.end():]
    except (TypeError, ValueError):
        return ""
    return fmt


def render_format(ads: Iterable, pairs: list[tuple[str, str]]) -> str:
    """``-format FMT ATTR ...`` for each ad, concatenated (newlines only where the user
    wrote them)."""
    out = []
    for ad in ads:
        for fmt, attr in pairs:
            out.append(printf_one(fmt, evaluate(ad, attr)))
    return "".join(out)


# ------------------------------------------------------------------------------ -long/-json/-xml
def sorted_attrs(ad) -> list[str]:
    return sorted(ad.keys(), key=lambda k: k.lower())


def long_ad(ad) -> str:
    """An ad's ``name = expr`` lines (the old ClassAd syntax), in name order."""
    lines = ad.printOld().splitlines()
    return "".join(line + "\n" for line in sorted(lines, key=lambda l: l.split(" = ", 1)[0].lower()))


def render_long(ads: Iterable) -> str:
    """``-long``: each ad's ``name = expr`` lines in name order, then a blank line."""
    return "".join(long_ad(ad) + "\n" for ad in ads)


def json_ad(ad) -> str:
    lines = []
    for k in sorted_attrs(ad):
        one = classad2.ClassAd()
        one[k] = ad.lookup(k)
        text = one.printJson().strip()
        lines.append(text[1:-1].strip("\n"))
    return "{\n" + ",\n".join(lines) + "\n}"


def render_json(ads: Iterable) -> str:
    """``-json``: a JSON list of the ads (attributes in name order); nothing for no ads."""
    ads = list(ads)
    if not ads:
        return ""
    return "[\n" + "\n,\n".join(json_ad(a) for a in ads) + "\n]\n"


def _xml_escape(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _xml_value(expr) -> str:
    try:
        v = expr.eval() if expr.__class__.__name__ == "ExprTree" else expr
    except Exception:
        v = None
    text = str(expr)
    literal = text in ("true", "false", "undefined", "error") or text[:1] in '"-0123456789'
    if not literal:
        return f"<e>{_xml_escape(_compact_expr(expr))}</e>"
    if isinstance(v, classad2.Value):
        return "<un/>" if v == classad2.Value.Undefined else "<er/>"
    if isinstance(v, bool):
        return f'<b v="{"t" if v else "f"}"/>'
    if isinstance(v, int):
        return f"<i>{v}</i>"
    if isinstance(v, float):
        return f"<r>{format_real(v)}</r>"
    if isinstance(v, str):
        return f"<s>{_xml_escape(v)}</s>"
    if text == "undefined":
        return "<un/>"
    return f"<e>{_xml_escape(text)}</e>"


def _compact_expr(expr) -> str:
    """An expression on one line with reals spelled ``%.15E``, as the JSON and XML writers
    of the ClassAd library print it."""
    import json
    one = classad2.ClassAd()
    one["X"] = expr
    value = json.loads(one.printJson())["X"]
    if isinstance(value, str) and value.startswith("/Expr(") and value.endswith(")/"):
        return value[6:-2]
    return str(expr)


def render_xml(ads: Iterable, spaced: bool = False) -> str:
    """``-xml``: the ads as HTCondor's ClassAd XML (``spaced``: a blank line after the
    opening and closing tags, as condor_history writes it)."""
    gap = "\n" if spaced else ""
    out = ['<?xml version="1.0"?>\n<!DOCTYPE classads SYSTEM "classads.dtd">\n<classads>\n' + gap]
    for ad in ads:
        out.append("<c>\n")
        for k in sorted_attrs(ad):
            out.append(f'    <a n="{k}">{_xml_value(ad.lookup(k))}</a>\n')
        out.append("</c>\n")
    out.append("</classads>\n" + gap)
    return "".join(out)


# ------------------------------------------------------------------------------ job renderings
STATUS_CHAR = {1: "I", 2: "R", 3: "X", 4: "C", 5: "H", 6: ">", 7: "S"}


def format_date(t: int) -> str:
    """The real ``format_date``: month and day unpadded, in local time, as the QDATE and
    DATE columns print it (``12/6  05:40``, `` 1/15 09:03``)."""
    if t < 0:
        return "    ???    "
    tm = time.localtime(t)
    return f"{tm.tm_mon:2d}/{tm.tm_mday:<2d} {tm.tm_hour:02d}:{tm.tm_min:02d}"


def qdate(t) -> str:
    """The SUBMITTED/COMPLETED columns: :func:`format_date`, or nothing without a time."""
    if not isinstance(t, (int, float)) or isinstance(t, bool) or t <= 0:
        return ""
    return format_date(int(t))


def duration(secs) -> str:
    """``D+HH:MM:SS``."""
    s = int(secs) if isinstance(secs, (int, float)) and not isinstance(secs, bool) else 0
    s = max(s, 0)
    return f"{s // 86400}+{s % 86400 // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def job_description(ad) -> str:
    """CMD: the executable's base name and its arguments (or the batch/description)."""
    desc = ad.get("MATCH_EXP_JobDescription") or ad.get("JobDescription")
    if isinstance(desc, str):
        return desc
    cmd = ad.get("Cmd")
    cmd = os.path.basename(cmd) if isinstance(cmd, str) else ""
    args = ad.get("Args")
    if not isinstance(args, str):
        args = ad.get("Arguments")
    if isinstance(args, str) and args:
        return f"{cmd} {args}"
    return cmd


def now_from(ads: Sequence, default: float | None = None) -> int:
    """The schedd's idea of now (``ServerTime`` of an ad), else the local clock."""
    for ad in ads:
        t = ad.get("ServerTime")
        if isinstance(t, int):
            return t
    return int(default if default is not None else time.time())


def ad_output_option(o, cursor: ArgCursor, option: str, errors: dict) -> bool:
    """The options condor_q and condor_history share for printing ads: ``-long``, ``-json``,
    ``-xml``, ``-attributes LIST``, ``-format FMT ATTR`` and ``-af[:opts] ATTR...``.  Sets
    ``o.view`` (and ``o.attributes``, ``o.formats``, ``o.af``), taking the option's values from
    the cursor; returns False when ``option`` (the cursor's current word) is none of them.
    ``errors`` holds each tool's own texts for ``attributes``, ``format`` and ``autoformat``
    (``{arg}`` is the option)."""
    a = option
    if is_option(a, "long", 1):
        o.view = "long"
    elif is_option(a, "json", 2):
        o.view = "json"
    elif is_option(a, "xml", 2):
        o.view = "xml"
    elif is_option(a, "attributes", 2):
        names = cursor.take(errors["attributes"])
        o.attributes += [n for n in names.replace(",", " ").split() if n]
    elif is_option(a, "format", 2):
        if cursor.peek(2) is None:
            raise ToolError(errors["format"] + "\n")
        o.formats.append((cursor.take(), cursor.take()))
        o.view = "format"
    elif is_option(a, "autoformat", 5) or is_option(a, "af", 2):
        af = autoformat_from(cursor, a)
        if not af.attrs:
            raise ToolError(errors["autoformat"].format(arg=a) + "\n")
        o.af, o.view = af, "af"
    else:
        return False
    return True

def restriction(arg: str) -> str:
    """A cluster, cluster.proc or owner argument of condor_q or condor_history, as a
    constraint."""
    head, dot, tail = arg.partition(".")
    if head.isdigit() and not dot:
        return f"(ClusterId == {int(head)})"
    if head.isdigit() and tail.isdigit():
        return f"(ClusterId == {int(head)} && ProcId == {int(tail)})"
    return f'(Owner == "{arg}")'


# ------------------------------------------------------------------------------ output and option words
# A tool either prints as it goes (run by :func:`run_tool`) or collects what it prints in an
# :class:`Output` (pure code fills it; :func:`emit` writes it; run by :func:`run_collected`).
# Both stop with a :class:`ToolError`.  Options are matched as match_prefix.cpp matches them
# (``is_option`` above is the condor_q/condor_history flavour: it also accepts ``:options``).

@dataclass
class Output:
    """What a tool prints and how it exits; filled by pure code, written out by :func:`emit`."""
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    rc: int = 0

    def out(self, text: str) -> None:
        self.stdout.append(text)

    def err(self, text: str) -> None:
        self.stderr.append(text)


def is_arg_prefix(arg: str, name: str, least: int = 0) -> bool:
    """``is_arg_prefix`` (match_prefix.cpp): ``arg`` is a leading part of ``name``, at least
    ``least`` characters of it (``-1``: all of it)."""
    return is_arg_colon_prefix(arg, name, least, colon=False)[0]


def is_arg_colon_prefix(arg: str, name: str, least: int = 0, *, colon: bool = True) -> tuple[bool, str | None]:
    """``is_arg_colon_prefix``: as :func:`is_arg_prefix`, where a ``:`` ends the word; the
    text after it is returned (None without a colon)."""
    head, sep, tail = arg.partition(":") if colon else (arg, "", "")
    if not name or not head or head[0] != name[0] or not name.startswith(head):
        return False, None
    if least < 0 and head != name:
        return False, None
    return len(head) >= least, (tail if sep else None)


def is_dash_arg_prefix(arg: str, name: str, least: int = 0) -> bool:
    """``is_dash_arg_prefix``: ``-`` and a leading part of ``name`` (at least ``least``
    characters); after ``--`` the whole name."""
    return is_dash_arg_colon_prefix(arg, name, least, colon=False)[0]


def is_dash_arg_colon_prefix(arg: str, name: str, least: int = 0, *, colon: bool = True) -> tuple[bool, str | None]:
    """``is_dash_arg_colon_prefix``: as :func:`is_dash_arg_prefix` with an optional
    ``:options`` tail, which is returned."""
    if not arg.startswith("-"):
        return False, None
    word = arg[1:]
    if word.startswith("-"):
        word, least = word[1:], -1
    return is_arg_colon_prefix(word, name, least, colon=colon)


def user_name() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"


def schedd_location(name: str | None = None, pool: str | None = None):
    """The schedd's location ad (by name through the collector, else the local one), or None
    (the job-changing tools word their own "can't find" messages)."""
    try:
        collector = htcondor2.Collector(pool) if pool else htcondor2.Collector()
        if name:
            return collector.locate(htcondor2.DaemonType.Schedd, name)
        return collector.locate(htcondor2.DaemonType.Schedd)
    except Exception:
        return None


def schedd_short_name(name: str | None) -> str:
    """The name the real tools print for a schedd they could not find."""
    if name:
        return name
    try:
        return htcondor2.param.get("SCHEDD_NAME") or htcondor2.param.get("FULL_HOSTNAME") or "local"
    except Exception:
        return "local"


def old_ad_lines(ad: classad2.ClassAd) -> list[str]:
    """``Name = value`` lines of ``ad`` in the old syntax, sorted by name like ``fPrintAd``."""
    text = ad.printOld()
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return sorted(lines, key=lambda ln: ln.split(" = ", 1)[0])


def is_queue_super_user(user: str) -> bool:
    """Whether QUEUE_SUPER_USERS names ``user`` (bare or user@domain)."""
    try:
        raw = htcondor2.param.get("QUEUE_SUPER_USERS") or ""
    except Exception:
        raw = ""
    names = {n.strip() for n in raw.replace(",", " ").split()}
    return user in names or user.split("@", 1)[0] in names


def param_list(name: str) -> list[str]:
    try:
        raw = htcondor2.param.get(name) or ""
    except Exception:
        raw = ""
    return [n.strip() for n in raw.replace(",", " ").split() if n.strip()]


def emit(out: Output) -> int:
    """Write what the tool collected; stdout first, then stderr (each flushed)."""
    if out.stdout:
        sys.stdout.write("".join(out.stdout))
        sys.stdout.flush()
    if out.stderr:
        sys.stderr.write("".join(out.stderr))
        sys.stderr.flush()
    return out.rc


def run_collected(name: str | None, body: Callable[[list[str], Output], int | None],
                  argv: Sequence[str] | None = None) -> int:
    """Run a tool's ``body(args, out)`` and write what it collected, then the text of the
    :class:`ToolError` (or :class:`Exit`) that stopped it; return the exit code.  An
    unexpected error becomes one line, ``name: ...`` (``Error: ...`` without a name), never
    a traceback; a closed stdout is not an error."""
    args = list(sys.argv[1:] if argv is None else argv)
    out = Output()
    try:
        rc = body(args, out)
        if rc is not None:
            out.rc = rc
    except ToolError as e:
        out.out(e.stdout)
        out.err(e.stderr)
        out.rc = e.rc
    except KeyboardInterrupt:
        out.rc = 130
    except BrokenPipeError:
        out.rc = 0
    except Exception as e:                    # no traceback ever reaches the user
        sys.stdout.flush()
        out.err(f"{name}: {str(e).strip() or type(e).__name__}\n" if name else f"Error: {e}\n")
        out.rc = 1
    try:
        return emit(out)
    except BrokenPipeError:
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return out.rc


def main_exit(name: str, body, argv=None) -> None:
    sys.exit(run_collected(name, body, argv))
