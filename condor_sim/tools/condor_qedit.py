"""condor_qedit: set job attributes in the schedd's queue through ``htcondor2.Schedd.edit``.

Restrictions come first (job and cluster ids, one owner, ``-jobids``, ``-owner``,
``-constraint``), then ``attr value`` pairs or ``attr=value`` words.  Immutable attributes and
values that are not one ClassAd expression are refused before the schedd is asked, with the
real tool's texts.  Attributes are set in name order, one line each.

Each attribute is its own edit through the bindings (the real tool sets them all in one
transaction); ``-dry-run`` counts the jobs the restriction matches instead of asking the
schedd to check the change.
"""
from __future__ import annotations

import sys
from typing import Sequence

import classad2
import htcondor2

from .common import (ArgCursor, Output, is_dash_arg_colon_prefix, is_dash_arg_prefix, main_exit,
                     not_an_option, not_dashed, param_list, schedd_location)

NAME = "condor_qedit"
ONLY_MY_JOBS, POST_SUBMIT_CLUSTER_CHANGE = 1 << 4, 1 << 7
_DEFAULT_IMMUTABLE = ["ClusterId", "ProcId", "MyType", "TargetType", "Owner"]

USAGE = """Usage: condor_qedit [help-opts] [general-opts] <restriction-list> <edit-list>

    [help-opts] are:
\t-help\t\t   Display this screen
\t-debug\t\t   Display debugging info to console
\t-dry-run\t   Display whether edit is allowed

    [general-opts] are:
\t-name <name>\t   Name of Scheduler
\t-pool <pool>\t   Use host as the central manager to query
\t-forward\t   Forward changes to shadow/gridmanager

    <restriction-list> is one or more of:
\t<cluster>\t   Edit jobs in a specific cluster
\t<cluster>.<proc>   Edit a specific job
\t<owner>\t\t   Edit jobs owned by <owner>
\t-jobids <id-list>  Edit jobs in <id-list>
\t-owner <owner>     Edit jobs owned by <owner>
\t-constraint <expr> Edit jobs that match <expr>

    <edit-list> is a set of <attr> and <value> pairs, in one of two forms
\t<attr> <value>\t   Two argument form, alternate <attr> and <value>
\t<attr>=<value>\t   Single argument form, = separates <attr> and <value>
\t-edits[:<form>] <file> Read edits from <file> in ClassAd format.
\t           where <form> is one of:
\t       auto    default, guess the format from reading the input stream
\t       long    The traditional -long form
\t       xml     XML form, the same as -xml
\t       json    JSON classad form, the same as -json
\t       new     'new' classad form without newlines

At least one restriction and one edit must be specified, restrictions must be
first. The restriction-list should be: a list of job and/or cluster ids, a
single owner name, or one or more of -owner, -jobids, -constraint arguments.
If both owner and jobids are specified, only jobs that match both will be
edited. If a -constraint argument is also provided, only jobs that also match
the constraint will be edited.
If only a -constraint argument is provided, jobs not owned by the current user
will be ignored unless the current user is a queue superuser.

Once a restriction has been specified, all remaining arguments that do not
start with a - are part of the <edit-list>.  An argument that contains = will
be treated as an <attr>=<value> pair, otherwise arguments should alternate
between <attr> and <value>
"""


def valid_attr_name(name: str) -> bool:
    return bool(name) and (name[0].isalpha() or name[0] == "_") and \
        all(ch.isalnum() or ch in "_." for ch in name)


def valid_value(value: str) -> bool:
    """One ClassAd expression on one line (what the schedd would accept)."""
    if not value.strip() or "\n" in value or "\r" in value:
        return False
    try:
        classad2.ExprTree(value)
    except Exception:
        return False
    return True


def job_key(text: str) -> tuple[int, int]:
    c, dot, p = text.partition(".")
    try:
        return int(c), (int(p) if dot else -1)
    except ValueError:
        return 0, -1


def jobid_constraint(ids: set[tuple[int, int]]) -> str:
    """The constraint the real tool builds from job and cluster ids."""
    by_cluster: dict[int, set[int]] = {}
    for c, p in sorted(ids):
        procs = by_cluster.setdefault(c, set())
        if p >= 0:
            procs.add(p)
    parts = []
    for c, procs in by_cluster.items():
        if c <= 0:
            continue
        if not procs:
            parts.append(f"ClusterId == {c} ")
        elif len(procs) == 1:
            parts.append(f"( ClusterId == {c} && ProcId == {next(iter(procs))} )")
        else:
            inner = " || ".join(f"ProcId == {p} " for p in sorted(procs))
            parts.append(f"( ClusterId == {c} && ({inner}))")
    return "|| ".join(parts)


def make_query(ands: list[str]) -> str:
    """GenericQuery's text for custom AND clauses: ``( (a) && (b) )``."""
    if not ands:
        return ""
    return "( " + " && ".join(f"({a})" for a in ands) + " )"


def immutable_attrs() -> set[str]:
    names = param_list("IMMUTABLE_JOB_ATTRS") + param_list("SYSTEM_IMMUTABLE_JOB_ATTRS")
    return set(names or _DEFAULT_IMMUTABLE)



def run(argv: Sequence[str], out: Output) -> int:
    if not argv:
        out.err(USAGE)
        return 1
    schedd_name = pool_name = None
    dry_run = forward = False
    aborted = False
    only_my_jobs = True
    bare_identifies_jobs = True
    arbitrary = False
    ands: list[str] = []
    job_list: list[str] = []
    edits: dict[str, str] = {}
    try:
        only_my_jobs = str(htcondor2.param.get("CONDOR_Q_ONLY_MY_JOBS", "true")).lower() \
            not in ("false", "0", "no")
    except Exception:
        pass
    cursor = ArgCursor(argv)
    for arg in cursor:
        if is_dash_arg_prefix(arg, "help", 1):
            out.out(USAGE)
            return 0
        elif is_dash_arg_prefix(arg, "name", 1):
            schedd_name = cursor.take(accept=not_dashed)
            if schedd_name is None:
                out.err(f"{NAME}: {arg} requires a SCHEDD name as an argument\n")
                return 1
        elif is_dash_arg_prefix(arg, "pool", 1):
            pool_name = cursor.take(accept=not_dashed)
            if pool_name is None:
                out.err(f"{NAME}: {arg} requires a HTCondor collector name or address as an argument\n")
                return 1
        elif is_dash_arg_colon_prefix(arg, "debug", 1)[0]:
            pass
        elif is_dash_arg_prefix(arg, "dry-run", 3):
            dry_run = True
        elif is_dash_arg_prefix(arg, "constraint", 1):
            constraint = cursor.take()
            if constraint is None:
                out.err(f"{NAME}: {arg} requires a ClassAd expression an argument\n")
                return 1
            if not valid_value(constraint):
                out.err(f"{NAME}: invalid constraint: {constraint}\n")
                return 1
            ands.append(constraint)
            bare_identifies_jobs, arbitrary = False, True
        elif is_dash_arg_prefix(arg, "owner", 1):
            owner = cursor.take(accept=not_dashed)
            if owner is None:
                out.err(f"{NAME}: {arg} requires a owner name argument\n")
                return 1
            ands.append(f'Owner=="{owner}"')
            bare_identifies_jobs, only_my_jobs = False, False
        elif is_dash_arg_prefix(arg, "jobids", 1):
            id_list = cursor.take(accept=not_dashed)
            if id_list is None:
                out.err(f"{NAME}: {arg} requires a list of job ids as an argument\n")
                return 1
            job_list += id_list.replace(",", " ").split()
            bare_identifies_jobs, only_my_jobs = False, False
        elif is_dash_arg_colon_prefix(arg, "edits", 2)[0]:
            filename = cursor.take(accept=not_an_option)
            if filename is None:
                out.err(f"{NAME}: {arg} requires a filename as an argument\n")
                return 1
            try:
                text = sys.stdin.read() if filename == "-" else open(filename).read()
            except OSError:
                out.err(f"Can't open file of edits: {filename}\n")
                return 1
            try:
                ad = next(iter(classad2.parseAds(text)))
            except Exception:
                out.err(f"Unable to read file of edits: {filename}\n")
                return 1
            for k in ad.keys():
                edits[k] = str(ad.lookup(k))
        elif is_dash_arg_prefix(arg, "forward", 3):
            forward = True
        elif arg.startswith("-"):
            out.err(f"{NAME}: {arg} is not a valid option\n")
            out.err(USAGE)
            return 1
        elif bare_identifies_jobs:
            bare_identifies_jobs = only_my_jobs = False
            if arg[:1].isdigit():
                job_list.append(arg)
                while (more := cursor.take(accept=lambda w: w[:1].isdigit())) is not None:
                    job_list.append(more)
            else:
                ands.append(f'Owner=="{arg}"')
        else:
            attr, eq, value = arg.partition("=")
            if eq:
                attr, value = attr.strip(), value.strip()
            else:
                value = cursor.take()
                if value is None:
                    out.err(f"{NAME} : expression required after attribute {arg}\n")
                    out.err(USAGE)
                    return 1
            if not attr.strip() or not valid_attr_name(attr):
                out.err(f'Update aborted, illegal attribute-name specified for attribute "{attr}".\n')
                aborted = True
                break
            if not valid_value(value):
                out.err(f"Update aborted, illegal value for : {attr}\n")
                aborted = True
                break
            edits[attr] = value

    ids = {job_key(j) for j in job_list}
    cluster_edits = not arbitrary
    have_cluster_id = any(p < 0 for _, p in ids)
    if any(p >= 0 for _, p in ids):
        cluster_edits = False
    query = make_query(ands)
    if ids and (have_cluster_id or query):
        ands.append(jobid_constraint(ids))
        query = make_query(ands)
        ids = set()

    if not aborted:
        if not ids and not query:
            if edits:
                out.err(f"{NAME} : Error - there were no jobs specified.\n\tuse -constraint, "
                        "jobid or owner argument to indicate which jobs to edit\n")
            out.err(USAGE)
            return 1
        if not edits:
            out.err(f"{NAME} : Error - no attributes specifed.\n")
            out.err(USAGE)
            return 1
        immutable = immutable_attrs()
        for attr in sorted(edits):
            if attr in immutable:
                out.err(f'Update of immutable attribute "{attr}" is not allowed.\n')
                aborted = True
    if aborted:
        out.err("Transaction failed.  No attributes were set.\n")
        return 1

    location = schedd_location(schedd_name, pool_name)
    if location is None:
        if not schedd_name:
            out.err(f"{NAME}: ERROR: Can't find address of local schedd\n")
        else:
            out.err(f"{NAME}: No such schedd named {schedd_name} in "
                    f"{pool_name or 'local'} pool\n")
        return 1
    schedd = htcondor2.Schedd(location)
    flags = 0
    if forward:
        flags |= int(htcondor2.TransactionFlag.SetDirty)
    if only_my_jobs:
        flags |= ONLY_MY_JOBS
    if cluster_edits:
        flags |= POST_SUBMIT_CLUSTER_CHANGE
    tflags = htcondor2.TransactionFlag(flags)
    tag = "Can " if dry_run else ""
    for attr in sorted(edits):
        value = edits[attr] or "undefined"
        if ids:
            count = 0
            for c, p in sorted(ids):
                try:
                    if dry_run:
                        ok = bool(schedd.query(f"ClusterId == {c} && ProcId == {p}", ["ProcId"]))
                    else:
                        schedd.edit([f"{c}.{p}"], attr, value, tflags)
                        ok = True
                except htcondor2.HTCondorException:
                    ok = False
                if not ok:
                    out.err(f'Failed to set attribute "{attr}" for job {c}.{p}.\n')
                    out.err("Queue transaction failed.  No attributes were set.\n")
                    return 1
                count += 1
        else:
            try:
                if dry_run:
                    count = len(schedd.query(query, ["ProcId"]))
                    if not count:
                        out.err(f"No jobs match the constraint: {query}\n")
                        out.err("Queue transaction failed.  No attributes were set.\n")
                        return 1
                else:
                    count = int(schedd.edit(query, attr, value, tflags) or 0)
            except htcondor2.HTCondorException:
                out.err(f'Failed to set attribute "{attr}" by constraint: {query}\n')
                out.err("Queue transaction failed.  No attributes were set.\n")
                return 1
        shown = str(count) if count > 0 else "all"
        out.out(f'{tag}Set attribute "{attr}" for {shown} matching jobs.\n')
    return 0


def main(argv: Sequence[str] | None = None) -> None:
    main_exit(NAME, run, argv)


if __name__ == "__main__":
    main()
