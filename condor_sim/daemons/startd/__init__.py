"""condor_startd: the machine's slots and their claims (``daemon.py``), slot ads (``slots.py``)."""
from __future__ import annotations

from .daemon import Startd, main

__all__ = ["Startd", "main"]
