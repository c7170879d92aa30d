"""Client-supplied text that reaches the config commands: patterns that backtrack without
end, and names that would forge log lines."""
from __future__ import annotations

import re
import struct
import time

import pytest

from support.clients import run_client
from support.daemons import DaemonProcess
from support.memory import replies

PING = """
import htcondor2
return htcondor2.ping({addr!r}, "READ")["AuthorizationSucceeded"]
"""


@pytest.fixture(scope="module")
def schedd(tmp_path_factory):
    d = DaemonProcess(tmp_path_factory.mktemp("hostile-config"), "schedd", "spool/.schedd_address",
                      security="plaintext", overrides={"ALLOW_READ": "*", "SCHEDD_DEBUG": "D_FULLDEBUG"}).start()
    yield d
    d.stop()


def config_val(d: DaemonProcess, name: str, timeout: float = 10, cmd: int = 60007) -> list[str]:
    """Raw DC_CONFIG_VAL (allowed unauthenticated in this pool): the strings answered."""
    (msg,) = replies(d.raw(struct.pack(">q", cmd) + name.encode() + b"\0", timeout))
    return [x.decode() for x in msg.split(b"\0")[:-1]]


def test_a_pattern_that_backtracks_forever_is_cut_off(schedd):
    t0 = time.monotonic()
    assert config_val(schedd, "?names:(\\w|\\w)*#") == [""]
    assert time.monotonic() - t0 < 3
    assert schedd.alive()
    r = run_client(PING.format(addr=schedd.sinful), schedd.config)
    assert r["ok"] and r["result"] is True, r


def test_names_are_searched_case_blind_as_pcre2_does(schedd):
    names = config_val(schedd, "?names:schedd_interval$")
    assert "SCHEDD_INTERVAL" in [n.upper() for n in names]
    assert all(re.search("schedd_interval$", n, re.I) for n in names)


def test_a_forged_log_line_stays_on_its_line(schedd):
    forged = "BAD\n12/05/26 00:00:00 FORGED SHUTDOWN"
    (msg,) = replies(schedd.raw(struct.pack(">q", 60003) + b"X\0" + (forged + " = 1").encode() + b"\0"))
    assert struct.unpack(">q", msg)[0] == -1
    log = schedd.log_text("SchedLog")
    assert "Rejecting attempt to set param with invalid name (BAD\\n12/05/26 00)" in log
    assert not any(line.startswith("12/05/26 00:00:00 FORGED") for line in log.splitlines())
    assert schedd.alive()


def test_one_line():
    from condor_sim.dlog import one_line
    assert one_line("a\nb\rc\td\x00e\x1bf\x7fg") == "a\\nb\\rc\\td\\x00e\\x1bf\\x7fg"
    assert one_line("ünïcode stays") == "ünïcode stays"
    assert one_line("a\u2028b\u2029c\x85d") == "a\\u2028b\\u2029c\\x85d"
    assert len(one_line("x\u2028y\x85z\x0bw").splitlines()) == 1
