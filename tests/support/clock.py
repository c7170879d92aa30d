"""The time zone for tests that compare with what the real tools printed (the captures ran
with TZ=UTC): ``from support.clock import utc`` in a test module makes it its fixture."""
from __future__ import annotations

import os
import time

import pytest


@pytest.fixture(scope="module", autouse=True)
def utc():
    old = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if old is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = old
    time.tzset()
