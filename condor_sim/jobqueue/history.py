"""The schedd's job history file, ``$(SPOOL)/history``, written and read as HTCondor does.

Writing (``condor_utils/classadHistory.cpp`` AppendHistory): when a job leaves the queue its
ad is printed in old ClassAd syntax, one ``Name = value`` line per attribute, private
attributes left out, in the ClassAd flat map's order (shorter names first, then names
compared without case), followed by the banner line

    *** Offset = <o> ClusterId = <c> ProcId = <p> Owner = "<owner>" CompletionDate = <d> CurrentTime = <now>

where ``<o>`` is the byte offset of the file's last line before the append (the previous
record's banner), and a missing ClusterId, ProcId or CompletionDate prints ``-1``, a missing
Owner ``?``.  Before each ad the file is rotated when its size plus the ad's (the banner not
counted) would exceed ``MAX_HISTORY_LOG``: the oldest backups are removed so that at most
``MAX_HISTORY_ROTATIONS`` remain, and the file is renamed ``history.YYYYMMDDTHHMMSS`` (local
time; a second rotation within the same second replaces the first backup, as in HTCondor).
:func:`maybe_rotate` is that rule, and the epoch history uses it too.

Reading (``condor_tools/history.cpp``, run by the schedd for QUERY_SCHEDD_HISTORY): the
current file and its backups, newest record first, each file read backwards.  Whatever
follows the last ``***`` line of a file (a torn append) is ignored; blank and ``#`` lines
are skipped; a banner with no attribute lines above it yields nothing.  ``query`` applies
``Requirements``, ``Projection``, ``NumJobMatches`` and ``Since`` as the helper does, and
:func:`reply_ads` builds the ads of its reply.

Job ads are ``dict[str, str]``: attribute name -> old-syntax expression text.  Records are
kept as raw text and only parsed (by ``classad2``) when an expression needs evaluating.
"""
from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable, Iterator, Sequence

import classad2

from ..cedar.classad_wire import is_private

DEFAULT_MAX_HISTORY_LOG = 20 * 1024 * 1024
DEFAULT_MAX_HISTORY_ROTATIONS = 2
BANNER_PREFIX = "***"
CHUNK = 1 << 20                      # bytes read per step when reading a file backwards
_OFFSET_JUMP = 200                   # findHistoryOffset's step; a shorter file reports -1
_ENCODING = "utf-8"
_ERRORS = "surrogateescape"          # arbitrary bytes survive a read/write round trip

_INT = re.compile(r"-?\d+\Z")
_REAL = re.compile(r"-?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?\Z")
# Values that reference no attribute: numbers, plain strings, the keyword literals.
_LITERAL = re.compile(r'(?:-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|"[^"\\]*"'
                      r"|(?i:true|false|undefined|error))\Z")
_BANNER_FIELD = re.compile(r'(\w+)\s*=\s*("[^"]*"|\S+)')
_BACKUP_SUFFIX = re.compile(r"(\d{4})-?(\d{2})-?(\d{2})T(\d{2}):?(\d{2}):?(\d{2})(?:\.\d+)?\Z")
_JOB_ID_EXPR = re.compile(r"\s*\(?\s*ClusterId\s*==\s*(\d+)\s*\)?"
                          r"(?:\s*&&\s*\(?\s*ProcId\s*==\s*(\d+)\s*\)?)?\s*\Z", re.I)
_JOB_ID_TEXT = re.compile(r"(\d+)(?:\.(\d+))?\Z")
_NEEDS_CLEANING = re.compile(r"\n[\n#\t ]")   # a blank, comment or indented line follows
_DYNAMIC_REFS = re.compile(r"\beval\s*\(", re.I)   # attribute names computed at run time


# --------------------------------------------------------------------------- writing

def _sort_key(name: str) -> tuple[int, str]:
    return (len(name), name.lower())


_ORDERS: dict[tuple, list[str]] = {}     # a job's attribute names -> the order they print in


def _print_order(keys: tuple, include_env: bool) -> list[str]:
    """Jobs of one cluster mostly share their attribute names: sort each set once."""
    order = _ORDERS.get((keys, include_env))
    if order is None:
        names = [n for n in keys if not is_private(n)]
        if not include_env:   # HISTORY_CONTAINS_JOB_ENVIRONMENT = false
            names = [n for n in names if n.lower() not in ("env", "environment")]
        names.sort(key=_sort_key)
        if len(_ORDERS) > 1000:
            _ORDERS.clear()
        order = _ORDERS[(keys, include_env)] = names
    return order


def format_ad(ad: dict[str, str], include_env: bool = True) -> str:
    """The ad's lines as AppendHistory prints them (``sPrintAd`` with FastSort)."""
    return "".join([f"{n} = {ad[n]}\n" for n in _print_order(tuple(ad), include_env)])


def _lookup(ad: dict[str, str], name: str) -> str | None:
    value = ad.get(name)
    if value is None:
        low = name.lower()
        value = next((v for k, v in ad.items() if k.lower() == low), None)
    return value


def _evaluate(ad: dict[str, str], name: str):
    text = "".join(f"{k} = {v}\n" for k, v in ad.items())
    try:
        return classad2.parseOne(text, parser=classad2.ParserType.Old).eval(name)
    except Exception:
        return None


def _lookup_int(ad: dict[str, str], name: str) -> int:
    """ClassAd::LookupInteger: the value, evaluated, if it is a number; else -1."""
    value = _lookup(ad, name)
    if value is None:
        return -1
    if _INT.match(value):
        return int(value)
    result = float(value) if _REAL.match(value) else _evaluate(ad, name)
    if isinstance(result, bool):
        return int(result)
    if isinstance(result, (int, float)) and not isinstance(result, classad2.Value):
        return int(result)
    return -1


def _lookup_str(ad: dict[str, str], name: str) -> str | None:
    value = _lookup(ad, name)
    if value is None:
        return None
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"' and '"' not in value[1:-1] \
            and "\\" not in value:
        return value[1:-1]
    result = _evaluate(ad, name)
    return result if isinstance(result, str) else None


def format_banner(ad: dict[str, str], offset: int, now: int) -> str:
    """The ``*** Offset = ...`` line that closes a record (without its newline)."""
    owner = _lookup_str(ad, "Owner")
    return (f"*** Offset = {offset} ClusterId = {_lookup_int(ad, 'ClusterId')}"
            f" ProcId = {_lookup_int(ad, 'ProcId')}"
            f" Owner = \"{'?' if owner is None else owner}\""
            f" CompletionDate = {_lookup_int(ad, 'CompletionDate')} CurrentTime = {int(now)}")


def format_record(ad: dict[str, str], offset: int, now: int, include_env: bool = True) -> str:
    """One history record: the ad's lines, then the banner line."""
    return format_ad(ad, include_env) + format_banner(ad, offset, now) + "\n"


def _banner_offset(size: int, last_start: int) -> int:
    """findHistoryOffset: where the file's last line starts; 0 for an empty file, and -1
    for one shorter than 200 bytes (the real code's first 200-byte read fails there)."""
    if size == 0:
        return 0
    return -1 if size < _OFFSET_JUMP else last_start


def backup_name(path: str, now: float) -> str:
    """The name a rotation gives the file: ``<path>.YYYYMMDDTHHMMSS`` in local time."""
    return f"{path}.{time.strftime('%Y%m%dT%H%M%S', time.localtime(now))}"


def _backup_time(base: str, filename: str) -> tuple | None:
    if not filename.startswith(base + "."):
        return None
    m = _BACKUP_SUFFIX.match(filename[len(base) + 1:])
    return tuple(int(g) for g in m.groups()) if m else None


def backups_to_remove(base: str, names: Iterable[str], max_rotations: int) -> list[str]:
    """Which of a directory's ``names`` to delete before ``base`` is rotated, oldest first,
    so that at most ``max_rotations`` (at least 1) backups remain once it has been
    (``RemoveExtraHistoryFiles``)."""
    backups = sorted((t, n) for n in names if (t := _backup_time(base, n)) is not None)
    extra = len(backups) - max(1, max_rotations) + 1
    return [n for _, n in backups[:max(0, extra)]]


def must_rotate(size: int | None, size_to_append: int, max_size: int) -> bool:
    """Whether appending ``size_to_append`` bytes to a file of ``size`` bytes (None: no
    such file) rotates it first (``MaybeRotateHistory``: even an empty file is rotated
    when the record alone is over the limit)."""
    return size is not None and size + size_to_append > max_size


def maybe_rotate(path: str, size_to_append: int, max_size: int, max_rotations: int,
                 now: float, size: int | None = None) -> str | None:
    """Rotate ``path`` before an append of ``size_to_append`` bytes when it would grow over
    ``max_size``: delete the oldest backups so that at most ``max_rotations`` remain, then
    rename it :func:`backup_name` (which replaces a backup made within the same second).
    ``size``: the file's size when the caller knows it (else it is looked up).  The
    backup's path, or None when nothing was rotated (or the rename failed)."""
    if size is None:
        try:
            size = os.stat(path).st_size
        except OSError:
            return None        # no file (or it cannot be looked at): nothing to rotate
    if not must_rotate(size, size_to_append, max_size):
        return None
    directory, base = os.path.split(path)
    try:
        names = os.listdir(directory or ".")
    except OSError:
        names = []
    for name in backups_to_remove(base, names, max_rotations):
        try:
            os.unlink(os.path.join(directory, name))
        except FileNotFoundError:
            pass
    target = backup_name(path, now)
    try:
        os.replace(path, target)
    except OSError:
        return None
    return target


def find_history_files(path: str) -> list[str]:
    """The backups of ``path``, oldest first, then ``path`` itself if it exists
    (``historyFileFinder.cpp`` findHistoryFiles)."""
    directory, base = os.path.split(path)
    try:
        names = os.listdir(directory or ".")
    except OSError:
        return []
    backups = sorted((t, n) for n in names if (t := _backup_time(base, n)) is not None)
    files = [os.path.join(directory, n) for _, n in backups]
    if base in names:
        files.append(path)
    return files


class HistoryFile:
    """The file layer: appends records to ``path`` and rotates it like the schedd."""

    def __init__(self, path: str, max_log: int = DEFAULT_MAX_HISTORY_LOG,
                 max_rotations: int = DEFAULT_MAX_HISTORY_ROTATIONS,
                 rotation: bool = True, include_env: bool = True, fsync: bool = False):
        self.path = path
        self.max_log = max_log
        self.max_rotations = max(1, max_rotations)
        self.rotation = rotation          # ENABLE_HISTORY_ROTATION
        self.include_env = include_env    # HISTORY_CONTAINS_JOB_ENVIRONMENT
        self.fsync = fsync

    def append(self, ads: Iterable[dict[str, str]], now: int) -> None:
        """Append one record per ad, rotating before an ad that would overflow the file."""
        exists, size, last = self._state()
        pending: list[bytes] = []
        for ad in ads:
            body = format_ad(ad, self.include_env).encode(_ENCODING, _ERRORS)
            if self.rotation and exists and size + len(body) > self.max_log:
                self._write(pending)
                pending = []
                if self._rotate(now, size, len(body)):
                    exists, size, last = False, 0, 0
                else:                     # the rename failed: go on appending to it
                    exists, size, last = self._state()
            banner = format_banner(ad, _banner_offset(size, last), now) + "\n"
            pending += (body, banner.encode(_ENCODING, _ERRORS))
            exists, last = True, size + len(body)
            size = last + len(pending[-1])
        self._write(pending)

    def _state(self) -> tuple[bool, int, int]:
        """(exists, size, where its last line starts) for the current file."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return False, 0, 0
        try:
            size = os.fstat(fd).st_size
            want = min(size, 4096)
            while True:
                os.lseek(fd, size - want, os.SEEK_SET)
                tail = _read_exact(fd, want)
                pos = tail.rfind(b"\n", 0, max(len(tail) - 1, 0))
                if pos >= 0 or want == size:
                    return True, size, size - want + pos + 1
                want = min(size, want * 4)
        finally:
            os.close(fd)

    def _write(self, chunks: list[bytes]) -> None:
        if not chunks:
            return
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            data = b"".join(chunks)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if self.fsync:
                os.fsync(fd)
        finally:
            os.close(fd)

    def _rotate(self, now: float, size: int, size_to_append: int) -> str | None:
        return maybe_rotate(self.path, size_to_append, self.max_log, self.max_rotations, now, size)

    def files(self) -> list[str]:
        return find_history_files(self.path)


def _read_exact(fd: int, n: int) -> bytes:
    parts = []
    while n > 0:
        b = os.read(fd, n)
        if not b:
            break
        parts.append(b)
        n -= len(b)
    return b"".join(parts)


# --------------------------------------------------------------------------- reading

class Record:
    """One history record as read back: its attribute lines and its banner."""

    __slots__ = ("text", "banner", "path", "_fields", "_ad", "_classad")

    def __init__(self, text: str, banner: str, path: str = ""):
        self.text = text          # the attribute lines, each ending in "\n"
        self.banner = banner      # the "*** ..." line, without its newline
        self.path = path
        self._fields: dict[str, str] | None = None
        self._ad: dict[str, str] | None = None
        self._classad: classad2.ClassAd | None = None

    def __repr__(self) -> str:
        return f"Record({self.banner!r})"

    @property
    def lines(self) -> list[str]:
        return self.text.splitlines()

    def ad(self) -> dict[str, str]:
        """The attributes, name -> expression text, in file order (a later line wins)."""
        if self._ad is None:
            ad = {}
            for line in self.text.splitlines():
                name, sep, value = line.partition(" = ")
                if not sep:
                    name, _, value = line.partition("=")
                    name, value = name.strip(), value.strip()
                ad[name] = value
            self._ad = ad
        return self._ad

    def classad(self) -> classad2.ClassAd:
        if self._classad is None:
            self._classad = classad2.parseOne(self.text, parser=classad2.ParserType.Old)
        return self._classad

    @property
    def fields(self) -> dict[str, str]:
        """The banner's ``Key = value`` pairs, values as written (Owner keeps its quotes)."""
        if self._fields is None:
            self._fields = dict(_BANNER_FIELD.findall(self.banner))
        return self._fields

    def _int_field(self, key: str) -> int | None:
        value = self.fields.get(key)
        return int(value) if value is not None and _INT.match(value) else None

    @property
    def offset(self) -> int | None:
        return self._int_field("Offset")

    @property
    def cluster(self) -> int | None:
        return self._int_field("ClusterId")

    @property
    def proc(self) -> int | None:
        return self._int_field("ProcId")

    @property
    def completion_date(self) -> int | None:
        return self._int_field("CompletionDate")

    @property
    def current_time(self) -> int | None:
        return self._int_field("CurrentTime")

    @property
    def owner(self) -> str | None:
        value = self.fields.get("Owner")
        return value[1:-1] if value and len(value) >= 2 and value[0] == '"' else value


def _clean_body(body: str) -> str:
    """Drop blank and comment lines, as condor_history does."""
    if body[:1] not in ("\n", "#", "\t", " ") and not _NEEDS_CLEANING.search(body):
        return body
    keep = [ln for ln in body.splitlines() if ln.strip(" \t\r") and not ln.lstrip(" \t").startswith("#")]
    return "".join(ln + "\n" for ln in keep)


def iter_file_newest_first(path: str, chunk: int = CHUNK) -> Iterator[Record]:
    """The records of one file, last first, reading it backwards ``chunk`` bytes at a time."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        yield from _scan_backwards(fd, path, chunk)
    finally:
        os.close(fd)


def _scan_backwards(fd: int, path: str, chunk: int) -> Iterator[Record]:
    pos = os.fstat(fd).st_size   # buf holds the file's bytes from pos on
    buf = b""

    def banner_before(limit: int) -> tuple[int, int]:
        """(start of the last *** line that starts before limit, or -1; limit), reading
        more of the file as needed (which moves indexes, hence the returned limit)."""
        nonlocal pos, buf
        while True:
            i = buf.rfind(b"\n***", 0, limit)
            if i >= 0:
                return i + 1, limit
            if pos == 0:
                return (0 if limit > 0 and buf.startswith(b"***") else -1), limit
            step = min(chunk, pos)
            pos -= step
            os.lseek(fd, pos, os.SEEK_SET)
            buf = _read_exact(fd, step) + buf[:limit]
            limit += step

    start, limit = banner_before(0)
    if start < 0:
        return                   # no banner at all: nothing complete to return
    nl = buf.find(b"\n", start)
    banner = buf[start: nl if nl >= 0 else len(buf)]   # what follows it is a torn append
    limit = start
    while True:
        prev, limit = banner_before(limit)
        body_start = banner_end = 0
        if prev >= 0:
            nl = buf.find(b"\n", prev, limit)
            banner_end = nl if nl >= 0 else limit
            body_start = banner_end + 1 if nl >= 0 else limit
        body = _clean_body(buf[body_start:limit].decode(_ENCODING, _ERRORS))
        if body:
            yield Record(body, banner.decode(_ENCODING, _ERRORS).rstrip("\r"), path)
        if prev < 0:
            return
        banner = buf[prev:banner_end]
        limit = prev


def iter_newest_first(paths: Sequence[str], chunk: int = CHUNK) -> Iterator[Record]:
    """Records of all files, newest first.  ``paths`` as :func:`find_history_files` lists
    them: oldest backup first, the current file last."""
    for path in reversed(paths):
        yield from iter_file_newest_first(path, chunk)


# --------------------------------------------------------------------------- querying

def _parse_expr(text: str) -> classad2.ExprTree:
    """An expression in old ClassAd syntax, as condor_history parses -constraint/-since."""
    ad = classad2.parseOne(f"X = {text}", parser=classad2.ParserType.Old)
    if "X" not in ad:
        raise ValueError(f"cannot parse expression: {text}")
    expr = ad.lookup("X")
    return expr if isinstance(expr, classad2.ExprTree) else classad2.ExprTree(text)


def _is_true(value) -> bool:
    """EvalExprBool: a boolean, or a number taken as non-zero."""
    if isinstance(value, classad2.Value):
        return False
    if isinstance(value, bool):
        return value
    return isinstance(value, (int, float)) and value != 0


_REFS_CACHE: dict[str, frozenset[str] | None] = {}


def _refs_of(value: str) -> frozenset[str] | None:
    """Lower-cased names an expression's text references; None when they cannot be known
    without the whole ad (``eval``) or the text does not parse."""
    refs = _REFS_CACHE.get(value, ())
    if refs == ():
        try:
            expr = _parse_expr(value)
            names = classad2.ClassAd().externalRefs(expr) if isinstance(expr, classad2.ExprTree) else []
            refs = None if _DYNAMIC_REFS.search(value) else \
                frozenset(r.rpartition(".")[2].lower() for r in names if r)
        except Exception:
            refs = None
        if len(_REFS_CACHE) > 10_000:
            _REFS_CACHE.clear()
        _REFS_CACHE[value] = refs
    return refs


def _line_index(text: str) -> dict[str, tuple[str, str]]:
    index = {}
    for line in text.splitlines():
        name, sep, value = line.partition("=")
        if sep:
            name = name.strip()
            index[name.lower()] = (name, value.strip())
    return index


class Condition:
    """An expression evaluated against records, parsing as little of each as it can.

    ``ClusterId == c`` (``&& ProcId == p``) is answered from the banner; an expression
    that references no attribute is evaluated once; otherwise only the lines the
    expression needs (those it names, and those their expressions name, and so on) are
    parsed."""

    def __init__(self, text: str):
        self.text = text
        self.expr = _parse_expr(text)
        m = _JOB_ID_EXPR.match(text)
        self.job_id = (int(m[1]), None if m[2] is None else int(m[2])) if m else None
        refs = _refs_of(text)
        self.whole = refs is None
        self.names = refs or frozenset()
        self.constant = None
        if not self.names and not self.whole:
            self.constant = _is_true(self.expr.eval(classad2.ClassAd()))
        pattern = "|".join(re.escape(n) for n in sorted(self.names)) or r"(?!)"
        self._lines = re.compile(rf"^[ \t]*({pattern})[ \t]*=[ \t]*(.*?)[ \t]*$", re.M | re.I)

    def __call__(self, record: Record) -> bool:
        if self.constant is not None:
            return self.constant
        if self.job_id is not None:
            cluster, proc = record.cluster, record.proc
            if cluster is not None and proc is not None:
                return cluster == self.job_id[0] and (self.job_id[1] is None or proc == self.job_id[1])
        if record._classad is None and not self.whole:
            text = self._needed_lines(record.text)
            if text is not None:
                mini = classad2.parseOne(text, parser=classad2.ParserType.Old)
                return _is_true(self.expr.eval(mini))
        return _is_true(self.expr.eval(record.classad()))

    def _needed_lines(self, text: str) -> str | None:
        found = {m[1].lower(): (m[1], m[2]) for m in self._lines.finditer(text)}
        pending = [v for _, v in found.values() if not _LITERAL.match(v)]
        index = None
        while pending:
            refs = _refs_of(pending.pop())
            if refs is None:
                return None
            for ref in refs - found.keys():
                if index is None:
                    index = _line_index(text)
                if ref in index:
                    found[ref] = index[ref]
                    if not _LITERAL.match(index[ref][1]):
                        pending.append(index[ref][1])
        return "".join(f"{n} = {v}\n" for n, v in found.values())


def since_condition(since) -> Condition | None:
    """``Since`` as condor_history -since takes it: an expression, or (when the text does not
    parse or is a literal) a job id ``c`` / ``c.p``; an int is a cluster id."""
    if since is None or since == "":
        return None
    if isinstance(since, int) and not isinstance(since, bool):
        return Condition(f"ClusterId == {since}")
    text = str(since).strip()
    try:
        _parse_expr(text)
        literal = _LITERAL.match(text) is not None
    except Exception:
        literal = True
    if literal:
        m = _JOB_ID_TEXT.match(text)
        if not m:
            raise ValueError(f"invalid -since constraint: {text}")
        if m[2] is not None:
            return Condition(f"ClusterId == {m[1]} && ProcId == {m[2]}")
        return Condition(f"ClusterId == {m[1]}")
    return Condition(text)


def requirements_condition(requirements: str | None) -> Condition | None:
    """None when every record matches (no constraint, or ``true``)."""
    if requirements is None or not requirements.strip():
        return None
    cond = Condition(requirements)
    return None if cond.constant is True else cond


class Projection:
    """putClassAd's whitelist: names without case, sorted; a projected attribute holding an
    expression brings the attributes it references in this ad along."""

    def __init__(self, names: Iterable[str]):
        wanted: dict[str, str] = {}
        for name in names:
            name = name.strip()
            if name:
                wanted.setdefault(name.lower(), name)
        self.wanted = wanted
        pattern = "|".join(re.escape(n) for n in wanted) or r"(?!)"
        self._lines = re.compile(rf"^[ \t]*({pattern})[ \t]*=[ \t]*(.*?)[ \t]*$", re.M | re.I)

    def __bool__(self) -> bool:
        return bool(self.wanted)

    def apply(self, record: Record) -> dict[str, str]:
        found = {m[1].lower(): m[2] for m in self._lines.finditer(record.text)}
        chosen = {low: (self.wanted[low], v) for low, v in found.items()}
        if any(not _LITERAL.match(v) for v in found.values()):
            ad = record.classad()
            values = {k.lower(): (k, v) for k, v in record.ad().items()}
            for low in sorted(found):
                if _LITERAL.match(found[low]):
                    continue
                expr = ad.lookup(self.wanted[low])
                if not isinstance(expr, classad2.ExprTree):
                    continue
                for ref in ad.internalRefs(expr):
                    rlow = ref.lower()
                    if rlow not in chosen and rlow in values:
                        chosen[rlow] = (ref, values[rlow][1])
        return {name: value for _, (name, value) in sorted(chosen.items())}


class Scan:
    """The history helper's scan, one ad at a time (newest first): iterate it for the ads
    to send; ``scanned`` then says how many records it read.

    Records are taken in the order given.  A record for which ``since`` is true ends the
    scan and is not returned, though it is counted; ``match`` > 0 ends it after that many
    matches (0 or negative: no limit); ``scan_limit`` > 0 after that many records.
    Projected ads follow putClassAd's order; unprojected ones the file's.

    ``as_lines``: each ad as its ``Name = value`` lines instead of a dict (what
    :func:`reply_ads` sends; an unprojected record's lines are then taken as they are in
    the file, which spares building and re-printing a dict per record).  A constraint
    that does not parse raises ValueError here, before anything is read."""

    def __init__(self, records: Iterable[Record], requirements: str | None = None,
                 projection: Sequence[str] = (), match: int = -1, since=None,
                 scan_limit: int = -1, as_lines: bool = False):
        self.records = records
        self.constraint = requirements_condition(requirements)
        self.stop = since_condition(since)
        self.proj = Projection(projection)
        self.match, self.scan_limit, self.as_lines = match, scan_limit, as_lines
        self.scanned = 0
        self.sent = 0

    def __iter__(self):
        proj, as_lines = self.proj, self.as_lines
        for record in self.records:
            self.scanned += 1
            if self.stop is not None and self.stop(record):
                return
            if self.constraint is None or self.constraint(record):
                if proj:
                    ad = proj.apply(record)
                    yield [f"{k} = {v}" for k, v in ad.items()] if as_lines else ad
                else:
                    yield record.text.splitlines() if as_lines else record.ad()
                self.sent += 1
                if 0 < self.match <= self.sent:
                    return
            if 0 < self.scan_limit <= self.scanned:
                return


def query(records: Iterable[Record], requirements: str | None = None,
          projection: Sequence[str] = (), match: int = -1, since=None,
          scan_limit: int = -1, as_lines: bool = False) -> tuple[list, int]:
    """The whole scan at once (see :class:`Scan`): (ads to send, records scanned)."""
    scan = Scan(records, requirements, projection, match, since, scan_limit, as_lines)
    out = list(scan)
    return out, scan.scanned


# --------------------------------------------------------------------------- replying

def reply_ads(ads: Iterable[dict[str, str] | list[str]], scanned: int,
              malformed: int = 0) -> list[list[str]]:
    """QUERY_SCHEDD_HISTORY's reply without streaming: the ads (dicts, or already lines as
    ``query(as_lines=True)`` gives them), then the closing ad ``Owner = 0, AdCount,
    MalformedAds, NumJobMatches`` (NumJobMatches = ads sent), all in one message."""
    out = [ad if isinstance(ad, list) else [f"{k} = {v}" for k, v in ad.items()] for ad in ads]
    out.append(closing_ad(len(out), scanned, malformed))
    return out


def closing_ad(sent: int, scanned: int, malformed: int = 0) -> list[str]:
    """The ad that ends a history reply (the client checks NumJobMatches against the ads
    it got)."""
    return ["Owner = 0", f"AdCount = {scanned}", f"MalformedAds = {malformed}",
            f"NumJobMatches = {sent}"]


def error_ad(code: int, message: str) -> list[str]:
    """The helper's error reply (sendHistoryErrorAd), e.g. 10 when remote history is off."""
    return ["Owner = 0", f"ErrorCode = {code}", f"ErrorString = {classad2.quote(message)}"]
