"""condor_submit: submit jobs described in the submit language through ``htcondor2``.

The submit description is parsed by the real bindings (``htcondor2.Submit``), never here:
command-line ``name=value`` words go before the file, ``-append`` lines and ``-batch-name``
after it (so they win), ``-queue`` replaces the QUEUE arguments.  What is printed, and the
exit code, follow the real tool: the "Submitting job(s)" line with one dot per job, the
summary and the condor_watch_q hint, ``-terse`` job ranges, ``-verbose`` (and reading the
file from ``-``) printing each job's ad, and the error texts.

``-dry-run`` and ``-dump`` need job ads built without a schedd, which the bindings cannot
do (``Submit.jobs`` is not implemented): the bindings submit to a private queue that
records what they send instead (``submit_dryrun``).  The bindings report neither the line
of a syntax error nor a missing executable, so those two are found here by re-parsing
prefixes of the file with the bindings and by looking for the executable.

``-maxjobs N`` refuses a submit that would make more than N jobs.  The real tool stops
before the job past the limit and aborts its transaction; here the jobs are counted first
(the bindings send the description to the recording queue of ``submit_dryrun``) and
nothing reaches the schedd, while stdout and stderr show what the real tool printed.
"""
from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from typing import Sequence

import classad2
import htcondor2

from ..jobqueue.factory import LIMIT_COMMANDS, empty_commands
from .submit_dryrun import (DRY_RUN_OWNER, Recorded, dry_run_output, hash_dump, header,
                            proc_blocks, record_submit, render_stream, verbose_output)
from .common import (ArgCursor, Exit, Output, is_dash_arg_colon_prefix, is_dash_arg_prefix,
                     not_an_option, not_dashed, schedd_location, main_exit, old_ad_lines)

NAME = "condor_submit"
SUBMIT_METHOD_CONDOR_SUBMIT = 0
UNSUPPORTED = {
    "dry-run-opts": "-dry-run:<opts> is not supported by this condor_submit",
    "interactive": "-interactive is not supported by this condor_submit",
    "capabilities": "-capabilities is not supported by this condor_submit",
}
NO_SUBMIT_FILE = (
    "\nERROR: No submit filename was provided, and '{name}'\n"
    "  was given as the output filename for -dump or -dry-run. Was this intended?\n"
    "  To to avoid confusing the output file with the submit file when using these\n"
    "  commands, an explicit submit filename argument must be given. You can use -\n"
    "  as the submit filename argument to read from stdin.\n")
QUEUE_STATEMENT = re.compile(r"^\s*(queue|iterate)(\s|$)", re.IGNORECASE)

USAGE = (
    'Usage: condor_submit [options] [<attrib>=<value>] [- | <submit-file>]\n'
    '    [options] are\n'
    '\t-file <submit-file>\tRead Submit commands from <submit-file>\n'
    '\t-terse  \t\tDisplay terse output, jobid ranges only\n'
    '\t-verbose\t\tDisplay verbose output, jobid and full job ClassAd\n'
    '\t-capabilities\t\tDisplay configured capabilities of the schedd\n'
    '\t-debug  \t\tDisplay debugging output\n'
    '\t-append <line>\t\tadd line to submit file before processing\n'
    '\t              \t\t(overrides submit file; multiple -a lines ok)\n'
    '\t-queue <queue-opts>\tappend Queue statement to submit file before processing\n'
    '\t                   \t(submit file must not already have a Queue or Iterate)\n'
    '\t-batch-name <name>\tappend a line to submit file that sets the batch name\n'
    '\t-disable\t\tdisable file permission checks\n'
    '\t-dry-run <filename>\tprocess submit file and write ClassAd attributes to <filename>\n'
    '\t        \t\tbut do not actually submit the job(s) to the SCHEDD\n'
    '\t-maxjobs <maxjobs>\tDo not submit if number of jobs would exceed <maxjobs>.\n'
    '\t-single-cluster\t\tDo not submit if more than one ClusterId is needed.\n'
    '\t-unused\t\t\ttoggles unused or unexpanded macro warnings\n'
    '\t       \t\t\t(overrides config file; multiple -u flags ok)\n'
    '\t-allow-crlf-script\tAllow submitting #! executable script with DOS/CRLF line endings\n'
    '\t-dump <filename>\tWrite job ClassAds to <filename> instead of\n'
    '\t                \tsubmitting to a schedd.\n'
    '\t-interactive\t\tsubmit an interactive session job\n'
    '\t-factory\t\tSubmit a late materialization job factory\n'
    '\t-name <name>\t\tsubmit to the specified schedd\n'
    '\t-remote <name>\t\tsubmit to the specified remote schedd\n'
    '\t              \t\t(implies -spool)\n'
    '\t-addr <ip:port>\t\tsubmit to schedd at given "sinful string"\n'
    '\t-spool\t\t\tspool all files to the schedd\n'
    '\t-pool <host>\t\tUse host as the central manager to query\n'
    '\t<attrib>=<value>\tSet <attrib>=<value> before reading the submit file.\n'
    '\n'
    '    If <submit-file> is omitted or is -, and a -queue is not provided, submit commands\n'
    '     are read from stdin. Use of - implies verbose output unless -terse is specified\n'
)


@dataclass
class Options:
    verbose: bool = False
    terse: bool = False
    cmd_file: str | None = None
    append: list[str] = field(default_factory=list)
    queue_line: str = ""
    batch_name: str = ""
    batch_id: str = ""
    name: str | None = None
    pool: str | None = None
    addr: str | None = None
    cmdline_vars: list[tuple[str, str]] = field(default_factory=list)
    unsupported: str | None = None
    spool: bool = False                 # -spool / -remote: submit held, then send the files
    dry_run: str | None = None          # -dry-run FILE ("-" is stdout)
    dump: str | None = None             # -dump FILE ("-" is stdout)
    maxjobs: int = 0                    # -maxjobs N: refuse more than N jobs (0 or -1: no limit)
    factory: bool = False               # -factory: the schedd materializes the jobs (late)
    digest: str | None = None           # -digest FILE: a factory's submit digest, kept there
    dry_run_full: bool = False          # -dry-run:full: each job's whole ad after the summary
    dry_run_hash: bool = False          # -dry-run:hash: the submit hash before the stream

    @property
    def from_stdin(self) -> bool:
        return self.cmd_file == "-"


class NoQueue(Exception):
    """The description has no QUEUE statement."""


class ParseError(Exception):
    """A submit description the bindings refused: where, and the message to show."""

    def __init__(self, line: int, source: str, message: str):
        super().__init__(message)
        self.line, self.source, self.message = line, source, message


def _needs(cursor: ArgCursor, opt: str, out: Output, cond=lambda v: True) -> str:
    value = cursor.take(accept=lambda v: bool(v) and cond(v))
    if value is None:
        out.err(f"{NAME}: -{opt} requires another argument\n")
        raise Exit(1)
    return value


def parse_args(argv: Sequence[str], out: Output) -> Options:
    """condor_submit's options, in the real tool's order of matching."""
    o = Options()
    cursor = ArgCursor(argv)
    for a in cursor:
        if a.startswith("-") and a != "-":
            if is_dash_arg_prefix(a, "verbose", 1):
                o.verbose, o.terse = True, False
            elif is_dash_arg_prefix(a, "terse", 3):
                o.terse, o.verbose = True, False
            elif is_dash_arg_prefix(a, "disable", 3):
                pass
            elif is_dash_arg_colon_prefix(a, "debug", 2)[0]:
                pass
            elif is_dash_arg_colon_prefix(a, "dry-run", 3)[0]:
                for opt in filter(None, (is_dash_arg_colon_prefix(a, "dry-run", 3)[1] or "").split(",")):
                    if opt == "full":
                        o.dry_run_full = True
                    elif opt == "hash":
                        o.dry_run_hash = True
                    elif opt in DRY_RUN_OPTIONS or opt.startswith(("template", "cluster=", "oauth=")) \
                            or _atoi(opt) > 1:
                        o.unsupported = o.unsupported or UNSUPPORTED["dry-run-opts"]
                    else:
                        out.err(f"unknown option {opt} for -dry-run:<opts>\n")
                        raise Exit(1)
                if o.dump is not None:
                    out.err(f"{NAME}: -dry-run <file> and -dump <file> cannot be used together\n")
                    raise Exit(1)
                o.dry_run = _needs(cursor, "dry-run", out, not_an_option)
            elif is_dash_arg_prefix(a, "spool", 1):
                o.spool = True
            elif is_dash_arg_prefix(a, "file", 2):
                o.cmd_file = _needs(cursor, "file", out)
            elif is_dash_arg_prefix(a, "digest", 6):
                o.digest = cursor.take()
                if not o.digest or o.digest.startswith("-"):
                    out.err(f"{NAME}: -digest requires a filename argument that is not -\n")
                    raise Exit(1)
            elif is_dash_arg_prefix(a, "factory", 2) or is_dash_arg_prefix(a, "generator", 1):
                o.factory = True
            elif is_dash_arg_prefix(a, "address", 2):
                v = _needs(cursor, "address", out)
                if not re.match(r"^<[^<>]+>$", v):
                    out.err(f'{NAME}: "{v}" is not a valid address\nShould be of the form '
                            "<ip:port>\nFor example: <123.456.789.123:6789>\n")
                    raise Exit(1)
                o.addr = v
            elif is_dash_arg_prefix(a, "remote", 1):
                o.name = _needs(cursor, "remote", out)
                o.spool = True
            elif is_dash_arg_prefix(a, "name", 1):
                o.name = _needs(cursor, "name", out)
            elif is_dash_arg_prefix(a, "append", 1):
                line = _needs(cursor, "append", out)
                if QUEUE_STATEMENT.match(line):
                    if o.queue_line:
                        out.err(f"{NAME}: only one -queue command allowed\n")
                        raise Exit(1)
                    o.queue_line = line
                else:
                    o.append.append(line)
            elif is_dash_arg_prefix(a, "batch-name", 1):
                v = _needs(cursor, "batch-name", out)
                o.batch_name = v if v.startswith('"') else f'"{v}"'
            elif is_dash_arg_prefix(a, "batch-id", 1):
                v = _needs(cursor, "batch-id", out)
                o.batch_id = v if v.startswith('"') else f'"{v}"'
            elif is_dash_arg_prefix(a, "queue", 1) or is_dash_arg_prefix(a, "iterate", 2) \
                    or is_dash_arg_prefix(a, "table", 5):
                first = cursor.take(accept=lambda v: bool(v) and not_dashed(v))
                if first is None:
                    out.err(f"{NAME}: {a} requires at least one argument\n")
                    raise Exit(1)
                if o.queue_line:
                    out.err(f"{NAME}: only one {a} command allowed\n")
                    raise Exit(1)
                kind = a.lstrip("-")[:1].upper()
                if kind == "T":
                    o.queue_line = "iter from table " + first
                else:
                    words = [first]
                    while (word := cursor.take(accept=not_an_option)) is not None:
                        words.append(word)
                        if word == "-":
                            break
                    o.queue_line = ("queue " if kind == "Q" else "iterate ") + " ".join(words)
            elif is_dash_arg_prefix(a, "maxjobs", 3):
                value = cursor.take()               # any word, even "" or one with a dash
                if value is None:
                    out.err(f"{NAME}: -maxjobs requires another argument\n")
                    raise Exit(1)
                o.maxjobs = parse_maxjobs(value, out)
            elif is_dash_arg_prefix(a, "single-cluster", 3):
                pass                                  # a submit here is always one cluster
            elif is_dash_arg_prefix(a, "pool", 2):
                o.pool = _needs(cursor, "pool", out)
            elif is_dash_arg_prefix(a, "unused", 1):
                pass
            elif is_dash_arg_prefix(a, "dump", 2):
                if o.dry_run is not None:
                    out.err(f"{NAME}: -dump <file> and -dry-run <file> cannot be used together\n")
                    raise Exit(1)
                dump = cursor.take(accept=bool)
                if dump is None:
                    out.err(f"{NAME}: -dump requires another argument\n")
                    raise Exit(1)
                o.dump = dump
            elif is_dash_arg_prefix(a, "force-mpi-universe", 7) or \
                    is_dash_arg_prefix(a, "allow-crlf-script", 8):
                pass
            elif is_dash_arg_prefix(a, "help"):
                out.out(USAGE)
                raise Exit(0)
            elif is_dash_arg_colon_prefix(a, "capabilities", 3)[0]:
                o.unsupported = o.unsupported or UNSUPPORTED["capabilities"]
            elif is_dash_arg_prefix(a, "interactive", 1):
                o.unsupported = o.unsupported or UNSUPPORTED["interactive"]
            else:
                out.err(USAGE)
                raise Exit(1)
        elif a == "-":
            o.cmd_file = a
        elif "=" in a:
            key, _, value = a.partition("=")
            key, value = key.strip(), value.strip()
            if key.startswith("+"):
                key = "MY." + key[1:]
            if not key or not re.match(r"^[A-Za-z_][A-Za-z0-9_.]*$", key):
                out.err(f"{NAME}: invalid attribute name '{key}' for attrib=value assigment\n")
                raise Exit(1)
            o.cmdline_vars.append((key, value))
        else:
            o.cmd_file = a
    if o.batch_name:
        o.append.append(f"MY.JobBatchName = {o.batch_name}")
    if o.batch_id:
        o.append.append(f"MY.JobBatchId = {o.batch_id}")
    if o.from_stdin and not o.terse:
        o.verbose = True
    return o


# the -dry-run:<opts> that print other things than the job ads (not done here)
DRY_RUN_OPTIONS = ("def", "digest", "jobset", "tpl")


def _atoi(text: str) -> int:
    m = re.match(r"\s*([+-]?\d+)", text)
    return int(m.group(1)) if m else 0


def c_strtol_int(text: str) -> int | None:
    """``text`` read as the real tool reads -maxjobs: base-10 ``strtol`` that must use the
    whole word (leading blanks and a sign allowed, an empty word is 0), clamped to a 64-bit
    long and then stored in a 32-bit int.  None when the word is not such a number."""
    m = re.fullmatch(r"[ \t\n\v\f\r]*([+-]?[0-9]+)", text)
    if m is None:
        return 0 if text == "" else None
    value = max(-2**63, min(2**63 - 1, int(m.group(1))))
    value &= 0xFFFFFFFF
    return value - 2**32 if value >= 2**31 else value


def parse_maxjobs(text: str, out: Output) -> int:
    """The -maxjobs value, or the real tool's complaint and exit 1."""
    value = c_strtol_int(text)
    if value is None:
        out.err(f"Error: Unable to convert argument ({text}) to a number for -maxjobs.\n")
        raise Exit(1)
    if value < -1:
        out.err(f"Error: {value} is not a valid for -maxjobs.\n")
        raise Exit(1)
    return value


# the submit commands that already make a description a job factory
# the limit -factory gives (the bindings refuse INT_MAX); the schedd takes the job count
FACTORY_LIMIT = 1_000_000_000


def as_factory(sub: "htcondor2.Submit") -> None:
    """-factory: have the schedd materialize the jobs.  The bindings send a factory when
    the description limits materialization, so a description that does not is given the
    largest limit; the schedd's limit is then the number of jobs, as with the real tool."""
    if not is_factory(sub):
        sub["max_materialize"] = str(FACTORY_LIMIT)


def is_factory(sub: "htcondor2.Submit") -> bool:
    """Whether the bindings will submit ``sub`` as a job factory."""
    return any(k.lower() in LIMIT_COMMANDS and sub[k].strip() for k in sub.keys())


def without_factory(sub: "htcondor2.Submit") -> "htcondor2.Submit":
    """A copy of ``sub`` that the bindings submit as ordinary jobs (its factory commands
    emptied: keys cannot be removed from a Submit, and an empty command has no effect)."""
    copy = htcondor2.Submit(str(sub))
    empty_commands(copy, LIMIT_COMMANDS)
    return copy


def maxjobs_error(limit: int) -> str:
    """What stderr gets when a submit would make more jobs than -maxjobs allows."""
    return f"\nERROR: Number of submitted jobs would exceed -maxjobs ({limit})\n"


def over_limit(o: Options, count: int) -> bool:
    return o.maxjobs > 0 and count > o.maxjobs


# ---------------------------------------------------------------- the description
def _try_parse(text: str):
    try:
        return htcondor2.Submit(text), None
    except Exception as e:                       # the bindings raise ValueError
        return None, e


def first_bad_line(prefix: str, lines: list[str]) -> int:
    """The 1-based line of ``lines`` at which the bindings first refuse the description."""
    for n in range(1, len(lines) + 1):
        sub, err = _try_parse(prefix + "".join(lines[:n]))
        if err is not None:
            return n
    return len(lines)


def queue_line_number(lines: list[str]) -> int:
    """The 1-based line of the first QUEUE (or ITERATE) statement, 0 when there is none.

    The bindings answer ``''`` for both a bare ``queue`` and no queue statement at all, so
    the statement is found by its leading keyword (the only thing looked at here)."""
    for n, line in enumerate(lines, start=1):
        if QUEUE_STATEMENT.match(line):
            return n
    return 0


def build_submit(o: Options, text: str, source: str) -> "htcondor2.Submit":
    """The description as the real tool assembles it, parsed by the bindings."""
    prefix = "".join(f"{k} = {v}\n" for k, v in o.cmdline_vars)
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    sub, err = _try_parse(prefix + "".join(lines))
    if err is not None:
        line = first_bad_line(prefix, lines)
        raise ParseError(line, source, "")
    for n, extra in enumerate(o.append, start=1):
        more, err = _try_parse(extra + "\n")
        if err is not None:
            raise ParseError(n, "<append>", "")
        for k, v in more.items():
            sub[k] = v
    if o.queue_line:
        try:
            sub.setQArgs(re.sub(r"^\s*queue\b\s*", "", o.queue_line, flags=re.IGNORECASE))
        except Exception as e:
            raise ParseError(0, source, _binding_message(e))
        qline = 0
    else:
        qline = None
    if qline is None and not queue_line_number(lines):
        raise NoQueue()
    try:
        sub.itemdata()                               # checks the QUEUE arguments
    except Exception as e:
        n = qline if qline is not None else queue_line_number(lines)
        raise ParseError(n, source, _binding_message(e))
    return sub


def _binding_message(e: Exception) -> str:
    text = str(e).strip()
    return text.split("errmsg=", 1)[1] if "errmsg=" in text else text


def missing_executable(sub: "htcondor2.Submit", cwd: str) -> str | None:
    """The real tool's complaint when the executable to transfer does not exist."""
    keys = {k.lower(): k for k in sub.keys()}
    if "executable" not in keys:
        return None
    try:
        exe = sub.expand(keys["executable"]).strip()
        transfer = sub.expand(keys["transfer_executable"]).strip().lower() \
            if "transfer_executable" in keys else "true"
        universe = sub.expand(keys["universe"]).strip().lower() if "universe" in keys else "vanilla"
        iwd = sub.expand(keys["initialdir"]).strip() if "initialdir" in keys else ""
    except Exception:
        return None
    if not exe or "$$" in exe or transfer in ("false", "f", "no", "0") or \
            universe in ("grid", "docker", "container") and not os.path.isabs(exe):
        return None
    base = os.path.join(cwd, iwd) if iwd else cwd
    path = exe if os.path.isabs(exe) else os.path.join(base, exe)
    if os.path.exists(path):
        return None
    return f"\nERROR: Can't access executable file {path}: No such file or directory\n"


# ---------------------------------------------------------------- what is printed
def summary_lines(cluster: int, first: int, count: int) -> tuple[str, str]:
    """The normal (stdout, stderr) after the dots."""
    return (f"{count} job(s) submitted to cluster {cluster}.\n",
            f"To monitor your job(s), run: condor_watch_q -clusters {cluster}\n")


def terse_line(cluster: int, first: int, count: int) -> str:
    return f"{cluster}.{first} - {cluster}.{first + count - 1}\n"


def verbose_block(cluster: int, proc: int, lines: list[str]) -> str:
    return f"\n** Proc {cluster}.{proc}:\n" + "".join(ln + "\n" for ln in lines)


def proc_ad_lines(cluster_ad, proc: int, overrides: dict[str, str]) -> list[str]:
    """One job's ad as the tool prints it: the cluster ad, the proc id, what differs."""
    ad = classad2.ClassAd()
    for k in cluster_ad.keys():
        ad[k] = cluster_ad.lookup(k)
    ad["ProcId"] = proc
    lines = {ln.split(" = ", 1)[0]: ln for ln in old_ad_lines(ad)}
    for k, line in overrides.items():
        lines[k] = line
    return [lines[k] for k in sorted(lines)]


def proc_overrides(schedd, cluster_ad, cluster: int, count: int) -> dict[int, dict[str, str]]:
    """Per job, the submitted attributes whose value differs from the cluster ad's."""
    if count <= 1:
        return {}
    keys = [k for k in cluster_ad.keys() if k not in ("Owner", "ClusterId", "ProcId")]
    base = {ln.split(" = ", 1)[0]: ln for ln in old_ad_lines(cluster_ad)}
    out: dict[int, dict[str, str]] = {}
    try:
        ads = schedd.query(f"ClusterId == {cluster}", keys + ["ProcId"])
    except Exception:
        return {}
    for ad in ads:
        proc = ad.get("ProcId")
        diff = {}
        for ln in old_ad_lines(ad):
            k = ln.split(" = ", 1)[0]
            if k in base and base[k] != ln:
                diff[k] = ln
        out[proc] = diff
    return out


# ---------------------------------------------------------------- the tool
def read_description(o: Options, out: Output) -> tuple[str, str]:
    """The description's text and the name errors give it."""
    if o.from_stdin or (o.cmd_file is None and not (o.cmdline_vars and o.queue_line)):
        return sys.stdin.read(), "<stdin>"
    if o.cmd_file is None:
        return "", "null"
    try:
        with open(o.cmd_file, encoding="utf-8", errors="surrogateescape") as f:
            return f.read(), o.cmd_file
    except OSError as e:
        out.err(f"\nERROR: Failed to open command file ({o.cmd_file}) ({e.strerror})\n")
        raise Exit(1)


def find_schedd(o: Options, out: Output):
    if o.addr:
        return htcondor2.Schedd(classad2.ClassAd({"MyAddress": o.addr}))
    location = schedd_location(o.name, o.pool)
    if location is None:
        if o.name:
            out.err(f"\nERROR: Can't find address of schedd {o.name}\n")
        else:
            out.err("\nERROR: Can't find address of local schedd\n")
        raise Exit(1)
    return htcondor2.Schedd(location)


def run(argv: Sequence[str], out: Output) -> int:
    o = parse_args(argv, out)
    if o.unsupported:
        out.err(f"\nERROR: {o.unsupported}\n")
        return 1
    simulated = o.dry_run is not None or o.dump is not None
    if simulated and o.cmd_file is None:
        out.err(NO_SUBMIT_FILE.format(name=o.dump if o.dump is not None else o.dry_run))
        return 1
    # A dry run needs no schedd, unless one was named; a dump never looks for one.
    schedd = find_schedd(o, out) if not simulated or (o.dry_run is not None and o.name) else None
    text, source = read_description(o, out)
    show_progress = not o.from_stdin and not o.terse
    if simulated:
        out.out(header(dump=o.dump is not None, to_stdout=(o.dump or o.dry_run) == "-",
                       terse=o.terse, from_stdin=o.from_stdin))
    elif show_progress:
        out.out("Submitting job(s)")
    try:
        sub = build_submit(o, text, source)
    except ParseError as e:
        out.err(f"\nERROR: on Line {e.line} of {e.source}: {e.message}\n")
        if e.source == "<append>":
            out.err(f"\nERROR: Failed to parse -a argument line (#{e.line}).\n")
        else:
            out.err(f"\nERROR: Failed to parse command file (line {e.line}).\n")
        return 1
    except NoQueue:
        name = "(stdin)" if source == "<stdin>" else o.cmd_file
        out.err(f'\nERROR: "{name}" doesn\'t contain any "queue" commands -- no jobs queued\n')
        return 1
    complaint = None if o.spool else missing_executable(sub, os.getcwd())
    if complaint:
        out.err(complaint)
        return 1
    sub.setSubmitMethod(SUBMIT_METHOD_CONDOR_SUBMIT, allow_reserved_values=True)
    if source not in ("<stdin>", "null"):
        sub["MY.JobSubmitFile"] = '"' + source.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if simulated:
        return run_simulated(o, sub, out)
    if o.maxjobs > 0:
        refused = refuse_over_limit(o, sub, out, show_progress)
        if refused is not None:
            return refused
    if o.factory:
        as_factory(sub)
    try:
        result = schedd.submit(sub, spool=o.spool)
    except htcondor2.HTCondorException as e:
        out.err(f"\nERROR: Failed to queue job.\nERROR: {str(e).strip()}\n")
        return 1
    except ValueError as e:
        out.err(f"\nERROR: {_binding_message(e)}\n")
        return 1
    cluster, first, count = result.cluster(), result.first_proc(), result.num_procs()
    if o.digest and is_factory(sub):
        err = write_digest(o.digest, schedd, cluster, sub, out)
        if err:
            return err
    if o.verbose:
        cluster_ad = result.clusterad()
        overrides = proc_overrides(schedd, cluster_ad, cluster, count)
        for proc in range(first, first + count):
            out.out(verbose_block(cluster, proc,
                                  proc_ad_lines(cluster_ad, proc, overrides.get(proc, {}))))
    elif show_progress and not is_factory(sub):       # a factory's jobs come later: no dots
        out.out("." * count)
    if show_progress:
        out.out("\n")
    if o.verbose:
        out.out("\n")
    elif o.terse:
        out.out(terse_line(cluster, first, count))
    else:
        stdout, stderr = summary_lines(cluster, first, count)
        out.out(stdout)
        out.err(stderr)
    if o.spool:
        try:
            schedd.spool(result)
        except (htcondor2.HTCondorException, ValueError) as e:
            out.err(f"\n{str(e).strip()}\nERROR: Failed to spool job files.\n")
            return 1
    try:
        schedd.reschedule()
    except Exception:
        pass
    return 0


def run_simulated(o: Options, sub: "htcondor2.Submit", out: Output) -> int:
    """-dry-run and -dump: the ads go to a private queue that records them (see
    ``submit_dryrun``), then are written as the real tool's simulated queue writes them."""
    dump = o.dump is not None
    target = o.dump if dump else o.dry_run
    to_stdout = target == "-"
    if o.factory:
        as_factory(sub)
    jobs = None
    try:
        rec = record_submit(sub)
        if rec.digest is not None:          # a factory: count its jobs in another recording
            jobs = len(record_submit(without_factory(sub)).procs)
    except htcondor2.HTCondorException as e:
        out.err(f"\nERROR: Failed to queue job.\nERROR: {str(e).strip()}\n")
        return 1
    except (ValueError, RuntimeError) as e:
        out.err(f"\nERROR: {_binding_message(e)}\n")
        return 1
    stopped = jobs is None and over_limit(o, len(rec.procs))   # a factory makes no procs here
    if stopped:
        rec = first_procs(rec, o.maxjobs)
    full = o.dry_run_full and not dump
    if full:                           # the stream goes nowhere; the whole ads come after
        printed = dry_run_output(rec, dump=False, to_stdout=False, terse=o.terse,
                                 from_stdin=o.from_stdin, jobs=jobs)
        out.out(printed.stdout)
        ads = "\n".join("".join(line + "\n" for line in lines) for _, lines in full_ads(rec))
        if to_stdout:
            out.out("\n" + ads)
            return 0
        return _write_file(target, ads, "-dry-run output file", out) or 0
    if not to_stdout:
        what = "to dump ClassAds into" if dump else "-dry-run output file"
        err = _write_file(target, render_stream(rec), what, out)
        if err:
            return err
    if o.dry_run_hash and not dump and not stopped:
        factory = rec.digest is not None
        out.out(submit_hash_text(sub, factory=factory, to_stdout=to_stdout))
        printed = dry_run_output(rec, dump=False, to_stdout=to_stdout, terse=o.terse,
                                 from_stdin=o.from_stdin, jobs=jobs, dots=False)
        text = printed.stdout
        out.out(text[1:] if factory and to_stdout and text.startswith("\n") else text)
        return 0
    if stopped:
        out.out(stopped_output(o, rec, dump=dump, to_stdout=to_stdout))
        out.err(maxjobs_error(o.maxjobs))
        return 1
    if o.verbose and not (dump and to_stdout):
        shown = [verbose_block(rec.cluster, proc, lines) for proc, lines in verbose_ads(rec)]
        out.out(verbose_output(rec, shown, to_stdout=to_stdout, from_stdin=o.from_stdin))
        return 0
    printed = dry_run_output(rec, dump=dump, to_stdout=to_stdout, terse=o.terse,
                             from_stdin=o.from_stdin, jobs=jobs)
    out.out(printed.stdout)
    out.err(printed.stderr)
    return 0


def refuse_over_limit(o: Options, sub: "htcondor2.Submit", out: Output,
                      show_progress: bool) -> int | None:
    """-maxjobs before a real submit.  The real tool stops before the job past the limit
    and aborts its transaction; here nothing is sent when the description makes too many
    jobs.  They are counted by the bindings themselves, submitting to the private
    recording queue of ``submit_dryrun``.  Over the limit, stdout gets what the real tool
    has printed when it stops (a dot for each job it made) and the exit code is 1; None
    lets the submit go on (a description the recorder refuses is left to the schedd)."""
    try:
        rec = record_submit(sub)
    except (htcondor2.HTCondorException, ValueError, RuntimeError):
        return None
    if not over_limit(o, len(rec.procs)):
        return None
    if show_progress and not o.verbose:
        out.out("." * o.maxjobs)
    out.err(maxjobs_error(o.maxjobs))
    return 1


def first_procs(rec: Recorded, count: int) -> Recorded:
    """The recording cut after its first ``count`` jobs: what a run stopped there sent."""
    keep = sorted(rec.procs)[:count]
    return Recorded(rec.cluster, list(rec.cluster_attrs), {p: rec.procs[p] for p in keep})


def stopped_output(o: Options, rec: Recorded, *, dump: bool, to_stdout: bool) -> str:
    """stdout of a dry run or dump that -maxjobs stopped, after its header: per job made,
    its stream when that goes to stdout, then its ad (-verbose) or a dot; no summary."""
    verbose = o.verbose and not (dump and to_stdout)
    dots = not o.terse and not (dump and to_stdout)
    shown = dict(verbose_ads(rec)) if verbose else {}
    text = []
    for proc, block in zip(sorted(rec.procs), proc_blocks(rec)):
        if to_stdout:
            text.append(block)
        if verbose:
            text.append(verbose_block(rec.cluster, proc, shown[proc]))
        elif dots:
            text.append(".")
    return "".join(text)


def write_digest(path: str, schedd, cluster: int, sub: "htcondor2.Submit", out: Output) -> int | None:
    """-digest FILE: the factory's submit digest as the schedd got it (its own copy in
    SPOOL names the schedd's copy of the rows), or, when that file cannot be read here,
    the digest the bindings make for the description."""
    text = None
    try:
        [cad] = schedd.query(f"ClusterId == {cluster} && ProcId is undefined",
                             ["JobMaterializeDigestFile"], opts=htcondor2.QueryOpt.IncludeClusterAd)
        with open(cad["JobMaterializeDigestFile"], encoding="utf-8", errors="surrogateescape") as f:
            text = f.read()
    except (OSError, KeyError, ValueError, htcondor2.HTCondorException):
        try:
            text = record_submit(sub).digest
        except (htcondor2.HTCondorException, ValueError, RuntimeError):
            text = None
    if text is None:
        return None
    return _write_file(path, text, "digest file", out)


def submit_hash_text(sub: "htcondor2.Submit", *, factory: bool, to_stdout: bool) -> str:
    """``-dry-run:hash``'s dump of ``sub``: its commands as written, its queue arguments
    as written and with their macros expanded."""
    qargs = sub.getQArgs()
    probe = htcondor2.Submit(str(sub))
    probe["condor_sim_qargs"] = qargs
    try:
        expanded = probe.expand("condor_sim_qargs")
    except Exception:
        expanded = qargs
    # the description's own commands (not the JobSubmitFile this tool adds, which the
    # real one keeps elsewhere)
    commands = [(k, sub[k]) for k in sub.keys() if k.lower() not in ("factory.iwd", "my.jobsubmitfile")]
    return hash_dump(commands, qargs, expanded, os.getcwd(), factory=factory,
                     itemdata_newline=factory and to_stdout)


def _write_file(path: str, text: str, what: str, out: Output) -> int | None:
    try:
        with open(path, "w", encoding="utf-8", errors="surrogateescape") as f:
            f.write(text)
    except OSError as e:
        out.err(f"\nERROR: Failed to open file {what} ({e.strerror})\n")
        return 1
    return None


def full_ads(rec) -> list[tuple[int, list[str]]]:
    """-dry-run:full: each job's whole ad, sorted by name, as the real tool keeps them: the
    first job's ad with the cluster's, a later job's own attributes over the first's
    (its ad is chained to the first one), with ClusterId and ProcId."""
    shown = []
    first: list[tuple[str, str]] = []
    for proc, attrs in sorted(rec.procs.items()):
        base = rec.cluster_attrs + (attrs if not shown else first)
        if not shown:
            first = attrs
        ad = classad2.ClassAd()
        for name, value in base + (attrs if shown else []) + \
                [("ClusterId", str(rec.cluster)), ("ProcId", str(proc))]:
            ad[name] = classad2.ExprTree(DRY_RUN_OWNER if name == "Owner" else value)
        lines = {ln.split(" = ", 1)[0]: ln for ln in old_ad_lines(ad)}
        shown.append((proc, [lines[k] for k in sorted(lines)]))
    return shown


def verbose_ads(rec) -> list[tuple[int, list[str]]]:
    """Each recorded job's whole ad (cluster attributes, then its own) as -verbose prints it."""
    shown = []
    for proc, attrs in sorted(rec.procs.items()):
        ad = classad2.ClassAd()
        for name, value in rec.cluster_attrs + attrs:
            ad[name] = classad2.ExprTree(DRY_RUN_OWNER if name == "Owner" else value)
        lines = {ln.split(" = ", 1)[0]: ln for ln in old_ad_lines(ad)}
        shown.append((proc, [lines[k] for k in sorted(lines)]))
    return shown


def main(argv: Sequence[str] | None = None) -> None:
    main_exit(NAME, run, argv)


if __name__ == "__main__":
    main()
