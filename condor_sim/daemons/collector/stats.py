"""The per-ad update statistics the real collector writes into every stored ad
(``CollectorDaemonStatsList::updateStats`` of ``collector_stats.cpp``), sans-IO.

Each daemon ad, by type and key, has a count of updates, of updates whose predecessor was
known (sequenced), of updates found lost from gaps in ``UpdateSequenceNumber`` within one
``DaemonStartTime``, and a ring of COLLECTOR_DAEMON_HISTORY_SIZE bits (1: lost) printed
newest first as hex: ``UpdatesTotal``, ``UpdatesSequenced``, ``UpdatesLost``,
``UpdatesHistory``.
"""
from __future__ import annotations

WORD_BITS = 32
DEFAULT_HISTORY = 128


class UpdateStats:
    """One ad's counters and its history ring (the real one's bit layout: words of 32
    bits, and a write position that wraps one bit before the end)."""

    __slots__ = ("total", "sequenced", "dropped", "bits", "bitnum", "size", "maxbit")

    def __init__(self, size: int = DEFAULT_HISTORY):
        self.total = self.sequenced = self.dropped = 0
        self.bits = 0
        self.bitnum = 0
        self.size = max(0, size)
        words = (self.size + WORD_BITS - 1) // WORD_BITS
        self.maxbit = WORD_BITS * words - 1 if self.size else 0

    def update(self, sequenced: bool, dropped: int) -> None:
        self.total += 1
        self.sequenced += dropped + (1 if sequenced else 0)
        self.dropped += dropped
        if dropped:
            self._set(True, dropped)
        self._set(False, 1)

    def _set(self, lost: bool, count: int) -> None:
        if not self.size:
            return
        if count >= self.maxbit:          # the whole ring over: every bit it writes is set
            mask = (1 << self.maxbit) - 1
            self.bits = self.bits | mask if lost else self.bits & ~mask
            self.bitnum = (self.bitnum + count) % self.maxbit
            return
        for _ in range(count):
            mask = 1 << self.bitnum
            self.bits = self.bits | mask if lost else self.bits & ~mask
            self.bitnum += 1
            if self.bitnum >= self.maxbit:
                self.bitnum = 0

    def history(self) -> str:
        """The ring newest first, four bits to a hex digit (``getHistoryString``)."""
        if not self.size:
            return ""
        if not self.bits:
            return "0" * ((self.size + 3) // 4)
        offset = self.bitnum - 1
        if offset < 0:
            offset = self.maxbit
        out = []
        digit = used = 0
        total_bits = self.maxbit + 1
        for _ in range(self.size):
            if self.bits >> offset & 1:
                digit |= 0x8 >> used
            offset = offset - 1 if offset > 0 else total_bits - 1
            used += 1
            if used == 4:
                out.append("0123456789abcdef"[digit])
                digit = used = 0
        if used:
            out.append("0123456789abcdef"[digit])
        return "".join(out)

    def lines(self) -> list[tuple[str, str]]:
        """The four attributes as (name, wire line)."""
        out = [("UpdatesTotal", f"UpdatesTotal = {self.total}"),
               ("UpdatesSequenced", f"UpdatesSequenced = {self.sequenced}"),
               ("UpdatesLost", f"UpdatesLost = {self.dropped}")]
        if self.size:
            out.append(("UpdatesHistory", f'UpdatesHistory = "{self.history()}"'))
        return out


def lost_updates(old_seq, old_start, new_seq, new_start) -> tuple[bool, int]:
    """(sequenced, dropped) of an update over a stored ad (``CollectorStats::update``)."""
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (old_seq, old_start, new_seq, new_start)):
        return False, 0
    expected = old_seq + 1
    if new_start == old_start and expected != new_seq:
        return True, 1 if new_seq < expected else new_seq - expected
    return True, 0
