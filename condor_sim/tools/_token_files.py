"""Where the token tools read and write IDTOKENS, as HTCondor's ``token_utils``/``token_list``
find them: ``SEC_TOKEN_DIRECTORY`` when set, else ``~/.condor/tokens.d`` of the user's passwd
entry (not ``$HOME``) for an ordinary user, else ``SEC_TOKEN_SYSTEM_DIRECTORY`` (root's).

Also the signing key a token is minted with (``SEC_TOKEN_POOL_SIGNING_KEY_FILE`` for POOL,
``SEC_PASSWORD_DIRECTORY/KEYID`` for the others) and writing a token file.  Used by
``condor_token_create``, ``condor_token_list`` and ``condor_token_fetch``.
"""
from __future__ import annotations

import os
import re

import htcondor2

from condor_sim.security import tokens
from condor_sim.tools.common import ToolError


def _param(name: str) -> str:
    try:
        return htcondor2.param.get(name) or ""
    except Exception:
        return ""


def _passwd_home() -> str | None:
    try:
        import pwd
        return pwd.getpwuid(os.geteuid()).pw_dir or None
    except (ImportError, KeyError):
        return os.environ.get("HOME")


def token_directory() -> str:
    """The directory a user's tokens are in (``-token NAME`` writes there; listing reads it)."""
    configured = _param("SEC_TOKEN_DIRECTORY")
    if configured:
        return configured
    home = _passwd_home() if os.geteuid() != 0 else None   # root may switch ids: system dir
    if home:
        return os.path.join(home, ".condor", "tokens.d")
    return _param("SEC_TOKEN_SYSTEM_DIRECTORY")


def excluded(name: str) -> bool:
    """Whether LOCAL_CONFIG_DIR_EXCLUDE_REGEXP hides ``name`` (dot files, ``~`` backups, ...)."""
    pattern = _param("LOCAL_CONFIG_DIR_EXCLUDE_REGEXP")
    try:
        return bool(pattern) and re.search(pattern, name) is not None
    except re.error:
        return False


def signing_key_path(key_id: str) -> str:
    """The file the key named ``key_id`` is read from; ToolError text as the real one words it."""
    if key_id in ("", "POOL"):
        path = _param("SEC_TOKEN_POOL_SIGNING_KEY_FILE")
        if not path:
            raise KeyError("TOKEN:1:No master pool token key setup in SEC_TOKEN_POOL_SIGNING_KEY_FILE")
        return path
    directory = _param("SEC_PASSWORD_DIRECTORY")
    if not directory:
        raise KeyError("TOKEN:1:SEC_PASSWORD_DIRECTORY is undefined")
    return os.path.join(directory, key_id)


def read_signing_key(key_id: str) -> bytes:
    """The unscrambled key bytes; KeyError carrying the real tool's error line."""
    path = signing_key_path(key_id)
    try:
        raw = tokens.load_signing_key(path)
    except OSError:
        raise KeyError(f"TOKEN:1:Failed to read file {path} securely.") from None
    if not raw:
        raise KeyError(f"TOKEN:1:Failed to read file {path} securely.")
    return raw


def write_token(token_name: str, token: str, use_tokens_dir: bool) -> str:
    """``write_out_token``: print the token when no name is given, else write it (mode 0600,
    one line) to the file or into the tokens directory; returns what to print."""
    if not token_name:
        return token + "\n"
    if use_tokens_dir:
        if token_name != os.path.basename(token_name):
            raise ToolError("Token name isn't a plain filename\n")
        directory = token_directory()
        try:
            os.makedirs(directory, mode=0o700, exist_ok=True)
        except OSError:
            pass
        path = os.path.join(directory, token_name)
    else:
        path = token_name
    try:
        fd = os.open(path, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
    except OSError as e:
        raise ToolError(f"Cannot write token to {path}: {e.strerror} (errno={e.errno})\n") from None
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    return ""


def parse_lifetime(text: str) -> int | None:
    """``std::stol``: leading blanks, a sign and digits (anything after is ignored); None if
    there are no digits or the value does not fit a long."""
    m = re.match(r"[ \t\n\v\f\r]*([+-]?\d+)", text)
    if not m:
        return None
    value = int(m.group(1))
    return value if -2**63 <= value < 2**63 else None
