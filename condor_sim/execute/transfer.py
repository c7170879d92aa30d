"""File transfer between the submit side and the scratch directory, as local copies (the
shadow and the starter share the file system).

Input: each submit-side path goes into the scratch directory under its base name; a
directory goes as a whole, or only its contents when named with a trailing ``/``; the
executable becomes executable.  Output: the files listed in ``TransferOutput`` or, when
there is none, every top-level file the job made or changed; each lands in the Iwd
under its base name unless ``TransferOutputRemaps`` sends it elsewhere; the scratch
``_condor_stdout``/``_condor_stderr`` go back to ``Out``/``Err``.  Failures come back as
the Hold the real shadow would put the job on.
"""
from __future__ import annotations

import os
import shutil

from . import holds
from .holds import Hold, Peers
from .jobspec import JOB_AD_FILE, MACHINE_AD_FILE, STDERR_NAME, STDOUT_NAME, JobSpec

# files of the starter's own in the scratch directory, never output
_NOT_OUTPUT = {STDOUT_NAME, STDERR_NAME, JOB_AD_FILE, MACHINE_AD_FILE, ".chirp.config",
               ".update.ad", ".job.ad.out"}

Snapshot = dict[str, tuple[int, int]]


def _tree_size(path: str) -> tuple[int, int]:
    """(bytes, files) under ``path`` (a file counts itself)."""
    if not os.path.isdir(path):
        return os.path.getsize(path), 1
    total = count = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            try:
                total += os.path.getsize(os.path.join(root, f))
                count += 1
            except OSError:
                pass
    return total, count


def _chown_tree(path: str, owner: tuple[int, int] | None) -> None:
    if owner is None:
        return
    os.lchown(path, *owner)
    if os.path.isdir(path) and not os.path.islink(path):
        for root, dirs, files in os.walk(path):
            for n in dirs + files:
                os.lchown(os.path.join(root, n), *owner)


def _copy(src: str, dest: str, contents_only: bool = False) -> None:
    if os.path.isdir(src):
        shutil.copytree(src, dest, symlinks=True, dirs_exist_ok=contents_only or os.path.isdir(dest))
    else:
        shutil.copy2(src, dest)


def transfer_in(spec: JobSpec, scratch: str, peers: Peers,
                owner: tuple[int, int] | None = None) -> tuple[int, int] | Hold:
    """Copy the input files into ``scratch``; (bytes, files) or the Hold."""
    total = count = 0
    for src in spec.input_files:
        contents_only = src.endswith("/") and len(src) > 1
        clean = src.rstrip("/") or "/"
        try:
            size, n = _tree_size(clean)
            if not os.access(clean, os.R_OK):
                raise PermissionError(13, os.strerror(13), clean)
        except OSError as e:
            return holds.input_unreadable(peers, clean, holds.errno_of(e))
        dest = scratch if contents_only else os.path.join(scratch, os.path.basename(clean))
        try:
            _copy(clean, dest, contents_only)
            if clean == spec.executable_src:
                os.chmod(dest, 0o755)
            if contents_only:
                for name in os.listdir(clean):
                    _chown_tree(os.path.join(scratch, name), owner)
            else:
                _chown_tree(dest, owner)
        except OSError as e:
            if getattr(e, "filename", None) == clean or not os.path.exists(clean):
                return holds.input_unreadable(peers, clean, holds.errno_of(e))
            return holds.input_unwritable(peers, dest, holds.errno_of(e))
        total += size
        count += n
    return total, count


def snapshot(scratch: str) -> Snapshot:
    """Top-level files of ``scratch`` with (mtime_ns, size), to tell later what changed."""
    snap: Snapshot = {}
    with os.scandir(scratch) as it:
        for e in it:
            try:
                st = e.stat(follow_symlinks=False)
            except OSError:
                continue
            snap[e.name] = (st.st_mtime_ns, st.st_size)
    return snap


def changed_files(scratch: str, before: Snapshot) -> list[str]:
    """Top-level regular files made or changed since ``before``, in name order."""
    out = []
    for name, stamp in sorted(snapshot(scratch).items()):
        if name in _NOT_OUTPUT:
            continue
        if not os.path.isfile(os.path.join(scratch, name)):
            continue
        if before.get(name) != stamp:
            out.append(name)
    return out


def output_plan(spec: JobSpec, scratch: str, before: Snapshot) -> list[tuple[str, str]]:
    """(scratch path, submit-side destination) of everything to send back."""
    plan: list[tuple[str, str]] = []
    for path, dest in ((spec.stdout, spec.stdout_dest), (spec.stderr, spec.stderr_dest)):
        if dest is not None and path is not None:
            plan.append((path, dest))
    names = spec.output_files if spec.output_files is not None else changed_files(scratch, before)
    for name in names:
        clean = name.rstrip("/")
        target = spec.output_remaps.get(clean, os.path.basename(clean))
        dest = target if os.path.isabs(target) else os.path.join(spec.iwd, target)
        plan.append((os.path.join(scratch, clean), dest))
    return plan


def transfer_out(spec: JobSpec, scratch: str, before: Snapshot, peers: Peers,
                 owner: tuple[int, int] | None = None) -> tuple[int, int] | Hold:
    """Copy the output back to the submit side; (bytes, files) or the Hold."""
    total = count = 0
    for src, dest in output_plan(spec, scratch, before):
        try:
            size, n = _tree_size(src)
        except OSError as e:
            return holds.output_unreadable(peers, src, holds.errno_of(e))
        try:
            if os.path.isdir(dest) and not os.path.isdir(src):
                raise IsADirectoryError(21, os.strerror(21), dest)
            _copy(src, dest)
            _chown_tree(dest, owner)
        except OSError as e:
            return holds.output_unwritable(peers, dest, holds.errno_of(e))
        total += size
        count += n
    return total, count


def disk_kb(scratch: str) -> int:
    """Space the scratch directory's files take, in KiB rounded up."""
    size, _ = _tree_size(scratch)
    return (size + 1023) // 1024
