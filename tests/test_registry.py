"""The daemon registry agrees with the daemons and with the config a pool is given."""
from __future__ import annotations

import importlib

import pytest

from condor_sim.daemons.master import launch
from condor_sim.poolconfig import create_pool_dir
from condor_sim.registry import DAEMONS, SIMULATED


def daemon_class(name: str):
    if name == "MASTER":
        from condor_sim.daemons.master.daemon import Master
        return Master
    module = importlib.import_module(DAEMONS[name].module)
    return next(v for v in vars(module).values()
                if isinstance(v, type) and getattr(v, "SUBSYS", None) == name)


@pytest.mark.parametrize("name", SIMULATED)
def test_each_simulated_daemon_matches_its_row(name):
    cls = daemon_class(name)
    spec = DAEMONS[name]
    assert cls.MY_TYPE == spec.my_type
    assert spec.address_knob in cls.ADDRESS_KNOBS


@pytest.mark.parametrize("name", SIMULATED)
def test_the_generated_config_puts_address_files_where_the_registry_says(tmp_path, name):
    config = create_pool_dir(tmp_path, "secure", {})
    spec = DAEMONS[name]
    top, file = spec.address_file.split("/")
    line = next(l for l in config.read_text().splitlines() if l.startswith(spec.address_knob + " "))
    assert line.split("=", 1)[1].strip() == f"$({top.upper()})/{file}"


def test_the_master_starts_the_collector_first_and_speculates_on_the_rest():
    assert SIMULATED[:2] == ("MASTER", "COLLECTOR")
    # the default pool's daemons; the simulated slots and the shared port only when asked for
    assert launch._SPECULATE == ("COLLECTOR", "NEGOTIATOR", "SCHEDD", "STARTD")
