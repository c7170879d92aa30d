"""Simulated execute slots: many synthetic startds in one process (``sim.py`` the
machines and their churn, ``daemon.py`` the updates to the collector)."""
from __future__ import annotations

from .daemon import SimSlots, main

__all__ = ["SimSlots", "main"]
