"""Latency of the security handshake with the real client, and codec throughput.

Starts one simulated schedd (default secure posture), then from a child process running
the real htcondor2 client measures:
  * ping (DC_SEC_QUERY: always a full handshake: FS authentication, ECDH, AES-GCM);
  * a query that resumes the cached session;
and in-process, the sans-IO codec: AES-GCM framing and ClassAd encode/decode.
Prints medians; traffic goes to 127.0.0.1 only.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from support.daemons import DaemonProcess  # noqa: E402

N = 200

CLIENT = """
import json, sys, time, htcondor2
addr = sys.argv[1]; n = int(sys.argv[2])
t = []
for _ in range(n):
    t0 = time.perf_counter(); htcondor2.ping(addr, "WRITE"); t.append(time.perf_counter() - t0)
c = htcondor2.Collector(addr)
c.query(htcondor2.AdTypes.Schedd)
q = []
for _ in range(n):
    t0 = time.perf_counter(); c.query(htcondor2.AdTypes.Schedd); q.append(time.perf_counter() - t0)
print(json.dumps({"ping": t, "query": q}))
"""


def codec() -> dict:
    import classad2
    from condor_sim.cedar.classad_wire import get_ad, put_ad
    from condor_sim.cedar.framing import Framer
    from condor_sim.cedar.stream import MessageReader, MessageWriter
    key = os.urandom(32)
    a, b = Framer(), Framer()
    a.enable_crypto(key)
    b.enable_crypto(key)
    payload = os.urandom(64 * 1024)
    t0 = time.perf_counter()
    for _ in range(200):
        b.feed(a.encode_message(payload))
        assert b.next_message() == payload
    mb_s = 200 * len(payload) / (time.perf_counter() - t0) / 1e6
    ad = classad2.ClassAd({f"Attr{i}": (i if i % 2 else f"value {i}") for i in range(100)})
    t0 = time.perf_counter()
    for _ in range(200):
        w = MessageWriter(True)
        put_ad(w, ad)
        get_ad(MessageReader(w.getvalue(), True))
    ads_s = 200 / (time.perf_counter() - t0)
    return {"aes_framing_MB_per_s": round(mb_s, 1), "ad100_roundtrips_per_s": round(ads_s)}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        d = DaemonProcess(Path(tmp), "schedd", "spool/.schedd_address").start()
        try:
            env = dict(os.environ, CONDOR_CONFIG=str(d.config))
            out = subprocess.run([sys.executable, "-c", CLIENT, d.sinful, str(N)], env=env,
                                 capture_output=True, text=True, check=True).stdout
            res = json.loads(out)
        finally:
            d.stop()
    ms = lambda xs: round(statistics.median(xs) * 1000, 2)   # noqa: E731
    print(f"ping WRITE (new session, FS + ECDH + AES), median of {N}: {ms(res['ping'])} ms")
    print(f"query over a resumed session, median of {N}: {ms(res['query'])} ms")
    for k, v in codec().items():
        print(f"{k}: {v}")


if __name__ == "__main__":
    main()
