"""How the master stops: reaping its children, stopping them by stages (graceful, fast,
hard), what to do when all are gone, and restarting itself by exec (masterDaemon.cpp
``Daemons::StopAllDaemons`` ... ``FinishRestartMaster``).  A mixin of :class:`~.daemon.Master`.
"""
from __future__ import annotations

import os
import sys
import time

from ... import procs
from ... import texts as T
from .executables import master_command
from .constants import (BACKGROUND_FD_ENV, GRACEFUL, MASTER_EXIT, MASTER_RESET, MASTER_RESTART,
                        NONE, PEACEFUL)


class MasterStopping:
    # ------------------------------------------------------------ reaping
    def cancel_held(self) -> None:
        for name in list(self.held):
            self.held.pop(name).cancel()

    def reap(self) -> None:
        for name, h in list(self.held.items()):
            if procs.reap(h.pid) is not None:        # died before we needed it
                h.close()
                self.held.pop(name, None)
        for pid, d in list(self.removed.items()):
            status = procs.reap(pid)
            if status is not None:
                self.removed.pop(pid, None)
                d.exited(status)
                self._after_exit(None, status)
        for name in sorted(self.daemons):
            d = self.daemons[name]
            if not d.runs_here or not d.pid:
                continue
            status = procs.reap(d.pid)
            if status is not None:
                self._after_exit(d, status)

    async def _reap_poll(self) -> None:
        self.reap()

    def _after_exit(self, d, status: int) -> None:
        if self.reaper == "ALL":
            if d is not None:
                d.exited(status)
            daemons = startds = 0
            for x in list(self.removed.values()) + list(self.daemons.values()):
                if x.runs_here and x.pid:
                    daemons += 1
                    if x.name.startswith("STARTD"):
                        startds += 1
            if not daemons:
                self.all_daemons_gone()
            elif not startds:
                self.all_startds_gone()
        elif d is not None:
            expected = d.exited(status)
            if self.publish_obituaries:
                d.obituary(status)
            d.restart(expected)

    # ------------------------------------------------------------ stopping
    def set_all_reaper(self, startds_first: bool = False) -> None:
        if self.reaper == "ALL":
            return
        self.reaper = "ALL"
        self.stop_others_when_startds_gone = GRACEFUL if startds_first else NONE

    def set_default_reaper(self) -> None:
        self.reaper = "DEFAULT"

    def _running(self):
        return [self.daemons[n] for n in sorted(self.daemons)
                if self.daemons[n].pid and self.daemons[n].runs_here]

    def _stop_all(self, method: str, then_others: str | None = None) -> None:
        """Stop every running child with ``method``; with ``then_others``, the startds
        go first and the rest follow (that way) when the last startd is gone."""
        self._cancel_retry()
        self.set_all_reaper()
        running = self._running()
        startds = [d for d in running if d.name.startswith("STARTD")] if then_others else []
        for d in startds or running:
            getattr(d, method)()
        if startds:
            self.stop_others_when_startds_gone = then_others
        if not running:
            self.all_daemons_gone()

    def stop_all_daemons(self) -> None:
        self._stop_all("stop", GRACEFUL)

    def stop_fast_all_daemons(self) -> None:
        self._stop_all("stop_fast")

    def stop_peaceful_all_daemons(self) -> None:
        self._stop_all("stop_peaceful", PEACEFUL)

    def hard_kill_all_daemons(self) -> None:
        self._stop_all("hard_kill")

    def cancel_restart_timers(self) -> None:
        for n in sorted(self.daemons):
            self.daemons[n].cancel_restart_timers()

    def all_startds_gone(self) -> None:
        stop = self.stop_others_when_startds_gone
        self.stop_others_when_startds_gone = NONE
        if stop in (GRACEFUL, PEACEFUL):
            self.log.log("All STARTDs are gone.  Stopping other daemons "
                         + ("Gracefully" if stop == GRACEFUL else "Peacefully"))
            for d in self._running():
                if stop == PEACEFUL:
                    d.stop_peaceful()
                else:
                    d.stop()

    def all_daemons_gone(self) -> None:
        action = self.all_gone_action
        if action == MASTER_RESET:
            self.log.log(T.ALL_GONE)
            self.set_default_reaper()
        elif action == MASTER_RESTART:
            self.log.log(T.ALL_GONE_RESTARTING)
            self.finish_restart_master()
        elif action == MASTER_EXIT:
            self.log.log(T.ALL_GONE_EXITING)
            self.master_exit(0)

    def master_exit(self, status: int) -> None:
        self.core.exit_status = status
        self.release_background_parent(0)
        self.core.request_shutdown(fast=False)

    # ------------------------------------------------------------ restart (re-exec)
    def finish_restart_master(self) -> None:
        if self.immediate_restart:
            self.log.log(T.RESTART_NOW)
            self.final_restart_master()
        else:
            self.log.log(T.RESTART_LATER.format(seconds=self.new_bin_delay))
            self.loop.call_later(self.new_bin_delay, self.final_restart_master)

    def final_restart_master(self) -> None:
        path = self.daemons["MASTER"].process_name or self.exe_path()
        self.cancel_held()
        self.release_lock()
        os.environ.pop("CONDOR_INHERIT", None)
        os.environ.pop(BACKGROUND_FD_ENV, None)
        args = ["-f"] + [a for a in self.argv[1:] if a not in ("-f", "-foreground", "-b", "-background")]
        program, argv = master_command(path, self.exe_path(), args)
        self.log.log(T.DOING_EXEC.format(path=path))
        try:
            self.core.server.close()
        except Exception:
            pass
        sys.stdout.flush()
        sys.stderr.flush()
        while True:
            try:
                os.execv(program, argv)
            except OSError as e:
                me = self.daemons["MASTER"]
                me.restarts += 1
                n = me.next_start()
                self.log.log(f"Cannot execute condor_master (errno={e.errno}), will try again in {n} seconds")
                time.sleep(n)
