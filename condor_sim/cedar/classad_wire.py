"""ClassAds on the wire (``condor_utils/classad_oldnew.cpp`` semantics), using ``classad2``.

Layout: ``[int N]``, N strings ``"Name = <expr in old ClassAd syntax>"``, then the two
legacy ``MyType``/``TargetType`` strings (sent empty, ignored on receipt).

Parsing and printing are the real library's; the only text handling here is splitting a
line at its first ``=`` and one known gap of the old-syntax parser (a string literal that
holds a raw newline, which the C++ reader accepts but ``classad2`` silently drops).
"""
from __future__ import annotations

import struct
from itertools import chain as _chain, repeat as _repeat

import classad2

from . import ProtocolError
from .adlimits import check_expression_lines, check_pod_line
from .stream import MessageReader, MessageWriter

MAX_ATTRS = 1_000_000        # getClassAd's bound
MAX_HANDSHAKE_ATTRS = 100    # getPODClassAd's bound (security handshake ads)
PRIVATE_V1 = {"capability", "childclaimids", "claimid", "claimidlist", "claimids", "transferkey"}
SECRET_MARKER = "ZKM"


def is_private(name: str) -> bool:
    low = name.lower()
    return low in PRIVATE_V1 or low.startswith("_condor_priv")


def _old_to_new_string_syntax(rhs: str) -> str:
    """Rewrite string literals of an old-syntax expression in new syntax.

    In old ClassAd syntax a backslash is literal except before a quote, and raw
    newlines may appear inside a string; new syntax escapes both.  Only string
    literals are touched; everything else is copied.
    """
    out = []
    i, n = 0, len(rhs)
    while i < n:
        c = rhs[i]
        if c != '"':
            out.append(c)
            i += 1
            continue
        out.append('"')
        i += 1
        while i < n:
            c = rhs[i]
            if c == "\\" and i + 1 < n and rhs[i + 1] == '"':
                out.append('\\"')
                i += 2
                continue
            if c == '"':
                break
            out.append({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(c, c))
            i += 1
        out.append('"')
        i += 1
    return "".join(out)


def parse_line(line: str) -> tuple[str, classad2.ExprTree]:
    """One wire line -> (name, expression)."""
    name, eq, rhs = line.partition("=")
    name = name.strip()
    if not eq or not name:
        raise ProtocolError(f"bad ClassAd line {line[:80]!r}")
    ad = classad2.parseNext(line, parser=classad2.ParserType.Old) if "\n" not in rhs else None
    if ad is not None and len(ad) == 1:
        return name, ad.lookup(name)
    try:
        new = classad2.parseOne(f"[{name} = {_old_to_new_string_syntax(rhs)}]",
                                parser=classad2.ParserType.New)
        return name, new.lookup(name)
    except Exception:
        raise ProtocolError(f"unparsable ClassAd line {line[:80]!r}") from None


def format_line(name: str, expr) -> str:
    one = classad2.ClassAd()
    one[name] = expr
    text = one.printOld()
    return text[:-1] if text.endswith("\n") else text


def _parse_lines(lines: list[str]) -> classad2.ClassAd:
    """The lines of one ad -> a ClassAd.  Fast path: one parse of the whole text, taken
    only when no line holds a raw newline and every name came through; otherwise each
    line on its own (which also names the line that is bad)."""
    if not any("\n" in line for line in lines):
        try:
            # parseNext, not parseOne: one ad, without parseOne's copy of it attribute by
            # attribute (5x the time); a partial parse fails the name check below
            ad = classad2.parseNext("\n".join(lines), parser=classad2.ParserType.Old)
        except Exception:
            ad = None
        if ad is not None:
            names = {line.partition("=")[0].strip().lower() for line in lines}
            if "" not in names and len(ad) == len(names) and {k.lower() for k in ad.keys()} == names:
                return ad
    ad = classad2.ClassAd()
    for line in lines:
        name, expr = parse_line(line)
        ad[name] = expr
    return ad


def get_ad(r: MessageReader, max_attrs: int = MAX_ATTRS, literals_only: bool = False) -> classad2.ClassAd:
    """Read one ClassAd.  ``literals_only`` applies the rules of the security handshake.

    Every line passes :mod:`.adlimits` before the C++ parser sees it."""
    n = r.get_int()
    if literals_only and n > max_attrs:
        raise ProtocolError(f"getPODClassAd: too many attributes ({n} > {max_attrs}), rejecting.")
    if literals_only and n < 0:
        raise ProtocolError(f"getPODClassAd: Negative number of expressions ({n}), rejecting.")
    if n < 0 or n > max_attrs:
        raise ProtocolError(f"getClassAd: invalid numExprs {n}")
    lines = []
    for _ in range(n):
        line = r.get_str()
        if line == SECRET_MARKER and not literals_only:
            line = r.get_str()
        if literals_only:
            check_pod_line(line)        # before the parser sees anything
        lines.append(line)
    r.get_string()   # MyType (legacy, ignored)
    r.get_string()   # TargetType (legacy, ignored)
    if not literals_only:
        check_expression_lines(lines)
    ad = _parse_lines(lines)
    if literals_only:
        for name in ad.keys():
            if isinstance(ad[name], (classad2.ExprTree, list, dict, classad2.ClassAd)):
                raise ProtocolError(f"getPODClassAd: non-literal expression rejected for attr {name}")
    return ad


def put_ad(w: MessageWriter, ad, *, projection=None, include_private: bool | None = None,
           server_time: int | None = None) -> MessageWriter:
    """Write one ClassAd (a classad2.ClassAd, or a dict of Python values / ExprTrees).

    ``projection``: iterable of attribute names to send (case-insensitive whitelist);
    ``include_private``: False drops ClaimId, Capability, _condor_priv* ... as
    unprivileged queries must; None (the default) sends them only inside an encrypted
    connection: private attributes never cross the wire in clear.
    """
    if include_private is None:
        include_private = w.encrypted
    wanted = None if projection is None else {p.lower() for p in projection}
    keep = lambda name: ((wanted is None or name.lower() in wanted)          # noqa: E731
                         and (include_private or not is_private(name)))
    lines = None
    if isinstance(ad, classad2.ClassAd):
        # Fast path: print the whole ad once.  Each attribute is one line unless a value
        # holds a raw newline (old syntax leaves it raw); then print attribute by attribute.
        text = ad.printOld()
        printed = text.split("\n")[:-1]
        if len(printed) == len(ad):
            lines = [line for line in printed if keep(line.partition(" = ")[0])]
    if lines is None:
        lines = []
        for name in ad.keys():
            if keep(name):
                value = ad.lookup(name) if isinstance(ad, classad2.ClassAd) else ad[name]
                lines.append(format_line(name, value))
    if server_time is not None:
        lines.append(f"ServerTime = {int(server_time)}")
    return put_lines(w, lines)


def put_lines(w: MessageWriter, lines: list[str]) -> MessageWriter:
    """An ad already in wire lines (``Name = <old syntax>``), with the two legacy strings."""
    w.put_int(len(lines))
    for line in lines:
        w.put_string(line)
    w.put_string("")
    w.put_string("")
    return w


_INT8 = struct.Struct(">q")


def wire_string(text: str, encrypted: bool) -> bytes:
    """One CEDAR string as ``put_string`` writes it (length-prefixed on an encrypted stream)."""
    raw = text.encode("utf-8", "surrogateescape") + b"\0"
    return _INT8.pack(len(raw)) + raw if encrypted else raw


def encode_lines(lines: list[str], encrypted: bool) -> bytes:
    """An ad already in wire lines (``Name = <old syntax>``), as ``put_ad`` would send it;
    for replies of many ads, where building each through a MessageWriter costs too much.
    (A line never holds a NUL: the job queue refuses values that would.)"""
    count = _INT8.pack(len(lines))
    if not lines:
        return count + (_EMPTY_PAIR_SIZED if encrypted else b"\0\0")
    blob = "\0".join(lines).encode("utf-8", "surrogateescape")
    if not encrypted:
        return count + blob + b"\0\0\0"
    pieces = blob.split(b"\0")
    sizes = map(_INT8.pack, map((1).__add__, map(len, pieces)))
    body = b"".join(_chain.from_iterable(zip(sizes, pieces, _repeat(b"\0"))))
    return count + body + _EMPTY_PAIR_SIZED


_EMPTY_PAIR_SIZED = (_INT8.pack(1) + b"\0") * 2
