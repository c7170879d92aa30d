"""Where ``condor_history`` finds its records besides the schedd, as pure functions.

* History and epoch files: ads in the old ClassAd syntax, each followed by a ``***`` banner
  line; the banner may name the record's type first (``*** EPOCH ClusterId=1 ...``, the
  shadow's per-run records in ``JOB_EPOCH_HISTORY``), otherwise the record is a ``JOB``
  (:func:`records`).
* ``-epochs``: ``JOB_EPOCH_HISTORY`` and its rotated backups (as the history file's), or
  with ``-directory`` the per-job files of ``JOB_EPOCH_HISTORY_DIR`` (:func:`epoch_dir_files`).
* A user event log (``-userlog``): :mod:`condor_sim.tools._userlog_ads`, shared with
  condor_q.
* ``-xml`` with nested ads written as nested ``<c>`` elements (:func:`render_xml`).
"""
from __future__ import annotations

import re
from typing import Iterable

import classad2

from condor_sim.tools import common as C

# ------------------------------------------------------------------------------ files
def banner_type(line: str) -> str:
    """The record type a banner line names (upper case); ``JOB`` when it names none."""
    head = line.lstrip("*").strip().split("=", 1)[0].strip()
    if "=" not in line or not re.search(r"\s", head):
        return "JOB"
    return head.split()[0].upper()


def records(text: str) -> list[tuple[str, classad2.ClassAd]]:
    """A history or epoch file's records, oldest first, each with the type its banner names."""
    out, lines = [], []
    for line in text.splitlines():
        if line.startswith("***"):
            if lines:
                out.append((banner_type(line), classad2.parseOne("\n".join(lines))))
            lines = []
        elif line.strip():
            lines.append(line)
    if lines:
        out.append(("JOB", classad2.parseOne("\n".join(lines))))
    return out


def ads_of_type(text: str, kind: str) -> list[classad2.ClassAd]:
    return [ad for t, ad in records(text) if t == kind]


def job_ids(args: Iterable[str]) -> list[tuple[int, int]]:
    """The ``cluster`` and ``cluster.proc`` arguments, as (cluster, proc) with proc -1 for
    a whole cluster (the tool's sscanf of ``%d.%d``, then ``%d``)."""
    out = []
    for a in args:
        m = re.match(r"\s*([-+]?\d+)(?:\.\s*([-+]?\d+))?", a)
        if m and not a.startswith("-"):
            out.append((int(m[1]), int(m[2]) if m[2] is not None else -1))
    return out


def condense_job_ids(ids: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """The job ids sorted, without the ``cluster.proc`` ones a whole-cluster id covers
    (``condenseJobFilterList``)."""
    out, whole = [], None
    for c, p in sorted(ids):
        if c == whole and p >= 0:
            continue
        if p < 0:
            whole = c
        out.append((c, p))
    return out


def epoch_dir_files(names: Iterable[str], ids: list[tuple[int, int]], backwards: bool) -> list[str]:
    """The files of ``JOB_EPOCH_HISTORY_DIR`` that ``-epochs -directory`` reads, in the
    order it reads them (``findEpochDirFiles``): names ``job.runs.*.ads`` in directory
    order (their rotated backups do not end in ``.ads`` and are never read), reversed when
    reading backwards.  With job ids (the last one's cluster above 0) only the files whose
    name holds ``runs.<c>.<p>.`` or ``runs.<c>.``; a single ``cluster.proc`` takes the
    first such file alone."""
    filtering = bool(ids) and ids[-1][0] > 0
    ids = condense_job_ids(ids)
    patterns = [f"runs.{c}.{p}." if p >= 0 else f"runs.{c}." for c, p in ids]
    one_job = len(ids) == 1 and ids[0][1] >= 0
    out = []
    for name in names:
        if not (name.startswith("job.runs.") and name.endswith(".ads")):
            continue
        if not filtering:
            out.append(name)
            continue
        for pattern in patterns:
            if pattern in name:
                out.append(name)
                if one_job:
                    return out
    if backwards:
        out.reverse()
    return out


# ------------------------------------------------------------------------------ -xml
def _xml_attrs(ad, indent: str) -> list[str]:
    out = []
    for k in C.sorted_attrs(ad):
        expr = ad.lookup(k)
        nested = ad.get(k) if str(expr).lstrip().startswith("[") else None
        if isinstance(nested, classad2.ClassAd):
            out.append(f'{indent}<a n="{k}"><c>\n')
            out += _xml_attrs(nested, indent + "    ")
            out.append(f"{indent}</c></a>\n")
        else:
            out.append(f'{indent}<a n="{k}">{C._xml_value(expr)}</a>\n')
    return out


def render_xml(ads: Iterable) -> str:
    """``-xml`` as condor_history writes it: a blank line after ``<classads>``, after each ad
    and after the end; nested ads as ``<c>`` elements indented one more level."""
    out = ['<?xml version="1.0"?>\n<!DOCTYPE classads SYSTEM "classads.dtd">\n<classads>\n\n']
    for ad in ads:
        out.append("<c>\n")
        out += _xml_attrs(ad, "    ")
        out.append("</c>\n\n")
    out.append("</classads>\n\n")
    return "".join(out)
