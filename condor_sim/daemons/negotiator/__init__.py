"""condor_negotiator: the negotiation cycle (``daemon.py``), matchmaking (``matchmaker.py``),
user priorities (``accountant.py``) and the commands condor_userprio sends (``commands.py``)."""
from __future__ import annotations

from .daemon import Negotiator, main

__all__ = ["Negotiator", "main"]
