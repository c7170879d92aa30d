"""ClassAds on the wire (``condor_utils/classad_oldnew.cpp`` semantics), using ``classad2``.

Layout: ``[int N]``, N strings ``"Name = <expr in old ClassAd syntax>"``, then the two
legacy ``MyType``/``TargetType`` strings (sent empty, ignored on receipt).

Parsing and printing are the real library's; the only text handling here is splitting a
line at its first ``=`` and one known gap of the old-syntax parser (a string literal that
holds a raw newline, which the C++ reader accepts but ``classad2`` silently drops).
"""
from __future__ import annotations

import classad2

from . import ProtocolError
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
    ad = classad2.parseOne(line, parser=classad2.ParserType.Old) if "\n" not in rhs else None
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


def get_ad(r: MessageReader, max_attrs: int = MAX_ATTRS, literals_only: bool = False) -> classad2.ClassAd:
    """Read one ClassAd.  ``literals_only`` applies the rules of the security handshake."""
    n = r.get_int()
    if n < 0 or n > max_attrs:
        raise ProtocolError(f"ClassAd with {n} attributes")
    ad = classad2.ClassAd()
    for _ in range(n):
        line = r.get_str()
        if line == SECRET_MARKER:
            line = r.get_str()
        name, expr = parse_line(line)
        ad[name] = expr
        if literals_only and isinstance(ad[name], (classad2.ExprTree, list, dict, classad2.ClassAd)):
            raise ProtocolError(f"non-literal {name} in a handshake ad")
    r.get_string()   # MyType (legacy, ignored)
    r.get_string()   # TargetType (legacy, ignored)
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
    lines = []
    for name in ad.keys():
        if wanted is not None and name.lower() not in wanted:
            continue
        if not include_private and is_private(name):
            continue
        value = ad.lookup(name) if isinstance(ad, classad2.ClassAd) else ad[name]
        lines.append(format_line(name, value))
    if server_time is not None:
        lines.append(f"ServerTime = {int(server_time)}")
    w.put_int(len(lines))
    for line in lines:
        w.put_string(line)
    w.put_string("")
    w.put_string("")
    return w
