"""Release check: what ``python -m build`` makes from this working tree is a package that
installs and runs.

The sdist is built from a copy of the working tree as a fresh clone would have it, the wheel
from that sdist (``python -m build``'s default, so a file the build needs but the sdist
lacks fails here), and the wheel is installed with its dependencies into a new virtual
environment and run from a directory outside the repository.  Set
``CONDOR_SIM_SKIP_RELEASE_CHECK`` to skip it; CI runs it."""
from __future__ import annotations

import ast
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

import condor_sim
from condor_sim import cli

ROOT = Path(__file__).resolve().parent.parent
NOT_IN_A_CLONE = shutil.ignore_patterns(".git", ".venv*", "__pycache__", "*.pyc", "*.egg-info",
                                        "build", "dist", ".pytest_cache")
INSTALL_TIMEOUT = 900


def source_version() -> str:
    """``__version__`` as the build reads it: the literal in ``condor_sim/__init__.py``,
    found without importing the package."""
    tree = ast.parse((ROOT / "condor_sim" / "__init__.py").read_text())
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and getattr(node.targets[0], "id", None) == "__version__"):
            return ast.literal_eval(node.value)
    raise AssertionError("condor_sim/__init__.py has no literal __version__ assignment")


def test_version_is_one_literal_that_the_package_reports():
    assert source_version() == condor_sim.__version__
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in pyproject
    assert re.findall(r"^version\s*=.*$", pyproject, re.M) == [
        'version = {attr = "condor_sim.__version__"}']


def test_version_option_prints_both_versions_and_exits_0(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.splitlines() == [
        f"condor-sim {condor_sim.__version__}", condor_sim.CONDOR_VERSION, condor_sim.CONDOR_PLATFORM]


def clean_env() -> dict[str, str]:
    """The environment without what points Python at this checkout or at the test venv."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSAFEPATH")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def run(cmd: list[str], cwd: Path, timeout: float = INSTALL_TIMEOUT) -> str:
    done = subprocess.run([str(c) for c in cmd], cwd=cwd, env=clean_env(), timeout=timeout,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert done.returncode == 0, f"{' '.join(map(str, cmd))} exited {done.returncode}:\n{done.stdout[-4000:]}"
    return done.stdout


def copy_as_a_clone(dest: Path) -> Path:
    """The working tree's files that git tracks or would track (uncommitted edits included),
    else everything but the usual build and venv litter."""
    try:
        names = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others",
                                "--exclude-standard"], capture_output=True, check=True,
                               timeout=60).stdout.decode().split("\0")
    except (OSError, subprocess.SubprocessError):
        shutil.copytree(ROOT, dest, ignore=NOT_IN_A_CLONE)
        return dest
    for name in filter(None, names):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    return dest


def pip_supports_python_option() -> bool:
    """pip >= 22.3 installs into another interpreter's environment (``--python``), which
    spares the new venv its own copy of pip."""
    try:
        import pip
    except ImportError:
        return False
    major, minor = (int(x) for x in pip.__version__.split(".")[:2])
    return (major, minor) >= (22, 3)


def make_venv(path: Path, cwd: Path) -> list[str]:
    """A fresh venv at ``path``; returns the pip command that installs into it."""
    if pip_supports_python_option():
        run([sys.executable, "-m", "venv", "--without-pip", path], cwd)
        return [sys.executable, "-m", "pip", "--python", str(path / "bin" / "python")]
    run([sys.executable, "-m", "venv", path], cwd)
    return [str(path / "bin" / "python"), "-m", "pip"]


def project_requirements() -> list[str] | None:
    """pyproject's runtime dependencies, where the standard library reads TOML (3.11+)."""
    try:
        import tomllib
    except ImportError:
        return None
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]


def check_sdist(sdist: Path, version: str, package_files: set[str]) -> None:
    top = f"condor_sim-{version}/"
    with tarfile.open(sdist) as tar:
        names = {n.removeprefix(top) for n in tar.getnames()}
    for needed in ("LICENSE", "README.md", "pyproject.toml", "PKG-INFO",
                   "condor_sim/daemons/schedd/__init__.py", "condor_sim/jobqueue/queue.py"):
        assert needed in names, f"{needed} missing from the sdist"
    missing = package_files - names
    assert not missing, f"package files missing from the sdist: {sorted(missing)}"


def check_wheel(wheel: Path, version: str, package_files: set[str]) -> None:
    with zipfile.ZipFile(wheel) as whl:
        names = set(whl.namelist())
        meta = Parser().parsestr(whl.read(f"condor_sim-{version}.dist-info/METADATA").decode())
    missing = package_files - names
    assert not missing, f"package files missing from the wheel: {sorted(missing)}"
    assert not {n for n in names if n.split("/")[0] in ("tests", "fixtures", "bench", "examples")}
    assert f"condor_sim-{version}.dist-info/licenses/LICENSE" in names
    assert meta["Name"] == "condor-sim"
    assert meta["Version"] == version
    assert meta["License-Expression"] == "Apache-2.0"
    assert meta["Requires-Python"] == ">=3.10"
    runtime = [r for r in meta.get_all("Requires-Dist") if "extra ==" not in r]
    assert any(r.startswith("htcondor") for r in runtime)
    expected = project_requirements()
    if expected is not None:
        assert sorted(runtime) == sorted(expected)


@pytest.mark.skipif(bool(os.environ.get("CONDOR_SIM_SKIP_RELEASE_CHECK")),
                    reason="CONDOR_SIM_SKIP_RELEASE_CHECK is set")
def test_built_wheel_installs_into_a_fresh_venv_and_runs(tmp_path):
    """One test, so that xdist does not build twice."""
    if importlib.util.find_spec("build.__main__") is None:
        pytest.fail("`python -m build` is not installed here: pip install -e '.[test]' "
                    "(or set CONDOR_SIM_SKIP_RELEASE_CHECK)")
    version = source_version()
    tree = copy_as_a_clone(tmp_path / "clone")
    package_files = {p.relative_to(tree).as_posix() for p in (tree / "condor_sim").rglob("*")
                     if p.is_file()}
    outside = tmp_path / "elsewhere"
    outside.mkdir()

    run([sys.executable, "-m", "build", "--outdir", tmp_path / "dist", tree], outside)
    sdist = tmp_path / "dist" / f"condor_sim-{version}.tar.gz"
    wheel = tmp_path / "dist" / f"condor_sim-{version}-py3-none-any.whl"
    assert sdist.is_file() and wheel.is_file(), sorted(os.listdir(tmp_path / "dist"))
    check_sdist(sdist, version, package_files)
    check_wheel(wheel, version, package_files)

    venv = tmp_path / "venv"
    pip = make_venv(venv, outside)
    run([*pip, "install", "-q", wheel], outside)

    out = run([venv / "bin" / "condor-sim", "--version"], outside, timeout=60)
    assert out.splitlines()[0] == f"condor-sim {version}" == f"condor-sim {condor_sim.__version__}"
    assert out.splitlines()[1] == condor_sim.CONDOR_VERSION
    where = run([venv / "bin" / "python", "-c",
                 "import condor_sim, condor_sim.daemons.schedd, condor_sim.jobqueue.queue;"
                 " print(condor_sim.__file__)"], outside, timeout=60)
    assert Path(where.strip()).resolve().is_relative_to(venv.resolve())
