"""The thin I/O under :mod:`.wire`: a protocol run on a connection, files written under a
directory (never outside it, never through a link), files read for an upload."""
from __future__ import annotations

import os
import stat

from . import wire


async def run(steps: wire.Steps, chan, timeout: float) -> wire.Outcome:
    """Drive one side of a transfer on ``chan`` (a :class:`~condor_sim.connection.Channel`)."""
    value = None
    while True:
        try:
            op = steps.send(value)
        except StopIteration as stop:
            return stop.value
        value = None
        if op is wire.RECV:
            value = await chan.read_message(timeout)
        elif isinstance(op, wire.RecvRaw):
            value = await chan.read_raw(op.n, timeout)
        elif isinstance(op, wire.Send):
            await chan.send(op.payload)
        elif isinstance(op, wire.SendRaw):
            await chan.send_raw(op.data)
        else:
            raise TypeError(f"unknown transfer step {op!r}")


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class DirSink:
    """Writes received files under ``root`` (names already checked by the protocol; the
    parent is checked again here, so a link planted in the directory leads nowhere)."""

    def __init__(self, root: str, owner: tuple[int, int] | None = None):
        self.root = os.path.realpath(root)
        self.owner = owner
        self._fd: int | None = None
        self._path = ""
        self.errors: list[str] = []

    def _inside(self, name: str) -> str | None:
        path = os.path.join(self.root, name)
        parent = os.path.realpath(os.path.dirname(path))
        if parent != self.root and not parent.startswith(self.root + os.sep):
            self.errors.append(f"{name}: outside the sandbox")
            return None
        return path

    def mkdir(self, name: str, mode: int) -> None:
        path = self._inside(name)
        if path is None:
            return
        try:
            os.mkdir(path, mode)
        except FileExistsError:
            if not stat.S_ISDIR(os.lstat(path).st_mode):
                self.errors.append(f"{name}: exists and is not a directory")
        except OSError as e:
            self.errors.append(f"{name}: {e.strerror}")
        self._chown(path)

    def open(self, name: str, mode: int) -> None:
        self._fd, self._path = None, ""
        path = self._inside(name)
        if path is None:
            return
        try:
            if os.path.islink(path):
                os.unlink(path)
            self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _NOFOLLOW, mode)
            os.fchmod(self._fd, mode)
            self._path = path
        except OSError as e:
            self.errors.append(f"{name}: {e.strerror}")

    def write(self, data: bytes) -> None:
        if self._fd is None:
            return
        view = memoryview(data)
        while view:
            n = os.write(self._fd, view)
            view = view[n:]

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._chown(self._path)
        self._fd = None

    def _chown(self, path: str) -> None:
        if self.owner is not None and path:
            try:
                os.lchown(path, *self.owner)
            except OSError:
                pass


class DirSource:
    """Reads the files of an upload from ``root``."""

    def __init__(self, root: str):
        self.root = root

    def chunks(self, name: str, size: int, chunk: int):
        try:
            fd = os.open(os.path.join(self.root, name), os.O_RDONLY | _NOFOLLOW)
        except OSError:
            return
        try:
            left = size
            while left > 0:
                data = os.read(fd, min(chunk, left))
                if not data:
                    return
                left -= len(data)
                yield data
        finally:
            os.close(fd)


def top_level_items(root: str, names: list[str] | None, newer_than: float) -> list[wire.Item]:
    """The regular files directly in ``root`` (or only ``names`` of them) changed after
    ``newer_than`` (seconds since the epoch), in name order."""
    items = []
    try:
        entries = sorted(os.listdir(root))
    except OSError:
        return []
    wanted = set(names) if names is not None else None
    for name in entries:
        if wanted is not None and name not in wanted:
            continue
        try:
            st = os.lstat(os.path.join(root, name))
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode) or st.st_mtime <= newer_than:
            continue
        items.append(wire.Item(name, stat.S_IMODE(st.st_mode), st.st_size))
    return items
