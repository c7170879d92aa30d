"""CONFIG_VAL and DC_CONFIG_VAL look a name up as it is: a name no knob can have is unknown.

The config engine reads a knob by expanding "$(NAME)", so a name that is not a valid param
name (condor_isidchar) such as ``X)$ENV(HOME`` used to make the daemon expand macros of the
peer's choosing and send back its environment.  The real daemon finds no such knob.
"""
from __future__ import annotations

import struct

import pytest

from support.clients import run_client
from support.daemons import schedd_fixture

schedd = schedd_fixture("cval-names", security="plaintext",
                        overrides={"FOO": "BAR", "SCHEDD.PREFIXED": "yes", "SCHEDD_DEBUG": "D_FULLDEBUG"})


def ask(d, cmd: int, name: str) -> bytes:
    return d.raw(struct.pack(">q", cmd) + name.encode() + b"\0")[5:]


@pytest.mark.parametrize("name", ["X)$ENV(HOME", "FOO) $(LOG", "$(FOO)", "FOO BAR", "FOO\n", "FOO:x"])
def test_names_outside_the_identifier_alphabet_are_unknown(schedd, name):
    assert ask(schedd, 457, name) == b"Not defined\0"       # CONFIG_VAL
    assert ask(schedd, 60007, name) == b"\xff"              # DC_CONFIG_VAL: NULL
    assert schedd.alive()


def test_valid_names_are_still_found(schedd):
    assert ask(schedd, 457, "FOO") == b"BAR\0"
    assert ask(schedd, 457, "SCHEDD.PREFIXED") == b"yes\0"
    assert ask(schedd, 60007, "foo").startswith(b"BAR\0FOO = BAR\0")
    r = run_client(f"""
import htcondor2
ad = htcondor2.classad.ClassAd({{'MyAddress': {schedd.sinful!r}, 'MyType': 'Scheduler', 'Name': 'x'}})
return htcondor2.RemoteParam(ad)["FOO"]""", schedd.config)
    assert r["ok"] and r["result"] == "BAR", r
