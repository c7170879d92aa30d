"""``condor_token_create``: mint an IDTOKEN locally with a signing key of the pool, as HTCondor's
``token_create.cpp`` does: ``-identity``, ``-key``, ``-lifetime``, ``-authz`` (repeatable),
``-token NAME`` (into the user's tokens directory) or ``-file NAME``; printed otherwise.

Like the real tool it needs read access to the signing key (``SEC_TOKEN_POOL_SIGNING_KEY_FILE``
or ``SEC_PASSWORD_DIRECTORY/KEYID``) and signs with it (:func:`condor_sim.security.tokens.mint`).
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Sequence

from condor_sim.tools import _token_files as T
from condor_sim.tools.common import ArgCursor, ToolError, is_dash_arg_prefix, run_tool

PROG = "condor_token_create"
USAGE = (
    "Usage: {prog} -identity USER@DOMAIN [-key KEYID] [-authz AUTHZ] [-lifetime VAL] [-token NAME | -file NAME]\n"
    "Generates a token from the local password.\n"
    "\nToken options:\n"
    "    -authz    <authz>                Whitelist one or more authorization\n"
    "    -lifetime <val>                  Max token lifetime, in seconds\n"
    "    -identity <USER@DOMAIN>          User identity\n"
    "    -key      <KEYID>                Key to use for signing\n"
    "\nOther options:\n"
    "    -token    <NAME>                 Name of token file in tokens.d\n"
    "    -file     <NAME>                 Token filename\n"
)


@dataclass
class Options:
    identity: str = ""
    key: str = "POOL"
    authz: list[str] = field(default_factory=list)
    lifetime: int = -1
    token_name: str = ""
    use_tokens_dir: bool = False


def usage_error(prog: str = PROG, before: str = "") -> ToolError:
    return ToolError(before + USAGE.format(prog=prog), rc=1)


def parse_args(args: list[str], prog: str = PROG) -> Options:
    """The options, or ToolError with the real texts (usage and exit code 1)."""
    if len(args) < 2:
        raise usage_error(prog)
    o = Options()
    cursor = ArgCursor(args)

    def value(what: str) -> str:
        return cursor.take(f"{prog}: {what}")

    for a in cursor:
        if is_dash_arg_prefix(a, "identity", 2):
            o.identity = value("-identity requires a condor identity as an argument")
        elif is_dash_arg_prefix(a, "key", 1):
            o.key = value("-key requires a key ID as an argument")
        elif is_dash_arg_prefix(a, "authz", 1):
            o.authz.append(value("-authz requires an authorization name argument"))
        elif is_dash_arg_prefix(a, "lifetime", 1):
            text = value("-lifetime requires an integer in seconds.")
            lifetime = T.parse_lifetime(text)
            if lifetime is None:
                raise ToolError(f"{prog}: Invalid argument for -lifetime: {text}.\n")
            o.lifetime = lifetime
        elif is_dash_arg_prefix(a, "token", 2):
            o.token_name, o.use_tokens_dir = value("-token requires a file name argument."), True
        elif is_dash_arg_prefix(a, "file", 1):
            o.token_name, o.use_tokens_dir = value("-file requires a file name argument."), False
        elif is_dash_arg_prefix(a.split(":", 1)[0], "debug", 1):
            pass
        elif is_dash_arg_prefix(a, "help", 1):
            raise usage_error(prog)
        else:
            raise usage_error(prog, f"{prog}: Invalid command line argument: {a}\n")
    return o


def trust_domain() -> str:
    """The issuer: TRUST_DOMAIN (ToolError text when unset or not one word)."""
    issuer = T._param("TRUST_DOMAIN")
    if not issuer:
        raise ToolError("Failed to generate a token.\nPASSWD:1:Issuer namespace is not set\n", rc=2)
    if any(c in issuer for c in ", \t"):
        raise ToolError("Failed to generate a token.\n"
                        "PASSWD:1:Issuer namespace may not contain spaces or commas\n", rc=2)
    return issuer


def create(o: Options) -> str:
    """Mint the token; returns it (or "" when written to a file)."""
    from condor_sim.security import tokens
    try:
        raw = T.read_signing_key(o.key)
    except KeyError as e:
        raise ToolError(f"Failed to generate a token.\n{e.args[0]}\n", rc=2) from None
    token = tokens.mint(raw, o.identity, trust_domain(), o.key or "POOL",
                        o.lifetime if o.lifetime >= 0 else None, o.authz)
    return T.write_token(o.token_name, token, o.use_tokens_dir)


def _body(args: list[str]) -> int:
    o = parse_args(args)
    sys.stdout.write(create(o))
    sys.stdout.flush()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run_tool(_body, argv)


if __name__ == "__main__":
    sys.exit(main())
