#!/usr/bin/env python3
"""What unauthenticated peers cost a pool: collector memory under 10 x 40 MiB floods, and
real-client queries while 2,100 sockets dribble a byte a second.

    python bench/preauth.py

Starts one pool (secure posture) in a temporary directory; all traffic to 127.0.0.1.
Prints the collector's RSS before, at peak and after the floods, and the latency and
success of 10 real-client queries with the dribblers open.
"""
from __future__ import annotations

import os
import platform
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from condor_sim.pool import Pool  # noqa: E402

QUERY = """
import htcondor2, time
t0 = time.perf_counter()
htcondor2.Collector().query(htcondor2.AdTypes.Any, projection=["MyType"])
print(time.perf_counter() - t0)
"""


def packet(end: int, body: bytes) -> bytes:
    return struct.pack(">BI", end, len(body)) + body


def flood(port: int, total: int) -> None:
    chunk = packet(0, b"x" * 60_000)
    sent = 0
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(packet(0, struct.pack(">q", 60010)))
            while sent < total:
                s.sendall(chunk)
                sent += len(chunk)
    except OSError:
        pass


def memory(pool: Pool, port: int) -> tuple[float, float, float]:
    proc = psutil.Process(next(d["pid"] for d in pool.status()["daemons"] if d["name"] == "COLLECTOR"))
    before = proc.memory_info().rss
    peak, done = [before], threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], proc.memory_info().rss)
            time.sleep(0.005)
    watcher = threading.Thread(target=sample)
    watcher.start()
    threads = [threading.Thread(target=flood, args=(port, 40 << 20)) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    watcher.join()
    return before / 2**20, peak[0] / 2**20, proc.memory_info().rss / 2**20


def query(pool: Pool) -> tuple[bool, float]:
    r = subprocess.run([sys.executable, "-c", QUERY], env=pool.env, capture_output=True, text=True)
    return r.returncode == 0, float(r.stdout.strip() or "nan")


def dribblers(pool: Pool, port: int, n: int = 2100) -> list[tuple[bool, float]]:
    socks, stop = [], threading.Event()
    for _ in range(n):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        socks.append(s)

    def dribble():
        while not stop.is_set():
            for s in socks:
                try:
                    s.send(b"\0")
                except OSError:
                    pass
            stop.wait(1.0)
    t = threading.Thread(target=dribble)
    t.start()
    try:
        collector = psutil.Process(next(d["pid"] for d in pool.status()["daemons"]
                                        if d["name"] == "COLLECTOR"))
        conns = getattr(collector, "net_connections", collector.connections)
        deadline = time.monotonic() + 20
        while len(conns(kind="tcp")) < 2000 and time.monotonic() < deadline:
            time.sleep(0.05)     # until the daemon holds its table full of dribblers
        return [query(pool) for _ in range(10)]
    finally:
        stop.set()
        t.join()
        for s in socks:
            s.close()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        pool = Pool(Path(tmp) / "pool")
        pool.start(timeout=30)
        try:
            port = int(pool.address("COLLECTOR").split(":")[1].split("?")[0].rstrip(">"))
            baseline = [query(pool) for _ in range(10)]
            b, p, a = memory(pool, port)
            q = dribblers(pool, port)
        finally:
            pool.stop()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}")
    print(f"collector RSS, 10 x 40 MiB unauthenticated: before {b:.1f} MB, peak {p:.1f} MB "
          f"(+{p - b:.1f}), after {a:.1f} MB")
    ok = sum(1 for good, _ in q if good)
    print(f"real-client queries, quiet pool: median {statistics.median(t for _, t in baseline) * 1000:.1f} ms")
    times = [t for good, t in q if good]
    median = f", median {statistics.median(times) * 1000:.1f} ms" if times else ""
    print(f"real-client queries with 2,100 dribbling sockets open: {ok}/10 succeeded{median}")


if __name__ == "__main__":
    main()
