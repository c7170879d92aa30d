"""Where a spooled job's files live and what the schedd changes in its ad.

The directory (``gen_ckpt_name``): ``$(SPOOL)/<cluster % 10000>/<proc % 10000>/
cluster<C>.proc<P>.subproc0``.  A job submitted held for spooling (HoldReasonCode 16)
gets, when its submit commits (``rewriteSpooledJobAd``): ``SUBMIT_Iwd`` = its Iwd and
``Iwd`` = that directory; ``SUBMIT_TransferOutputRemaps`` = its remaps and
``TransferOutputRemaps`` = UNDEFINED; and ``Cmd``, ``In``, ``TransferInput``,
``UserLog``, ``X509UserProxy`` reduced to base names (the old value kept as
``SUBMIT_<name>``).  Pure functions over attribute texts (ClassAd expression text).
"""
from __future__ import annotations

import os
from typing import Callable

from ..jobqueue.queue import int_value, quote, unquote

HELD = 5
SPOOLING_INPUT = 16
# (attribute, is a list, the boolean that turns its transfer off)
REWRITTEN = (("Cmd", False, "TransferExecutable"), ("In", False, "TransferIn"),
             ("TransferInput", True, None), ("UserLog", False, None),
             ("X509UserProxy", False, None), ("DataReuseManifestSHA256", False, None))


def job_spool_dir(spool: str, cluster: int, proc: int) -> str:
    return os.path.join(spool, str(cluster % 10000), str(proc % 10000),
                        f"cluster{cluster}.proc{proc}.subproc0")


def spooling(lookup: Callable[[str], str | None]) -> bool:
    """Is the job held waiting for its input files?"""
    return int_value(lookup("JobStatus")) == HELD and \
        int_value(lookup("HoldReasonCode")) == SPOOLING_INPUT


def _null_file(path: str) -> bool:
    return path in ("/dev/null", "NUL", "nul")


def rewrite(lookup: Callable[[str], str | None], spool_dir: str,
            preserve_relative: bool = False) -> dict[str, str]:
    """The attributes (name -> expression text) to set on a job that will be spooled."""
    if lookup("SUBMIT_Iwd") is not None:
        return {}
    out: dict[str, str] = {}
    iwd = unquote(lookup("Iwd"))
    out["SUBMIT_Iwd"] = quote(iwd) if iwd is not None else "undefined"
    out["Iwd"] = quote(spool_dir)
    remaps = unquote(lookup("TransferOutputRemaps"))
    if remaps is not None:
        keep, urls = [], []
        for part in remaps.split(";"):
            bits = [b for b in part.replace("=", " ").split() if b]
            if len(bits) != 2:
                continue
            (urls if "://" in bits[1] else keep).append(part)
        out["SUBMIT_TransferOutputRemaps"] = quote(";".join(keep))
        out["TransferOutputRemaps"] = quote(";".join(urls)) if urls else "undefined"
    elif lookup("SUBMIT_TransferOutputRemaps") is not None:
        out["SUBMIT_TransferOutputRemaps"] = "undefined"
    for name, is_list, flag in REWRITTEN:
        value = unquote(lookup(name))
        if not value or _null_file(value):
            continue
        if flag and (lookup(flag) or "").strip().lower() == "false":
            continue
        olds = [v.strip() for v in value.split(",") if v.strip()] if is_list else [value]
        news = []
        for old in olds:
            if name == "TransferInput" and ("://" in old or (preserve_relative and not os.path.isabs(old))):
                news.append(old)
            else:
                news.append(os.path.basename(old))
        if news != olds:
            out[f"SUBMIT_{name}"] = quote(value)
            out[name] = quote(",".join(news))
    return out
