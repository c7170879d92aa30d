"""``condor_history``: finished jobs, from the schedd (through ``htcondor2``) or from a
history file (``-file``), in HTCondor's default table or as ``-af``/``-format``/``-long``/
``-json``/``-xml``.  :func:`default_view` is a pure function of the ads.

``-epochs`` reads the per-run records (the ``EPOCH`` records) of ``JOB_EPOCH_HISTORY`` and its
rotated backups, or with ``-directory`` of the per-job files in ``JOB_EPOCH_HISTORY_DIR``
(no file means no records); ``-search`` names the file (or directory) instead of the
configuration; ``-userlog`` reads the jobs of a user event log
(:mod:`condor_sim.tools._history_sources`)."""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import classad2

from condor_sim.jobqueue.history import find_history_files
from condor_sim.tools import _history_sources as S
from condor_sim.tools import _userlog_ads as UL
from condor_sim.tools import _usage
from condor_sim.tools import common as C

HEADER = " ID          OWNER            SUBMITTED   RUN_TIME   ST   COMPLETED CMD\n"


@dataclass
class Options:
    view: str = "default"
    restrictions: list[str] = field(default_factory=list)
    constraints: list[str] = field(default_factory=list)
    limit: int = -1
    since: str | None = None
    file: str | None = None
    userlog: str | None = None
    epochs: bool = False
    directory: bool = False
    search: str | None = None
    job_ids: list[tuple[int, int]] = field(default_factory=list)
    forwards: bool = False
    name: str | None = None
    pool: str | None = None
    af: C.AutoFormat | None = None
    formats: list[tuple[str, str]] = field(default_factory=list)
    attributes: list[str] = field(default_factory=list)




OUTPUT_ERRORS = {"attributes": "Error: Argument -attributes must be followed by a list of attributes",
                 "format": "Error: Argument -format requires a spec and classad attribute name as parameters",
                 "autoformat": "Error: Argument {arg} requires at least one attribute parameter"}


def parse_args(args: list[str]) -> Options:
    o = Options()
    cursor = C.ArgCursor(args)
    for a in cursor:
        if not a.startswith("-"):
            o.restrictions.append(C.restriction(a))
            o.job_ids += S.job_ids([a])
        elif C.is_option(a, "constraint", 2):
            o.constraints.append(cursor.take(f"Error: Argument {a} requires another parameter"))
        elif C.is_option(a, "limit", 3) or C.is_option(a, "match", 2):
            text = cursor.take(f"Error: Argument {a} requires a number value  as a parameter.")
            try:
                o.limit = int(text)
            except ValueError:
                raise C.ToolError(f"Error: Argument {a} requires a number value  as a parameter.\n")
        elif C.is_option(a, "completedsince", 3):
            t = cursor.take("Error: Argument -completedsince requires another parameter.")
            if not C.constraint_ok(f"CompletionDate <= {t}"):
                raise C.ToolError(f"Error: '{t}' not valid parameter for -completedsince ")
            o.since = f"CompletionDate <= {t}"
        elif C.is_option(a, "file", 2):
            o.file = cursor.take(f"Error: Argument {a} requires another parameter")
        elif C.is_option(a, "userlog", 1):
            o.userlog = cursor.take(f"Error: Argument {a} requires another parameter")
        elif C.is_dash_arg_colon_prefix(a, "epochs", 2)[0]:
            o.epochs = True
        elif C.is_dash_arg_prefix(a, "directory", 3):
            o.directory = True
        elif C.is_dash_arg_prefix(a, "search", 3):
            o.search = cursor.take(f"Error: Argument {a} requires another parameter")
        elif C.is_option(a, "name", 2):
            o.name = cursor.take("Error: Argument -name requires name of a remote schedd")
        elif C.is_option(a, "pool", 2):
            o.pool = cursor.take(f"Error: Argument {a} requires another parameter")
        elif C.is_option(a, "forwards", 4):
            o.forwards = True
        elif C.is_option(a, "backwards", 4) or C.is_option(a, "wide", 2):
            pass
        elif C.ad_output_option(o, cursor, a, OUTPUT_ERRORS):
            if o.af is not None:
                o.af.streaming = True       # condor_history's widths grow row by row
        else:
            raise C.ToolError(f"Error: Unknown argument {a}\n", stdout=_usage.CONDOR_HISTORY)
    return o


def constraint_of(o: Options) -> str | None:
    parts = []
    if o.restrictions:
        parts.append("(" + " || ".join(o.restrictions) + ")" if len(o.restrictions) > 1
                     else o.restrictions[0])
    parts += [f"({c})" for c in o.constraints]
    return " && ".join(parts) if parts else None


def default_view(ads) -> str:
    """The default table (header and one line per job)."""
    out = [HEADER]
    for ad in ads:
        wall = ad.get("RemoteWallClockTime")
        if not isinstance(wall, (int, float)):
            wall = ad.get("RemoteUserCpu", 0)
        st = C.STATUS_CHAR.get(ad.get("JobStatus"), "?")
        owner = ad.get("Owner")
        out.append(f"{str(ad.get('ClusterId')) + '.' + str(ad.get('ProcId')):<12} "
                   f"{owner if isinstance(owner, str) else '??':<14} "
                   f"{C.qdate(ad.get('QDate')) or '??':>11} {C.duration(wall):>12} {st:<2} "
                   f"{C.qdate(ad.get('CompletionDate')):>11} {C.job_description(ad)}\n")
    return "".join(out)


def render(o: Options, ads) -> str:
    if o.view == "af":
        return o.af.render(ads)
    if o.view == "format":
        return C.render_format(ads, o.formats)
    if o.view == "long":
        return C.render_long(ads)
    if o.view == "json":
        return C.render_json(ads)
    if o.view == "xml":
        return S.render_xml(ads)
    return default_view(ads)


def read_history_file(text: str, kind: str = "JOB") -> list:
    """The ads of a history file of one record type, oldest first (records end in a ``***``
    banner line)."""
    return S.ads_of_type(text, kind)


def from_file(o: Options, path: str, head: str) -> list:
    try:
        text = Path(path).read_text(errors="replace")
    except OSError as e:
        raise C.ToolError(f"Error opening history file {path}: {e.strerror}\n", stdout=head)
    return select_ads(o, read_history_file(text))


def _file_ads(path: str, kind: str, backwards: bool) -> list:
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return []
    ads = read_history_file(text, kind)
    return ads[::-1] if backwards else ads


def _unset_knob(knob: str) -> str:
    return (f"Error: No passed search file and configuration key {knob} is unset.\n"
            f"\nExtra Info: The variable {knob} is not defined in your config file. If you want "
            f"Condor to keep a history of information, you must define {knob} in your config file\n")


def epoch_files(o: Options, epoch_file: str | None, epoch_dir: str | None, head: str = "") -> list[str]:
    """The files ``-epochs`` reads, in the order it reads them: ``JOB_EPOCH_HISTORY`` (or
    ``-search``) and its backups, newest first unless ``-forwards``; with ``-directory`` the
    per-job files of ``JOB_EPOCH_HISTORY_DIR`` (or ``-search``)."""
    if not epoch_file and not epoch_dir:
        raise C.ToolError("Error: No Job Run Instance recordings to read.\n")
    backwards = not o.forwards
    if o.directory:
        directory = o.search or epoch_dir
        if not directory:
            raise C.ToolError("Error: No search directory found for locating history files.\n",
                              stdout=head)
        if not os.path.isdir(directory):
            raise C.ToolError(f"Error: {directory} is not a valid directory.\n", stdout=head)
        names = S.epoch_dir_files(os.listdir(directory), o.job_ids, backwards)
        return [os.path.join(directory, n) for n in names]
    path = o.search or epoch_file
    if not path:
        raise C.ToolError(_unset_knob("JOB_EPOCH_HISTORY"), stdout=head)
    files = find_history_files(path)
    return files[::-1] if backwards else files


def epoch_ads(o: Options, epoch_file: str | None, epoch_dir: str | None, head: str = "") -> list:
    """``-epochs``: the EPOCH records of the files :func:`epoch_files` lists, as the
    options pick them; none when there is no file (the schedd has written no run yet)."""
    backwards = not o.forwards
    ads = [ad for path in epoch_files(o, epoch_file, epoch_dir, head)
           for ad in _file_ads(path, "EPOCH", backwards)]
    return pick_ads(o, ads)


def search_ads(o: Options, path: str) -> list:
    """``-search FILE`` without ``-epochs``: the job records of FILE and its backups."""
    backwards = not o.forwards
    files = find_history_files(path)
    return pick_ads(o, [ad for f in (files[::-1] if backwards else files)
                        for ad in _file_ads(f, "JOB", backwards)])


def userlog_jobs(o: Options, path: str, head: str) -> list:
    """``-userlog``: a job ad per job the log saw submitted."""
    import getpass
    import time
    if not Path(path).is_file():
        raise C.ToolError(f"Error: Can't open userlog {path}\n", stdout=head)
    ads = UL.ads_from_events(UL.read_userlog(path), path, getpass.getuser(), int(time.time()))
    expr = classad2.ExprTree(constraint_of(o)) if constraint_of(o) else None
    return [ad for ad in ads if expr is None or expr.eval(ad) is True]


def select_ads(o: Options, ads: list) -> list:
    """History ads (oldest first) as the options pick them: newest first unless
    ``-forwards``, matching the restrictions, up to the ``-completedsince`` stop, ``-limit``."""
    ads = list(ads)
    if not o.forwards:
        ads.reverse()
    return pick_ads(o, ads)


def pick_ads(o: Options, ads: list) -> list:
    """History ads already in the order they are read, as the options pick them."""
    constraint = constraint_of(o)
    expr = classad2.ExprTree(constraint) if constraint else None
    since = classad2.ExprTree(o.since) if o.since else None
    out = []
    for ad in ads:
        if since is not None and since.eval(ad) is True:
            break
        if expr is None or expr.eval(ad) is True:
            out.append(ad)
            if 0 < o.limit <= len(out):
                break
    return out


def body(args: list[str]) -> int:
    o = parse_args(args)
    constraint = constraint_of(o)
    if constraint and not C.constraint_ok(constraint):
        raise C.ToolError(f"Error:  could not parse constraint ( {constraint} )\n")
    head = HEADER if o.view == "default" else ""
    if o.userlog:
        ads = userlog_jobs(o, o.userlog, head)
    elif o.file:
        ads = from_file(o, o.file, head)
    elif o.epochs:
        import htcondor2
        ads = epoch_ads(o, htcondor2.param.get("JOB_EPOCH_HISTORY"),
                        htcondor2.param.get("JOB_EPOCH_HISTORY_DIR"), head)
    elif o.search:
        ads = search_ads(o, o.search)
    else:
        import htcondor2
        try:
            location = C.locate_schedd(o.name, o.pool, tool="condor_history")
        except C.ToolError:
            if o.name is None:
                return body(args + ["-file", htcondor2.param.get("HISTORY", "")])
            raise C.ToolError(f"Unable to locate remote schedd (name={o.name}, pool={o.pool or ''}).\n",
                              stdout=head)
        ads = htcondor2.Schedd(location).history(constraint, o.attributes, o.limit,
                                                 since=classad2.ExprTree(o.since) if o.since else None)
        if o.forwards:
            ads = list(reversed(ads))
    sys.stdout.write(render(o, ads))
    return 0


def main(argv: list[str] | None = None) -> int:
    """condor_history's command line; returns the exit code."""
    return C.run_tool(body, argv)


if __name__ == "__main__":
    sys.exit(main())
