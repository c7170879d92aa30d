"""A daemon's log as tests read it: lines, marks and ``wait_for(regex)`` (ornithology's
daemon log readers)."""
from __future__ import annotations

import os
import re
import time
from pathlib import Path



class DaemonLog:
    """One daemon's log file, read from an offset: ``lines``, ``search()``, ``wait_for()``.

    ``pool.log("SCHEDD")`` covers the whole file; ``.mark()`` gives a view that starts at
    the current end, to wait for what an action is about to cause::

        log = pool.log("MASTER").mark()
        pool.kill("SCHEDD")
        log.wait_for(r"The SCHEDD \\(pid \\d+\\) died")
    """

    def __init__(self, path: str | os.PathLike, subsystem: str = "", start: int = 0):
        self.path = Path(path)
        self.subsystem = subsystem
        self.start = start

    def __repr__(self) -> str:
        return f"DaemonLog({str(self.path)!r}, start={self.start})"

    def _read(self) -> str:
        try:
            with open(self.path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                # a rotated log (the file is shorter than our offset) is read from its start
                f.seek(self.start if self.start <= size else 0)
                data = f.read()
        except FileNotFoundError:
            return ""
        text = data.decode("utf-8", errors="replace")
        cut = text.rfind("\n")
        return text[:cut + 1] if cut >= 0 else ""     # complete lines only

    @property
    def text(self) -> str:
        return self._read()

    @property
    def lines(self) -> list[str]:
        """The complete lines written so far (from this view's start)."""
        return self._read().splitlines()

    def mark(self) -> "DaemonLog":
        """A view of this log that starts at its current end."""
        try:
            size = self.path.stat().st_size
        except OSError:
            size = 0
        return DaemonLog(self.path, self.subsystem, size)

    def search(self, pattern: str | re.Pattern) -> re.Match | None:
        """The first line matching the regex (``re.search``), or None; no waiting."""
        rx = re.compile(pattern) if isinstance(pattern, str) else pattern
        for line in self.lines:
            m = rx.search(line)
            if m:
                return m
        return None

    def __contains__(self, pattern) -> bool:
        return self.search(pattern) is not None

    def wait_for(self, pattern: str | re.Pattern, timeout: float = 10.0) -> re.Match:
        """Wait until a line matches the regex; returns the match, raises TimeoutError."""
        rx = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        delay = 0.002
        while True:
            m = self.search(rx)
            if m:
                return m
            if time.monotonic() > deadline:
                tail = "\n".join(self.lines[-30:]) or "(nothing)"
                raise TimeoutError(f"no line of {self.path} matched /{rx.pattern}/ within {timeout:g} s; "
                                   f"last lines:\n{tail}")
            time.sleep(delay)
            delay = min(delay * 2, 0.05)


# ============================================================================ the common surface
