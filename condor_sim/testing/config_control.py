"""A simulated pool's config files: snapshot, restore, the test drop-in and a reconfig
that waits until every daemon has re-read its config (a mixin of SimPool)."""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Mapping

from ..pool import PoolError, PoolNotRunning
from .client_config import reload_client_config
from .common import TEST_DROP_IN, _normalize_knobs
from .processes import _process_state


class ConfigControl:
    """The config-file side of :class:`~.sim_pool.SimPool`."""

    # ------------------------------------------------------------------ config files
    def _config_files(self) -> list[Path]:
        files = [self.config_file]
        try:
            files += sorted(p for p in (self.directory / "config.d").iterdir() if p.is_file())
        except OSError:
            pass
        return files

    @staticmethod
    def _stat_key(path: Path) -> tuple:
        st = path.stat()
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def _snapshot_config(self) -> dict[str, tuple[tuple, bytes]]:
        snap = {}
        for p in self._config_files():
            try:
                snap[str(p)] = (self._stat_key(p), p.read_bytes())
            except OSError:
                continue
        return snap

    def _restore_config(self, keep: tuple[str, bytes] | None = None) -> bool:
        """Put condor_config and config.d back as they were at start (plus ``keep``, a file
        and its content); True if anything changed."""
        if not self._baseline:
            return False
        baseline = dict(self._baseline)
        if keep is not None:
            baseline[keep[0]] = (self._stat_key(Path(keep[0])), keep[1])
        changed = False
        seen = set()
        for p in self._config_files():
            key = str(p)
            seen.add(key)
            base = baseline.get(key)
            if base is None:
                p.unlink(missing_ok=True)
                changed = True
                continue
            try:
                if self._stat_key(p) == base[0]:
                    continue
                if p.read_bytes() == base[1]:
                    continue
            except OSError:
                pass
            self._write(p, base[1])
            changed = True
        for key, (_, data) in baseline.items():
            if key not in seen:
                self._write(Path(key), data)
                changed = True
        if changed:
            # (new inodes and times, same bytes)
            self._baseline = {k: v for k, v in self._snapshot_config().items()
                              if keep is None or k != keep[0]}
        return changed

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".condor-sim-tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)

    # ------------------------------------------------------------------ reconfig
    def reconfig(self, knobs: Mapping | None = None, timeout: float = 20.0) -> None:
        """Add ``knobs`` to the pool's config (``config.d/90-condor-sim-pytest``) and reconfigure
        every daemon (as ``condor_reconfig``); returns once each has re-read its config.
        ``reset()`` takes the knobs away again.  Knobs a daemon reads only when it starts
        need a pool of their own (``condor_pool_factory(config=...)``)."""
        knobs = _normalize_knobs(knobs)
        if knobs:
            path = self.directory / "config.d" / TEST_DROP_IN
            try:
                now = path.read_bytes()
            except OSError:
                now = b""
            current = self._parse_drop_in(now)
            current.update(knobs)
            text = self._render_drop_in(current)
            if text == now and self._applied == now and not self._config_changed_besides_drop_in():
                return            # the daemons already run with exactly this (a kept marker)
            self._write(path, text)
            self._reconfig_and_wait(timeout)
            self._applied = text
            return
        self._reconfig_and_wait(timeout)

    @staticmethod
    def _parse_drop_in(data: bytes) -> dict[str, str]:
        out: dict[str, str] = {}
        for line in data.decode(errors="replace").splitlines():
            k, sep, v = line.partition("=")
            if sep and not line.lstrip().startswith("#"):
                out[k.strip()] = v.strip()
        return out

    @staticmethod
    def _render_drop_in(knobs: Mapping[str, str]) -> bytes:
        text = "## set by a test (condor-sim pytest plugin); removed by reset()\n"
        text += "".join(f"{k} = {v}\n" for k, v in knobs.items())
        return text.encode()

    def _config_changed_besides_drop_in(self) -> bool:
        drop_in = str(self.directory / "config.d" / TEST_DROP_IN)
        files = {str(p): p for p in self._config_files() if str(p) != drop_in}
        if set(files) != set(self._baseline):
            return True
        for key, p in files.items():
            try:
                if self._stat_key(p) != self._baseline[key][0] and p.read_bytes() != self._baseline[key][1]:
                    return True
            except OSError:
                return True
        return False

    def _reconfig_and_wait(self, timeout: float) -> None:
        master = self._master_pid()
        if master is None:
            raise PoolNotRunning(self.directory)
        running = self.pids()
        before = {}
        for name in running:
            for f in self._address_files(name):
                try:
                    before[(name, f)] = os.stat(f).st_ino
                except OSError:
                    pass
        marks = {name: self.log(name).mark() for name in running}
        stopped = {name for name, pid in running.items()
                   if (st := _process_state(pid)) is not None and st[0] in ("T", "t")}
        # SIGHUP, which a master takes as condor_reconfig's command: no authorization
        # involved, so a knob that locks the tests' identity out cannot keep reset() from
        # undoing it.
        os.kill(master, signal.SIGHUP)
        pending = set(running) - stopped          # a paused daemon reconfigures once resumed
        deadline = time.monotonic() + timeout
        delay = 0.002
        while pending:
            for name in list(pending):
                files = [k for k in before if k[0] == name]
                for key in files:
                    try:
                        if os.stat(key[1]).st_ino != before[key]:
                            pending.discard(name)
                            break
                    except OSError:
                        continue
                if not files and name in pending and marks[name].search(r"Re-reading config files"):
                    pending.discard(name)
            if not pending:
                break
            for name in pending:
                m = marks[name].search(r"ERROR: reconfig failed.*")
                if m:
                    raise PoolError(f"{name} rejected the new configuration: {m.group(0)}")
            if time.monotonic() > deadline:
                raise PoolError(f"{', '.join(sorted(pending))} did not finish reconfiguring within "
                                f"{timeout:g} s")
            time.sleep(delay)
            delay = min(delay * 2, 0.02)
        if self.is_current():
            reload_client_config()          # the tests' own client sees the new config too
