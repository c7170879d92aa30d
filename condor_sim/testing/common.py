"""What the pool handles share: the daemons they know, the test drop-in, the modes and
the errors."""
from __future__ import annotations

import enum
import re
from typing import Mapping

from ..registry import DAEMONS as REGISTRY


DAEMONS = {name: (s.my_type, s.log_name) for name, s in REGISTRY.items()}
TEST_DROP_IN = "90-condor-sim-pytest"         # config.d file that reconfig() and the marker write
_KNOB_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


class NotSupportedHere(Exception):
    """Raised (outside pytest) by a helper that cannot work on this pool's backend."""


class RestartMode(str, enum.Enum):
    """How ``restart()`` takes daemons down before they come back."""
    GRACEFUL = "graceful"    # the master's Restart / DaemonOff command: daemons shut down cleanly
    FAST = "fast"            # DaemonsOffFast / DaemonOffFast: SIGQUIT, no clean-up
    CRASH = "crash"          # SIGKILL by pid, nothing is told


def _skip(reason: str):
    try:
        import pytest
    except ImportError:        # pragma: no cover - the handle is a test helper
        raise NotSupportedHere(reason) from None
    pytest.skip(reason)


def _subsys(name: str) -> str:
    n = str(name).upper()
    if n.startswith("CONDOR_"):
        n = n[len("CONDOR_"):]
    return n


def _normalize_knobs(knobs: Mapping | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in (knobs or {}).items():
        k = str(k).strip()
        if not _KNOB_NAME.match(k):
            raise ValueError(f"not a configuration knob name: {k!r}")
        if isinstance(v, bool):
            v = "true" if v else "false"
        v = "" if v is None else str(v)
        if "\n" in v or "\r" in v:
            raise ValueError(f"the value of {k} spans lines; use one line (or a config file)")
        out[k] = v
    return out


# ============================================================================ the client's config
