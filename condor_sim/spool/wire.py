"""HTCondor's FileTransfer protocol on a CEDAR connection, sans-IO.

The two sides are generators that yield what they need from the connection --
:data:`RECV` (the next message, answered with a MessageReader), :class:`RecvRaw` (``n``
bytes outside the message framing), :class:`Send` (a message), :class:`SendRaw` (bytes
outside the framing) -- and return a :class:`Outcome`.  Files come from and go to a
*source* / *sink* object handed in, so the protocol itself touches neither sockets nor
disks (``condor_utils/file_transfer.cpp`` DoUpload/DoDownload, ``condor_io/reli_sock.cpp``
put_file/get_file).

One transfer, as the uploader sends it:

* ``[int final][ad SandboxSize]`` -- whether the files are the job's last ones;
* per item: ``[int command]``, ``[string name]``; before the first item's data, the
  go-ahead exchange (the uploader sends ``[int alive_interval]`` and reads an ad whose
  ``Result`` is the downloader's go-ahead, then reads the downloader's ``[int]`` and
  sends its own go-ahead ad); ``Result = 2`` means "and for every later file too";
* a file (command 1, or 2/3 with encryption switched): ``[int mode]`` (the _WITH_PERMS
  commands), ``[int size]`` (plus ``[int buffer size]`` on an AES-GCM stream), then the
  bytes: raw on the socket in clear, a message per buffer under AES-GCM; an empty file
  ends with ``[int 666]``;
* a directory (command 6): ``[int mode]``;
* ``[int 0]`` (finished), then each side's acknowledgement ad (``Result`` 0 = success,
  1 = failed but try again, -1 = failed; ``HoldReason``/``HoldReasonCode`` when failed):
  first the uploader's, then the downloader's.

Everything the peer says is bounded: names (relative, no ``..``, no NUL, short), sizes
(per file, per transfer), the number of items and the buffer size.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generator, Protocol

from ..cedar import ProtocolError
from ..cedar.classad_wire import get_ad, put_lines
from ..cedar.stream import MessageReader, MessageWriter

FINISHED, XFER_FILE, ENCRYPT_ON, ENCRYPT_OFF, X509, DOWNLOAD_URL, MKDIR, OTHER = 0, 1, 2, 3, 4, 5, 6, 999
FILE_COMMANDS = (XFER_FILE, ENCRYPT_ON, ENCRYPT_OFF)
GO_AHEAD_FAILED, GO_AHEAD_UNDEFINED, GO_AHEAD_ONCE, GO_AHEAD_ALWAYS = -1, 0, 1, 2
PUT_FILE_EOM_NUM = 666
NULL_FILE_PERMISSIONS = 0
MISSING_FILE_PERMISSIONS = 1 << 24
AES_FILE_BUF_SZ = 262144          # what put_file uses under AES-GCM
RAW_CHUNK = 65536                 # what put_file uses in clear
ALIVE_INTERVAL = 300
DOWNLOAD_FILE_ERROR = 12          # FILETRANSFER_HOLD_CODE::DownloadFileError
EPERM = 1


class Recv:
    """Ask for the next message."""

    def __repr__(self) -> str:
        return "RECV"


RECV = Recv()


@dataclass
class RecvRaw:
    """Ask for exactly ``n`` bytes outside the message framing."""
    n: int


@dataclass
class Send:
    payload: bytes


@dataclass
class SendRaw:
    data: bytes


class Refused(ProtocolError):
    """The peer sent something out of bounds; the connection must be dropped."""


@dataclass
class Limits:
    max_file_bytes: int = 1 << 30
    max_total_bytes: int = 4 << 30
    max_items: int = 10000
    max_name: int = 4096
    max_component: int = 255


@dataclass
class Outcome:
    ok: bool
    final: bool = False
    files: list[str] = field(default_factory=list)
    bytes: int = 0
    error: str = ""               # why it failed (ours, or what the peer reported)
    refused: list[str] = field(default_factory=list)   # names we would not write


class Sink(Protocol):
    def mkdir(self, name: str, mode: int) -> None: ...
    def open(self, name: str, mode: int) -> None: ...
    def write(self, data: bytes) -> None: ...
    def close(self) -> None: ...


class Source(Protocol):
    def chunks(self, name: str, size: int, chunk: int): ...


@dataclass
class Item:
    """One thing to upload: a file (``size`` bytes) or a directory."""
    name: str
    mode: int
    size: int = 0
    is_dir: bool = False


Steps = Generator[object, object, Outcome]


def bad_name(name: str | None, limits: Limits = Limits()) -> str | None:
    """Why ``name`` may not be written under a sandbox (None if it may)."""
    if not name:
        return "empty name"
    if "\0" in name:
        return "NUL in name"
    if len(name) > limits.max_name:
        return "name too long"
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return "absolute path"
    parts = name.replace("\\", "/").split("/")
    for part in parts:
        if part == "..":
            return "'..' in path"
        if len(part) > limits.max_component:
            return "path component too long"
    if all(p in ("", ".") for p in parts):
        return "no file name"
    return None


def _msg(encrypted: bool) -> MessageWriter:
    return MessageWriter(encrypted)


def _int_message(value: int, encrypted: bool) -> Send:
    return Send(_msg(encrypted).put_int(value).getvalue())


def _ad_message(lines: list[str], encrypted: bool) -> Send:
    return Send(put_lines(_msg(encrypted), lines).getvalue())


def ack_lines(ok: bool, try_again: bool = False, reason: str = "", code: int = 0,
              subcode: int = 0) -> list[str]:
    """SendTransferAck's ad."""
    result = 0 if ok else (1 if try_again else -1)
    lines = [f"Result = {result}", "TransferStats = [  ]"]
    if not ok:
        text = reason.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        lines += [f"HoldReasonCode = {code}", f"HoldReasonSubCode = {subcode}",
                  f'HoldReason = "{text}"']
    return lines


def _read_ack(m: MessageReader) -> tuple[bool, str]:
    ad = get_ad(m)
    result = ad.get("Result")
    if not isinstance(result, int):
        return False, "acknowledgment missing attribute: Result"
    reason = ad.get("HoldReason")
    return result == 0, reason if isinstance(reason, str) else ""


def _int_of(m) -> int:
    if not isinstance(m, MessageReader):
        raise ProtocolError("expected a message")
    return m.get_int()


# ---------------------------------------------------------------------------- download
def _peer_go_ahead():
    """Read the peer's go-ahead ads until one decides (``GO_AHEAD_UNDEFINED`` means "wait");
    returns (its Result, or None when it is a refusal, and the ad)."""
    while True:
        ad = get_ad((yield RECV))
        go = ad.get("Result")
        if go != GO_AHEAD_UNDEFINED:
            break
    return (go if isinstance(go, int) and go >= 0 else None), ad


def download(sink: Sink, *, encrypted: bool, with_perms: bool = True,
             limits: Limits = Limits()) -> Steps:
    """Receive one transfer into ``sink`` (DoDownload, the schedd's side of a spool)."""
    out = Outcome(ok=True)
    m = yield RECV
    out.final = _int_of(m) != 0
    get_ad(m)                                   # the sender's SandboxSize: not needed
    asked = False
    items = 0
    while True:
        command = _int_of((yield RECV))
        if command == FINISHED:
            break
        items += 1
        if items > limits.max_items:
            raise Refused(f"more than {limits.max_items} files in one transfer")
        if command not in FILE_COMMANDS and command != MKDIR:
            raise Refused(f"unsupported file transfer command {command}")
        m = yield RECV
        name = m.get_string()
        why = bad_name(name, limits)
        if not asked:                           # the go-ahead, once for all files
            _int_of((yield RECV))               # the peer's alive interval
            yield _ad_message([f"Result = {GO_AHEAD_ALWAYS}"], encrypted)
            yield _int_message(ALIVE_INTERVAL, encrypted)
            go, _ = yield from _peer_go_ahead()
            if go is None:
                return Outcome(ok=False, final=out.final, files=out.files, bytes=out.bytes,
                               error="peer refused to go ahead")
            asked = True
        if why is not None:
            out.refused.append(f"{name!r}: {why}")
            name = None
        if command == MKDIR:
            mode = _int_of((yield RECV))
            if name is not None:
                sink.mkdir(name, _mode_bits(mode, 0o700))
            continue
        mode = _int_of((yield RECV)) if with_perms else NULL_FILE_PERMISSIONS
        if mode == MISSING_FILE_PERMISSIONS:
            name = None
        got = yield from _receive_file(sink, name, _mode_bits(mode, 0o600), encrypted,
                                       limits, out.bytes)
        out.bytes += got
        if name is not None:
            out.files.append(name)
    ok, why = _read_ack((yield RECV))
    if not ok:
        out.ok, out.error = False, why or "the peer failed to send its files"
        yield _ad_message(ack_lines(False, True, out.error, DOWNLOAD_FILE_ERROR, 0), encrypted)
        return out
    if out.refused:
        out.ok = False
        out.error = "Attempt to write to illegal sandbox path: " + ", ".join(out.refused)
        yield _ad_message(ack_lines(False, False, out.error, DOWNLOAD_FILE_ERROR, EPERM), encrypted)
        return out
    yield _ad_message(ack_lines(True), encrypted)
    return out


def _mode_bits(mode: int, default: int) -> int:
    if mode in (NULL_FILE_PERMISSIONS, MISSING_FILE_PERMISSIONS) or mode < 0:
        return default
    return (mode & 0o777) | 0o600


def _receive_file(sink: Sink, name: str | None, mode: int, encrypted: bool, limits: Limits,
                  so_far: int):
    """get_file: the size, the bytes, the end; the bytes go to ``sink`` (or nowhere when
    ``name`` is None).  Returns the number of bytes."""
    m = yield RECV
    size = m.get_int()
    buf_sz = m.get_int() if encrypted else RAW_CHUNK
    if size < 0 or size > limits.max_file_bytes:
        raise Refused(f"file size {size} out of bounds (at most {limits.max_file_bytes})")
    if so_far + size > limits.max_total_bytes:
        raise Refused(f"transfer larger than {limits.max_total_bytes} bytes")
    if buf_sz <= 0 or buf_sz > 4 * AES_FILE_BUF_SZ:
        raise Refused(f"bad buffer size {buf_sz}")
    if name is not None:
        sink.open(name, mode)
    got = 0
    try:
        while got < size:
            if encrypted:
                m = yield RECV
                chunk = m.data[m.pos:]
                if not chunk or len(chunk) > buf_sz or got + len(chunk) > size:
                    raise Refused("file data does not match its announced size")
            else:
                chunk = yield RecvRaw(min(RAW_CHUNK, size - got))
            if name is not None:
                sink.write(chunk)
            got += len(chunk)
        if size == 0 and _int_of((yield RECV)) != PUT_FILE_EOM_NUM:
            raise Refused("empty file without its end marker")
    finally:
        if name is not None:
            sink.close()
    return got


# ---------------------------------------------------------------------------- upload
def upload(source: Source, items: list[Item], *, encrypted: bool, final: bool = True,
           with_perms: bool = True) -> Steps:
    """Send ``items`` (DoUpload, the schedd's side of a retrieve)."""
    total = sum(i.size for i in items if not i.is_dir)
    w = _msg(encrypted).put_int(1 if final else 0)
    yield Send(put_lines(w, [f"SandboxSize = {total}"]).getvalue())
    asked = False
    sent = 0
    for item in items:
        yield _int_message(MKDIR if item.is_dir else XFER_FILE, encrypted)
        yield Send(_msg(encrypted).put_string(item.name).getvalue())
        if not asked:
            yield _int_message(ALIVE_INTERVAL, encrypted)
            go, ad = yield from _peer_go_ahead()
            if go is None:
                reason = ad.get("HoldReason")
                return Outcome(ok=False, final=final, error=reason if isinstance(reason, str)
                               else "peer refused to go ahead")
            _int_of((yield RECV))
            yield _ad_message([f"Result = {GO_AHEAD_ALWAYS}"], encrypted)
            asked = True
        if item.is_dir:
            yield _int_message(item.mode, encrypted)
            continue
        if with_perms:
            yield _int_message(item.mode, encrypted)
        w = _msg(encrypted).put_int(item.size)
        if encrypted:
            w.put_int(AES_FILE_BUF_SZ)
        yield Send(w.getvalue())
        done = 0
        for chunk in source.chunks(item.name, item.size, AES_FILE_BUF_SZ if encrypted else RAW_CHUNK):
            chunk = chunk[:item.size - done]
            if not chunk:
                break
            yield Send(bytes(chunk)) if encrypted else SendRaw(bytes(chunk))
            done += len(chunk)
        if done < item.size:            # the file shrank: pad, as the size was promised
            pad = bytes(item.size - done)
            yield Send(pad) if encrypted else SendRaw(pad)
        if item.size == 0:
            yield _int_message(PUT_FILE_EOM_NUM, encrypted)
        sent += item.size
    yield _int_message(FINISHED, encrypted)
    yield _ad_message(ack_lines(True), encrypted)
    ok, why = _read_ack((yield RECV))
    return Outcome(ok=ok, final=final, files=[i.name for i in items], bytes=sent, error=why)
