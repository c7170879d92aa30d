"""What the starter makes of a job ad: the program, its arguments and environment, where
it runs, its standard files, what to transfer and as whom (``JobSpec``), or why it cannot
run (``Hold``).

Follows the real starter: ``OsProc::StartJob`` (program and arguments: ``Arguments`` in V2
raw form wins over ``Args``), ``Starter::GetJobEnv`` (the slot's environment, then the
job's ``Environment``/``Env``, then what the starter publishes), ``JICShadow`` (file
transfer: ``ShouldTransferFiles``, ``TransferExecutable``, ``TransferInput``,
``TransferIn``/``TransferOut``/``TransferErr`` for the standard files, which live in the
scratch directory as ``_condor_stdout``/``_condor_stderr``) and ``initUserPriv`` (run as
the owner when root).  ``getenv`` needs nothing here: submit folds the submitter's
environment into ``Environment``.  Reads only the file system (Iwd, passwd).
"""
from __future__ import annotations

import os
import pwd
from dataclasses import dataclass, field

from . import holds
from .holds import Hold
from .syntax import (SyntaxErrorInAd, env_from_v1_raw, env_from_v2_raw, split_v1_raw,
                     split_v2_raw)

__all__ = ["Hold", "JobSpec", "StarterError", "job_spec", "NULL_FILE", "STDOUT_NAME",
           "STDERR_NAME", "JOB_AD_FILE", "MACHINE_AD_FILE", "THREAD_ENV_VARS"]

NULL_FILE = "/dev/null"
STDOUT_NAME = "_condor_stdout"
STDERR_NAME = "_condor_stderr"
JOB_AD_FILE = ".job.ad"
MACHINE_AD_FILE = ".machine.ad"
# STARTER_NUM_THREADS_ENV_VARS's default: set to the job's cpus unless the job set them
THREAD_ENV_VARS = ("CUBACORES GOMAXPROCS JULIA_NUM_THREADS MKL_NUM_THREADS NUMEXPR_NUM_THREADS "
                   "OMP_NUM_THREADS OMP_THREAD_LIMIT OPENBLAS_NUM_THREADS PYTHON_CPU_COUNT "
                   "ROOT_MAX_THREADS TF_LOOP_PARALLEL_ITERATIONS TF_NUM_THREADS").split()


class StarterError(Exception):
    """The starter cannot set the job up at all (the job is not held; it goes back to idle)."""


@dataclass
class JobSpec:
    cluster: int
    proc: int
    executable: str
    args: list[str]
    env: dict[str, str]
    iwd: str
    cwd: str
    stdin: str | None
    stdout: str | None
    stderr: str | None
    transfer: bool
    input_files: list[str]
    output_files: list[str] | None
    output_remaps: dict[str, str]
    run_as: str | None
    # where the standard files go back to on the submit side (when transferred)
    executable_src: str | None = None      # submit-side program when it is transferred
    stdout_dest: str | None = None
    stderr_dest: str | None = None
    when_to_transfer_output: str = "ON_EXIT"
    universe: int = 5
    kill_sig: int = 15
    request_cpus: int = 1
    extra: dict[str, str] = field(default_factory=dict)


# -- reading the ad ---------------------------------------------------------------

def _value(ad, name: str):
    """The evaluated value of ``name``, or None when absent, undefined or an error."""
    if name not in ad:
        return None
    try:
        v = ad.eval(name)
    except Exception:
        return None
    if v is None or type(v).__name__ == "Value":   # classad2.Value.Undefined / Error
        return None
    return v


def _str(ad, name: str) -> str | None:
    v = _value(ad, name)
    return v if isinstance(v, str) else None


def _bool(ad, name: str, default: bool) -> bool:
    v = _value(ad, name)
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float)):
        return bool(v)
    if isinstance(v, str) and v.lower() in ("true", "false"):
        return v.lower() == "true"
    return default


def _int(ad, name: str, default: int) -> int:
    v = _value(ad, name)
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, (int, float)):
        return int(v)
    return default


def _file_list(text: str | None) -> list[str]:
    """A comma (or whitespace) separated file list, as ``TransferInput``."""
    if not text:
        return []
    return [p for p in text.replace("\n", ",").replace(" ", ",").split(",") if p]


def _remaps(text: str | None) -> dict[str, str]:
    """``TransferOutputRemaps``: ``name = dest; name = dest`` (backslash escapes ``;``/``=``)."""
    out: dict[str, str] = {}
    if not text:
        return out
    entries, cur, i = [], [], 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            cur.append(text[i + 1])
            i += 2
            continue
        if ch == ";":
            entries.append("".join(cur))
            cur = []
        else:
            cur.append(ch if ch != "=" else "\0")
        i += 1
    entries.append("".join(cur))
    for e in entries:
        if "\0" in e:
            name, _, dest = e.partition("\0")
            if name.strip():
                out[name.strip()] = dest.strip()
    return out


def _join(base: str, path: str) -> str:
    return path if os.path.isabs(path) else os.path.normpath(os.path.join(base, path))


def kill_signal(value) -> int:
    """``KillSig``: a signal name (``SIGTERM`` or ``TERM``) or number; SIGTERM otherwise."""
    import signal
    if isinstance(value, int) and value > 0:
        return value
    if isinstance(value, str):
        s = value.strip().upper()
        if s.isdigit():
            return int(s)
        name = s if s.startswith("SIG") else "SIG" + s
        sig = getattr(signal, name, None)
        if isinstance(sig, signal.Signals):
            return int(sig)
    return int(signal.SIGTERM)


def job_args(ad) -> list[str]:
    """``Arguments`` (V2 raw) if present, else ``Args`` (V1 raw)."""
    v2 = _str(ad, "Arguments")
    if v2 is not None:
        return split_v2_raw(v2)
    v1 = _str(ad, "Args")
    return split_v1_raw(v1) if v1 is not None else []


def job_env(ad) -> dict[str, str]:
    """``Environment`` (V2 raw) if present, else ``Env`` (V1, ``EnvDelim``)."""
    v2 = _str(ad, "Environment")
    if v2 is not None:
        return env_from_v2_raw(v2)
    v1 = _str(ad, "Env")
    if v1 is not None:
        return env_from_v1_raw(v1, _str(ad, "EnvDelim") or None)
    return {}


def resolve_transfer(ad) -> bool:
    """ShouldTransferFiles: YES transfers; NO and IF_NEEDED (shadow and starter share the
    file system here, in one FileSystemDomain) do not."""
    return (_str(ad, "ShouldTransferFiles") or "").upper() == "YES"


def run_as_user(ad) -> str | None:
    """Who the job runs as: the owner (``OsUser``, else ``Owner``) when we are root and the
    owner is not root; ourselves otherwise.  An owner missing from passwd stops the
    starter, as with SOFT_UID_DOMAIN false."""
    if os.geteuid() != 0:
        return None
    owner = _str(ad, "OsUser") or _str(ad, "Owner")
    if not owner:
        raise StarterError("Failed to determine what user to run this job as")
    try:
        pw = pwd.getpwnam(owner)
    except KeyError:
        raise StarterError(f'Uid for "{owner}" not found in passwd file and SOFT_UID_DOMAIN is False')
    return None if pw.pw_uid == 0 else owner


def starter_env(scratch: str, cwd: str, *, cpus: int, job_set: dict[str, str]) -> dict[str, str]:
    """What ``Starter::PublishToEnv`` adds (the parts that do not need the slot or pid)."""
    env = {
        "BATCH_SYSTEM": "HTCondor",
        "_CONDOR_JOB_IWD": cwd,
        "_CONDOR_JOB_PIDS": "-1",
        "_CONDOR_SCRATCH_DIR": scratch,
        "APPTAINER_CACHEDIR": scratch,
        "SINGULARITY_CACHEDIR": scratch,
        "TMPDIR": scratch,
        "TEMP": scratch,
        "TMP": scratch,
    }
    for var in THREAD_ENV_VARS:
        if var not in job_set:
            env[var] = str(cpus)
    return env


def _check_iwd(iwd: str) -> Hold | None:
    try:
        if not os.path.isdir(iwd):
            os.stat(iwd)
            return holds.iwd_error(iwd, 20)       # ENOTDIR
        os.listdir(iwd)
    except OSError as e:
        return holds.iwd_error(iwd, holds.errno_of(e))
    return None


def job_spec(job, scratch: str, *, slot_env: dict[str, str],
             extra_env: dict[str, str] | None = None) -> JobSpec | Hold:
    """The JobSpec for ``job`` to run with ``scratch`` as its scratch directory, or the
    Hold it must go on.  ``slot_env`` comes first (the slot's own environment), the job's
    environment overrides it, and the starter's variables (plus ``extra_env``) come last.
    Raises StarterError when it cannot run at all."""
    iwd = _str(job, "Iwd") or os.getcwd()
    bad = _check_iwd(iwd)
    if bad is not None:
        return bad
    cmd = _str(job, "Cmd") or ""
    cmd_path = _join(iwd, cmd)
    transfer = resolve_transfer(job)
    cwd = scratch if transfer else iwd
    try:
        args = job_args(job)
        env_job = job_env(job)
    except SyntaxErrorInAd as e:
        raise StarterError(f"Aborting OSProc::StartJob: {e}") from None

    def std(attr: str, flag: str, scratch_name: str | None) -> tuple[str | None, str | None]:
        """(path the job sees, submit-side destination to copy back to)."""
        name = _str(job, attr)
        if not name or name == NULL_FILE:
            return None, None
        submit_path = _join(iwd, name)
        if transfer and _bool(job, flag, True):
            return os.path.join(scratch, scratch_name or os.path.basename(name)), submit_path
        return submit_path, None

    stdin, stdin_src = std("In", "TransferIn", None)
    stdout, stdout_dest = std("Out", "TransferOut", STDOUT_NAME)
    stderr, stderr_dest = std("Err", "TransferErr", STDERR_NAME)
    if stderr_dest is not None and stderr_dest == stdout_dest:
        stderr, stderr_dest = stdout, None     # one file for both, as the real starter does

    inputs: list[str] = []
    executable, executable_src = cmd_path, None
    if transfer:
        if _bool(job, "TransferExecutable", True):
            inputs.append(cmd_path)
            executable_src = cmd_path
            executable = os.path.join(scratch, os.path.basename(cmd_path))
        if stdin_src:
            inputs.append(stdin_src)
        for p in _file_list(_str(job, "TransferInput")):
            # a trailing / (send the directory's contents) survives the joining
            inputs.append(_join(iwd, p) + ("/" if p.endswith("/") and p != "/" else ""))
    out_text = _str(job, "TransferOutput")
    output_files = _file_list(out_text) if out_text is not None else None

    cpus = _int(job, "RequestCpus", 1)
    env = dict(slot_env)
    env.update(env_job)
    env.update(starter_env(scratch, cwd, cpus=cpus, job_set=env_job))
    env.update(extra_env or {})

    return JobSpec(
        cluster=_int(job, "ClusterId", 0), proc=_int(job, "ProcId", 0),
        executable=executable, args=args, env=env, iwd=iwd, cwd=cwd,
        stdin=stdin, stdout=stdout, stderr=stderr, transfer=transfer,
        input_files=inputs, output_files=output_files,
        output_remaps=_remaps(_str(job, "TransferOutputRemaps")),
        run_as=run_as_user(job),
        executable_src=executable_src, stdout_dest=stdout_dest, stderr_dest=stderr_dest,
        when_to_transfer_output=(_str(job, "WhenToTransferOutput") or "ON_EXIT").upper(),
        universe=_int(job, "JobUniverse", 5),
        kill_sig=kill_signal(_value(job, "KillSig")),
        request_cpus=cpus,
    )
