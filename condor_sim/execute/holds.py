"""Why a job goes on hold from the execute side: HoldReason texts with their
HoldReasonCode and HoldReasonSubCode, as the real starter and shadow build them.

Codes (``condor_holdcodes.h``): 6 FailedToCreateProcess, 7 UnableToOpenOutput,
8 UnableToOpenInput, 12 TransferOutputError, 13 TransferInputError, 14 IwdError; the
subcode is the errno.  Errors the starter finds reach the user prefixed by the shadow
with ``Error from <slot>: ``; file transfer failures are then reworded by the shadow
(``BaseShadow::improveReasonAttributes``).  Pure functions.
"""
from __future__ import annotations

import errno as _errno
import os
from dataclasses import dataclass

from .syntax import join_args

FAILED_TO_CREATE_PROCESS = 6
UNABLE_TO_OPEN_OUTPUT = 7
UNABLE_TO_OPEN_INPUT = 8
TRANSFER_OUTPUT_ERROR = 12
TRANSFER_INPUT_ERROR = 13
IWD_ERROR = 14


@dataclass
class Hold:
    """A hold: the final HoldReason text, HoldReasonCode and HoldReasonSubCode."""
    reason: str
    code: int
    subcode: int


@dataclass
class Peers:
    """Names in transfer error texts: the slot (``slot1_1@vm``), the access point's host
    name, and the two ends' IP and sinful strings."""
    slot: str
    ap_host: str
    ip: str = "127.0.0.1"
    shadow_addr: str = "<127.0.0.1:0>"
    starter_addr: str = "<127.0.0.1:0>"


def _strerror(err: int) -> str:
    return os.strerror(err)


def from_starter(slot: str, message: str) -> str:
    """The shadow's wording of a critical error the starter reported."""
    return f"Error from {slot}: {message}"


def iwd_error(iwd: str, err: int) -> Hold:
    """The shadow cannot chdir to the job's Iwd."""
    return Hold(f"Cannot access initial working directory {iwd}: {_strerror(err)}", IWD_ERROR, err)


def exec_failed(slot: str, executable: str, args: list[str], err: int) -> Hold:
    """Create_Process failed (missing or non-executable program)."""
    msg = f"Failed to execute '{executable}'"
    if args:
        msg += f" with arguments {join_args(args)}"
    msg += f": (errno={err}: '{_strerror(err)}')"
    return Hold(from_starter(slot, msg), FAILED_TO_CREATE_PROCESS, err)


_PHRASE = {0: "standard input", 1: "standard output", 2: "standard error"}


def std_open_failed(slot: str, which: int, path: str, err: int) -> Hold:
    """The starter cannot open the job's stdin (0), stdout (1) or stderr (2)."""
    msg = f"Failed to open '{path}' as {_PHRASE[which]}: {_strerror(err)} (errno {err})"
    code = UNABLE_TO_OPEN_INPUT if which == 0 else UNABLE_TO_OPEN_OUTPUT
    return Hold(from_starter(slot, msg), code, err)


def input_unreadable(peers: Peers, path: str, err: int) -> Hold:
    """The shadow cannot read an input file (error at the access point, while sending)."""
    detail = from_starter(
        peers.slot,
        f"SHADOW at {peers.ip} failed to send file(s) to {peers.starter_addr}: error reading from "
        f"{path}: (errno {err}) {_strerror(err)}; STARTER failed to receive file(s) from "
        f"{peers.shadow_addr}")
    reason = (f"Transfer input files failure at access point {peers.ap_host} while sending files to "
              f"execution point {peers.slot}. Details: {detail}")
    return Hold(reason, TRANSFER_INPUT_ERROR, err)


def input_unwritable(peers: Peers, path: str, err: int) -> Hold:
    """The starter cannot write an input file into the scratch directory."""
    reason = (f"Transfer input files failure at execution point {peers.slot} while receiving files "
              f"from access point {peers.ap_host}. Details: writing to file {path}: "
              f"(errno {err}) {_strerror(err)}")
    return Hold(reason, TRANSFER_INPUT_ERROR, err)


def output_unreadable(peers: Peers, path: str, err: int) -> Hold:
    """The starter cannot read an output file (a listed file the job did not make)."""
    detail = from_starter(
        peers.slot,
        f"STARTER at {peers.ip} failed to send file(s) to {peers.shadow_addr}: error reading from "
        f"{path}: (errno {err}) {_strerror(err)}; SHADOW failed to receive file(s) from "
        f"{peers.starter_addr}")
    reason = (f"Transfer output files failure at execution point {peers.slot} while sending files "
              f"to access point {peers.ap_host}. Details: {detail}")
    return Hold(reason, TRANSFER_OUTPUT_ERROR, err)


def output_unwritable(peers: Peers, path: str, err: int) -> Hold:
    """The shadow cannot write an output file where it belongs on the submit side."""
    reason = (f"Transfer output files failure at access point {peers.ap_host} while receiving "
              f"files from execution point {peers.slot}. Details: writing to file {path}: "
              f"(errno {err}) {_strerror(err)}")
    return Hold(reason, TRANSFER_OUTPUT_ERROR, err)


def errno_of(exc: OSError) -> int:
    return exc.errno if exc.errno else _errno.EIO
