"""Start one simulated daemon process for a test, and stop it by pid afterwards."""
from __future__ import annotations

import os
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from condor_sim.poolconfig import create_pool_dir
from condor_sim.registry import DAEMONS


class DaemonProcess:
    """``python -m condor_sim.daemons.<name>`` with its own pool directory."""

    def __init__(self, pool_dir: Path, module: str, address_file: str | None = None, *,
                 security: str = "secure", overrides: dict | None = None, args: list[str] = ()):
        self.pool_dir = Path(pool_dir)
        self.config = create_pool_dir(self.pool_dir, security, overrides or {})
        self.module = module
        self.args = list(args)
        self.address_file = self.pool_dir / (address_file or DAEMONS[module.upper()].address_file)
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 15) -> "DaemonProcess":
        env = {k: v for k, v in os.environ.items() if not k.upper().startswith("_CONDOR_")}
        env["CONDOR_CONFIG"] = str(self.config)
        self.proc = subprocess.Popen([sys.executable, "-m", f"condor_sim.daemons.{self.module}", *self.args],
                                     env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     start_new_session=True)
        deadline = time.monotonic() + timeout
        while not self.address_file.exists():
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.module} exited: {self.proc.stderr.read().decode()}")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"{self.module} wrote no address file")
            time.sleep(0.02)
        return self

    @property
    def sinful(self) -> str:
        return self.address_file.read_text().splitlines()[0]

    @property
    def port(self) -> int:
        return int(self.sinful.split(":")[1].split("?")[0].rstrip(">"))

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_text(self, name: str) -> str:
        path = self.pool_dir / "log" / name
        return path.read_text(errors="replace") if path.exists() else ""

    def raw(self, body: bytes, timeout: float = 10) -> bytes:
        """One unauthenticated message (``body`` in a single last packet), then everything
        the daemon sends back until it closes."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as s:
            s.sendall(struct.pack(">BI", 1, len(body)) + body)
            s.shutdown(socket.SHUT_WR)
            got = b""
            while chunk := s.recv(65536):
                got += chunk
        return got

    def wait_for_log(self, text: str, timeout: float = 10, name: str = "SchedLog") -> str:
        """Poll the log until ``text`` is in it; its whole text, or AssertionError."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            log = self.log_text(name)
            if text in log:
                return log
            time.sleep(0.05)
        raise AssertionError(f"{text!r} not in {name}:\n{self.log_text(name)[-3000:]}")

    def assert_serving(self, within: float = 15.0, pid: int | None = None) -> None:
        """A real-client ping answers (within ``within`` s) and the process is the same."""
        from support.clients import run_client
        t0 = time.monotonic()
        r = run_client(f'import htcondor2\nreturn htcondor2.ping({self.sinful!r}, "READ")'
                       f'["AuthorizationSucceeded"]', self.config)
        assert r["ok"] and r["result"] is True, r
        assert self.alive() and (pid is None or self.pid == pid)
        assert time.monotonic() - t0 < within

    def stop(self, timeout: float = 10) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        assert not psutil.pid_exists(self.proc.pid) or \
            psutil.Process(self.proc.pid).status() == psutil.STATUS_ZOMBIE


def schedd(pool_dir: Path, **kw) -> DaemonProcess:
    """A lone schedd in its own pool directory (not started)."""
    return DaemonProcess(pool_dir, "schedd", **kw)


def schedd_fixture(prefix: str, **kw):
    """A module-scoped fixture: one started schedd with these settings, stopped at the end."""
    @pytest.fixture(scope="module")
    def fixture(tmp_path_factory):
        d = schedd(tmp_path_factory.mktemp(prefix), **kw).start()
        yield d
        d.stop()
    return fixture
