"""HTCondor's ClassAd log (``job_queue.log``), sans-IO: records to text and text to a table.

The file is a sequence of one-line records ``<op> <fields>`` (``condor_utils/classad_log.cpp``,
``log.cpp``):

===  ==========================  ===========================================
101  NewClassAd                  ``101 <key> <MyType> <TargetType>``
102  DestroyClassAd              ``102 <key>``
103  SetAttribute                ``103 <key> <name> <value expression>``
104  DeleteAttribute             ``104 <key> <name>``
105  BeginTransaction            ``105 ``
106  EndTransaction              ``106 `` (optionally ``106 #comment``)
107  LogHistoricalSequenceNumber ``107 <seq> CreationTimestamp <time>``
===  ==========================  ===========================================

Records outside a transaction take effect at once; those inside one only when its
EndTransaction is read.  A record that cannot be read ends the replay: what follows it is
dropped if no EndTransaction follows (a torn tail, as a crash leaves it), and the log is
refused if one does (real HTCondor stops there too).  Keys are ``<cluster>.<proc>`` with
cluster ads written ``0<cluster>.-1``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

NEW, DESTROY, SET, DELETE, BEGIN, END, SEQUENCE = 101, 102, 103, 104, 105, 106, 107
OPS = frozenset((NEW, DESTROY, SET, DELETE, BEGIN, END, SEQUENCE))


class CorruptLog(Exception):
    """A bad record inside a committed transaction: the log cannot be trusted past
    ``good_bytes`` (the end of the last whole record before the damaged transaction)."""

    def __init__(self, message: str, good_bytes: int = 0):
        super().__init__(message)
        self.good_bytes = good_bytes


def cluster_key(cluster: int) -> str:
    return f"0{cluster}.-1"


def job_key(cluster: int, proc: int) -> str:
    return f"0{cluster}.-1" if proc == -1 else f"{cluster}.{proc}"


def parse_key(key: str) -> tuple[int, int] | None:
    c, dot, p = key.partition(".")
    if not dot:
        return None
    try:
        return int(c), int(p)
    except ValueError:
        return None


# ---------------------------------------------------------------------- writing
def new_ad(key: str, mytype: str = "Job", targettype: str = "Machine") -> str:
    return f"101 {key} {mytype or '(empty)'} {targettype or '(empty)'}\n"


def destroy_ad(key: str) -> str:
    return f"102 {key}\n"


def set_attr(key: str, name: str, value: str) -> str:
    return f"103 {key} {name} {value}\n"


def delete_attr(key: str, name: str) -> str:
    return f"104 {key} {name}\n"


BEGIN_LINE = "105 \n"
END_LINE = "106 \n"


def sequence(seq: int, created: int) -> str:
    return f"107 {seq} CreationTimestamp {created}\n"


def transaction(lines: list[str]) -> str:
    return BEGIN_LINE + "".join(lines) + END_LINE


# ---------------------------------------------------------------------- reading
@dataclass
class Ad:
    mytype: str = "Job"
    targettype: str = "Machine"
    attrs: dict = field(default_factory=dict)


@dataclass
class Replay:
    """What a log holds: the table of ads in file order, and how reading it ended."""
    ads: dict = field(default_factory=dict)          # key -> Ad
    sequence: int = 1
    created: int | None = None
    records: int = 0
    good_bytes: int = 0                              # bytes up to the last whole record
    warnings: list = field(default_factory=list)
    torn: bool = False                               # unterminated record or transaction at the end


def _apply(ads: dict, rec: tuple) -> None:
    op = rec[0]
    if op == NEW:
        ads[rec[1]] = Ad(rec[2], rec[3])
    elif op == DESTROY:
        ads.pop(rec[1], None)
    elif op == SET:
        ad = ads.get(rec[1])
        if ad is not None:
            ad.attrs[rec[2]] = rec[3]
    elif op == DELETE:
        ad = ads.get(rec[1])
        if ad is not None:
            ad.attrs.pop(rec[2], None)


def parse_record(line: str) -> tuple | None:
    """One line (without its newline) to a record tuple, or None if it is not one."""
    op_text, _, rest = line.partition(" ")
    try:
        op = int(op_text)
    except ValueError:
        return None
    if op == SET:
        key, _, rest = rest.partition(" ")
        name, sp, value = rest.partition(" ")
        if not key or not name or not sp or not value:
            return None
        return (SET, key, name, value)
    if op == NEW:
        parts = rest.split(" ")
        if len(parts) != 3 or not parts[0]:
            return None
        return (NEW, parts[0], "" if parts[1] == "(empty)" else parts[1],
                "" if parts[2] == "(empty)" else parts[2])
    if op == DELETE:
        parts = rest.split(" ")
        if len(parts) != 2 or not all(parts):
            return None
        return (DELETE, parts[0], parts[1])
    if op == DESTROY:
        return (DESTROY, rest) if rest and " " not in rest else None
    if op in (BEGIN, END):
        return (op,) if rest == "" or (op == END and rest.startswith("#")) else None
    if op == SEQUENCE:
        parts = rest.split(" ")
        if len(parts) == 3 and parts[1] == "CreationTimestamp" and parts[0].isdigit() and parts[2].isdigit():
            return (SEQUENCE, int(parts[0]), int(parts[2]))
        return None
    return None


def replay(data: bytes) -> Replay:
    """Read a whole log.  Raises :class:`CorruptLog` for a bad record followed by an
    EndTransaction (as the real schedd refuses to start then)."""
    out = Replay()
    pending: list | None = None
    pos = 0
    n = len(data)
    while pos < n:
        nl = data.find(b"\n", pos)
        if nl < 0:
            out.torn = True
            out.warnings.append("Detected unterminated log entry")
            break
        raw = data[pos:nl]
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            line = None
        rec = parse_record(line) if line is not None else None
        if rec is None:
            # bad record: fatal if a committed transaction follows, else a torn tail
            for later in data[nl + 1:].split(b"\n"):
                if later.startswith(b"106 ") or later == b"106":
                    raise CorruptLog(f"corrupt log record {out.records + 1} (byte offset {pos}) "
                                     f"occurred inside closed transaction, recovery failed",
                                     out.good_bytes)
            out.torn = True
            out.warnings.append(f"Encountered corrupt log record {out.records + 1} (byte offset {pos})")
            break
        out.records += 1
        pos = nl + 1
        op = rec[0]
        if op == BEGIN:
            if pending is not None:
                out.warnings.append("Encountered nested transactions, log may be bogus...")
            else:
                pending = []
        elif op == END:
            if pending is None:
                out.warnings.append("Encountered unmatched end transaction, log may be bogus...")
            else:
                for r in pending:
                    _apply(out.ads, r)
                pending = None
            out.good_bytes = pos
        elif op == SEQUENCE:
            out.sequence, out.created = rec[1], rec[2]
        elif pending is not None:
            pending.append(rec)
        else:
            _apply(out.ads, rec)
        if pending is None:
            out.good_bytes = pos
    if pending is not None:
        out.torn = True
        out.warnings.append("Detected unterminated transaction")
    return out


def snapshot(seq: int, created: int, ads: dict) -> str:
    """The compacted log: the sequence record, then every ad as NewClassAd + SetAttributes
    (``WriteClassAdLogState``)."""
    out = [sequence(seq, created)]
    for key, ad in ads.items():
        out.append(new_ad(key, ad.mytype, ad.targettype))
        out.extend(f"103 {key} {k} {v}\n" for k, v in ad.attrs.items())
    return "".join(out)
