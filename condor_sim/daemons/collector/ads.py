"""Collector ads kept as the wire lines they arrived in, parsed only where needed, sans-IO.

A stored ad is one string, its lines joined by NUL (a CEDAR string never holds one), with
the start of each line and a shared *layout* (the attribute names in order, and a
lower-cased name -> line index map) that every ad of the same shape reuses.  So 10,000
slot ads cost their text and little more, a projection is a few slices, a whole ad goes
back out as it came in, and a constraint is evaluated by the real ClassAd library over a
small ad of only the attributes it can reach (as :class:`condor_sim.jobqueue.select.Matcher`
does for jobs); within one query, ads whose reached lines are the same share one result.
"""
from __future__ import annotations

import re
import struct
from array import array
from functools import lru_cache
from itertools import accumulate

import classad2

from ...cedar import ProtocolError
from ...cedar.adlimits import MAX_BRACKETS, MAX_LINE, MAX_OPERATORS, check_expression_lines
from ...cedar.classad_wire import SECRET_MARKER, _parse_lines, encode_lines, format_line, is_private, parse_line
from ...cedar.stream import MAX_ENCRYPTED_STRING, MessageReader
from ...jobqueue.select import names_in

_INT = struct.Struct(">q")
# Each line's name, found from the NUL before it (a literal prefix the scanner skips to);
# a line it does not fit sends the ad to the careful split.
_NAME = re.compile(r"\0([A-Za-z_][A-Za-z0-9_.]*) ?=")
_NOT_OPS = bytes(b for b in range(256) if b not in b"-+*/%&|^!<>=?:.~")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"([{")
# Functions whose result is not a function of the attribute lines a constraint names:
# an ad that uses them is evaluated whole and never shares a result.
_DYNAMIC = {"eval", "random", "time", "splittime", "formattime", "unparse"}


class Layout:
    """Attribute names of ads of one shape, shared by all of them."""

    __slots__ = ("names", "index", "private")

    def __init__(self, names: tuple[str, ...]):
        self.names = names
        index: dict[str, int] = {}
        for i, name in enumerate(names):
            index[name.lower()] = i          # a repeated name: the last line wins, as in a ClassAd
        self.index = index
        self.private = any(is_private(n) for n in names)


_LAYOUTS: dict[tuple, Layout] = {}


def layout_of(names: tuple[str, ...]) -> Layout:
    got = _LAYOUTS.get(names)
    if got is None:
        if len(_LAYOUTS) > 10_000:
            _LAYOUTS.clear()
        got = _LAYOUTS[names] = Layout(names)
    return got


_NONE: frozenset = frozenset()


def refs_of(rhs: str) -> frozenset:
    """The names a value's text mentions; a string or number literal (most values, and
    unique ones like Name: the cache would not hold them) is seen as such at once."""
    if rhs[:1] == '"' and rhs.find('"', 1) == len(rhs) - 1:
        return _NONE
    if rhs[:1].isdigit() or rhs[:1] == "-":
        try:
            float(rhs)
            return _NONE
        except ValueError:
            pass
    return value_names(rhs)


@lru_cache(maxsize=8192)
def value_names(text: str) -> frozenset:
    """The lower-cased names an expression's text mentions."""
    return frozenset(names_in(text))


class StoredAd:
    """One ad as its wire lines.  ``get``/``[]``/``in`` read single attributes (each
    parsed by classad2 on its own); ``classad()`` parses the whole ad."""

    __slots__ = ("layout", "text", "starts")

    def __init__(self, text: str, names: tuple[str, ...] | None = None, lines: list[str] | None = None):
        self.text = text
        if names is None:
            names = tuple(_NAME.findall("\0" + text))
        if lines is None:
            lines = text.split("\0") if text else []
        if len(names) != len(lines):
            names = tuple(line.partition("=")[0].strip() for line in lines)
        self.layout = layout_of(names)
        self.starts = array("I" if len(text) >= 1 << 16 else "H",
                            accumulate(map(_PLUS_ONE, map(len, lines)), initial=0))

    @classmethod
    def from_lines(cls, lines: list[str]) -> "StoredAd":
        return cls("\0".join(lines))

    @classmethod
    def from_classad(cls, ad) -> "StoredAd":
        """A ClassAd (or a dict) printed as wire lines."""
        if isinstance(ad, classad2.ClassAd):
            printed = ad.printOld().split("\n")[:-1]
            if len(printed) == len(ad):
                return cls.from_lines(printed)
            return cls.from_lines([format_line(k, ad.lookup(k)) for k in ad.keys()])
        return cls.from_lines([format_line(k, v) for k, v in ad.items()])

    # ---------------------------------------------------------------- reading
    def __len__(self) -> int:
        return len(self.layout.names)

    def lines(self) -> list[str]:
        return self.text.split("\0") if self.text else []

    def line(self, i: int) -> str:
        return self.text[self.starts[i]:self.starts[i + 1] - 1]

    def line_of(self, name: str) -> str | None:
        i = self.layout.index.get(name.lower())
        return None if i is None else self.text[self.starts[i]:self.starts[i + 1] - 1]

    def __contains__(self, name: str) -> bool:
        return name.lower() in self.layout.index

    def keys(self) -> list[str]:
        idx = self.layout.index
        return [n for i, n in enumerate(self.layout.names) if idx[n.lower()] == i]

    def __iter__(self):
        return iter(self.keys())

    def value_text(self, name: str) -> str | None:
        line = self.line_of(name)
        return None if line is None else line.partition("=")[2].strip()

    def lookup(self, name: str):
        line = self.line_of(name)
        if line is None:
            raise KeyError(name)
        return parse_line(line)[1]

    def values(self, names: tuple[str, ...]) -> dict:
        """Several attributes at once (one parse), as ``get`` gives each; absent ones left out."""
        index = self.layout.index
        lines = [self.line(index[n.lower()]) for n in names if n.lower() in index]
        if not lines:
            return {}
        if any("\n" in line for line in lines):
            return {n: self.get(n) for n in names if n in self}
        try:
            ad = classad2.parseNext("\n".join(lines), parser=classad2.ParserType.Old)
        except Exception:
            ad = None
        if ad is None or len(ad) != len(lines):
            return {n: self.get(n) for n in names if n in self}
        out = {}
        for n in names:
            v = ad.get(n, _MISSING)
            if v is not _MISSING:
                out[n] = v
        return out

    def get(self, name: str, default=None):
        """The attribute's value as classad2 gives it (a literal, or an ExprTree)."""
        i = self.layout.index.get(name.lower())
        if i is None:
            return default
        line = self.line(i)
        real = self.layout.names[i]
        try:
            ad = classad2.parseNext(line, parser=classad2.ParserType.Old) if "\n" not in line else None
            if ad is None or len(ad) != 1:
                ad = classad2.ClassAd()
                ad[real] = parse_line(line)[1]
            return ad.get(real, default)
        except Exception:
            return default

    def __getitem__(self, name: str):
        v = self.get(name, _MISSING)
        if v is _MISSING:
            raise KeyError(name)
        return v

    def classad(self) -> classad2.ClassAd:
        """The whole ad, parsed (for the rare paths that need all of it)."""
        try:
            return _parse_lines(self.lines())
        except ProtocolError:
            ad = classad2.ClassAd()
            for line in self.lines():
                try:
                    name, expr = parse_line(line)
                except ProtocolError:
                    continue
                ad[name] = expr
            return ad

    def attribute_texts(self) -> dict[str, str]:
        """name -> expression text, for each attribute (the last of a repeated name)."""
        out = {}
        for line in self.lines():
            name, _, rhs = line.partition("=")
            out[name.strip()] = rhs.strip()
        return out

    # ---------------------------------------------------------------- changing
    def __setitem__(self, name: str, value) -> None:
        self.update({name: value})

    def update(self, values: dict) -> None:
        """Set attributes (Python values or ExprTrees): a named line is replaced in place,
        a new one appended."""
        new = self.with_lines([(name, format_line(name, value)) for name, value in values.items()])
        self.text, self.layout, self.starts = new.text, new.layout, new.starts

    def with_lines(self, extra: list[tuple[str, str]]) -> "StoredAd":
        """A copy with ``(name, line)`` pairs set (replacing or appending), built at once."""
        index = self.layout.index
        if not any(name.lower() in index for name, _ in extra) and self.text:
            new = [line for _, line in extra]      # all new: appended, nothing re-split
            names = self.layout.names + tuple(name for name, _ in extra)
            out = StoredAd.__new__(StoredAd)
            out.text = self.text + "\0" + "\0".join(new)
            out.layout = layout_of(names)
            starts = array("I" if len(out.text) >= 1 << 16 else "H", self.starts)
            starts.extend(accumulate(map(_PLUS_ONE, map(len, new)), initial=starts[-1]))
            del starts[len(self.starts)]        # accumulate repeats its initial value
            out.starts = starts
            return out
        lines = self.lines()
        names = list(self.layout.names)
        index = self.layout.index
        for name, line in extra:
            i = index.get(name.lower())
            if i is None:
                lines.append(line)
                names.append(name)
            else:
                lines[i] = line
        return StoredAd("\0".join(lines), tuple(names), lines)

    # ---------------------------------------------------------------- sending
    def encode(self, encrypted: bool, include_private: bool = False) -> bytes:
        """The ad as put_ad sends it: ``[int N]``, N strings, two empty strings."""
        if self.layout.private and not include_private:
            return encode_lines([line for line, name in zip(self.lines(), self.layout.names)
                                 if not is_private(name)], encrypted)
        n = len(self.layout.names)
        if not encrypted:
            if not n:
                return _INT.pack(0) + b"\0\0"
            return _INT.pack(n) + self.text.encode("utf-8", "surrogateescape") + b"\0\0\0"
        return encode_lines(self.lines(), True)

    def encode_projection(self, names: list[str], encrypted: bool, include_private: bool = False) -> bytes:
        """Only the listed attributes (and what listed expressions refer to), each named
        as the query spelled it: what putClassAd sends for a whitelist."""
        index = self.layout.index
        wanted: dict[str, str] = {}
        for name in names:
            wanted.setdefault(name.lower(), name)
        out = []
        listed = list(wanted.items())
        todo = listed
        n_listed = len(listed)
        k = 0
        while k < len(todo):
            low, spelled = todo[k]
            k += 1
            i = index.get(low)
            if i is None or (not include_private and is_private(spelled)):
                continue
            rhs = self.line(i).partition("=")[2].strip()
            out.append(f"{spelled} = {rhs}")
            if k > n_listed:
                continue            # one level: what a listed attribute refers to
            for ref in refs_of(rhs):
                if ref not in wanted and ref in index:
                    real = self.layout.names[index[ref]]
                    wanted[ref] = real
                    todo.append((ref, real))
        return encode_lines(out, encrypted)


_MISSING = object()
_PLUS_ONE = (1).__add__


# ---------------------------------------------------------------------- receiving
def read_ad(r: MessageReader, max_attrs: int) -> StoredAd:
    """One ad off the wire, as getClassAd reads it, without parsing its expressions.  The
    lines still pass the bounds of :mod:`condor_sim.cedar.adlimits` (the cheap whole-ad
    count first), so nothing unbounded can reach the parser later."""
    n = r.get_int()
    if n < 0 or n > max_attrs:
        raise ProtocolError(f"getClassAd: invalid numExprs {n}")
    start = r.pos
    pieces = _fast_pieces(r, n)
    if pieces is None:
        r.pos = start
        pieces = []
        for _ in range(n):
            line = r.get_str()
            if line == SECRET_MARKER:
                line = r.get_str()
            pieces.append(line.split("\0", 1)[0].encode("utf-8", "surrogateescape"))
        r.get_string()   # MyType (legacy, ignored)
        r.get_string()   # TargetType (legacy, ignored)
    blob = b"\0".join(pieces)
    if len(blob) > MAX_LINE or len(blob.translate(None, _NOT_OPS)) > MAX_OPERATORS \
            or len(blob.translate(None, _NOT_BRACKETS)) > MAX_BRACKETS:
        check_expression_lines([p.decode("utf-8", "surrogateescape") for p in pieces])
    text = blob.decode("utf-8", "surrogateescape")
    return StoredAd(text, None, text.split("\0") if text else [])


def _fast_pieces(r: MessageReader, n: int) -> list[bytes] | None:
    """The n lines and the two legacy strings, when nothing unusual is in them (no NULL
    string, no secret marker); None sends the caller to the careful reader."""
    data = r.data
    if not r.encrypted:
        parts = data[r.pos:].split(b"\0", n + 2)
        if len(parts) < n + 3:
            return None
        pieces = parts[:n]
        size = sum(map(len, parts[:n + 2])) + n + 2
        if b"ZKM" in pieces or data.find(b"\xff", r.pos, r.pos + size) >= 0:
            return None         # a secret marker or a NULL string: read with care
        r.pos += size
        return pieces
    pos, end = r.pos, len(data)
    pieces = []
    append = pieces.append
    unpack = _INT.unpack_from
    try:
        for _ in range(n + 2):
            size = unpack(data, pos)[0]
            if size < 1 or size > MAX_ENCRYPTED_STRING:
                return None
            pos += 8
            append(data[pos:pos + size])
            pos += size
    except struct.error:
        return None
    if pos > end or any(p[-1:] != b"\0" for p in pieces):
        return None
    pieces = [p[:-1] for p in pieces[:n]]
    if b"ZKM" in pieces or b"\xff" in pieces or b"\0" in b"".join(pieces):
        return None
    r.pos = pos
    return pieces


# ---------------------------------------------------------------------- constraints
class Constraint:
    """A query's Requirements over stored ads (true only when it evaluates to true, or a
    non-zero number, with the stored ad as MY)."""

    def __init__(self, expr):
        self.expr = expr
        text = str(expr)
        self.refs = frozenset(names_in(text))
        self.whole = bool(self.refs & _DYNAMIC)
        self.memo: dict[tuple, bool] = {}

    def matches(self, ad: StoredAd) -> bool:
        if self.whole:
            return evaluates_true(self.expr, ad.classad())
        lines = reach(ad, self.refs)
        key = tuple(lines)
        got = self.memo.get(key)
        if got is None:
            got = self.memo[key] = self._eval(lines, ad)
        return got

    def _eval(self, lines: list[str], ad: StoredAd) -> bool:
        if not lines:
            return evaluates_true(self.expr, classad2.ClassAd())
        small = None
        if not any("\n" in line for line in lines):
            try:
                small = classad2.parseNext("\n".join(lines), parser=classad2.ParserType.Old)
            except Exception:
                small = None
            if small is not None and len(small) != len({x.partition("=")[0].strip().lower() for x in lines}):
                small = None
        if small is None:
            small = ad.classad()
        return evaluates_true(self.expr, small)


def reach(ad: StoredAd, refs) -> list[str]:
    """The lines a set of names can reach: the names' lines, then the lines their values
    name, in turn."""
    index = ad.layout.index
    found = [index[n] for n in refs if n in index]
    if not found:
        return []
    seen = set(refs)
    out = []
    while found:
        i = found.pop()
        line = ad.line(i)
        out.append(line)
        for n in value_names(line.partition("=")[2]):
            if n not in seen:
                seen.add(n)
                j = index.get(n)
                if j is not None:
                    found.append(j)
    return out


def evaluates_true(expr, ad, target=None) -> bool:
    """``expr`` in ``ad`` (and ``target`` as TARGET) is true, or a non-zero number."""
    try:
        v = expr.eval(ad, target) if target is not None else expr.eval(ad)
    except Exception:
        return False
    if isinstance(v, classad2.Value):      # undefined or error (an IntEnum: test it first)
        return False
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float)):
        return v != 0
    return False
