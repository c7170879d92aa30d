"""The argument and environment string syntaxes of a job ad, as the starter reads them.

``Arguments`` holds the "V2 raw" form: whitespace-separated, single quotes group, and a
doubled single quote inside a group is a literal quote.  ``Args`` holds the old "V1 raw"
form: plain whitespace splitting.  ``Environment`` is V2 raw ``NAME=value`` tokens;
``Env`` is V1: entries separated by ``;`` (or by a permitted delimiter given as the first
character, or ``EnvDelim``), and newlines.  The submit-file forms ("double-quoted") turn
into V2 raw by dropping the outer quotes and undoubling ``""``.  Pure functions.
"""
from __future__ import annotations

_WHITESPACE = " \t\n\r"
_V1_ENV_DELIMS = "!#$%&*+,-/:;<>?@^`|~\x1f"


class SyntaxErrorInAd(ValueError):
    """An argument or environment string that does not parse; the text is HTCondor's."""


def split_v2_raw(text: str) -> list[str]:
    """Split a V2 raw string (``Arguments``, ``Environment``) into its tokens."""
    out: list[str] = []
    buf: list[str] = []
    token = False
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "'":
            start = i
            i += 1
            token = True
            while True:
                if i >= n:
                    raise SyntaxErrorInAd(f"Unbalanced quote starting here: {text[start:]}")
                if text[i] == "'":
                    if i + 1 < n and text[i + 1] == "'":
                        buf.append("'")
                        i += 2
                        continue
                    i += 1
                    break
                buf.append(text[i])
                i += 1
        elif ch in _WHITESPACE:
            i += 1
            if token:
                out.append("".join(buf))
                buf, token = [], False
        else:
            token = True
            buf.append(ch)
            i += 1
    if token:
        out.append("".join(buf))
    return out


def split_v1_raw(text: str) -> list[str]:
    """Split an old-syntax ``Args`` string: whitespace only, no quoting."""
    return text.split()


def is_v2_quoted(text: str) -> bool:
    return text.lstrip().startswith('"')


def v2_quoted_to_raw(text: str) -> str:
    """The submit-file double-quoted form to V2 raw (``""`` is a literal ``"``)."""
    s = text.lstrip()
    if not s.startswith('"'):
        raise SyntaxErrorInAd("Expecting a double-quoted string (V2 format).")
    i, out = 1, []
    while i < len(s):
        if s[i] == '"':
            if i + 1 < len(s) and s[i + 1] == '"':
                out.append('"')
                i += 2
                continue
            rest = s[i + 1:]
            if rest.strip():
                raise SyntaxErrorInAd(
                    "Unexpected characters following double-quote.  Did you forget to escape the "
                    "double-quote by repeating it?  Here is the quote and trailing characters: "
                    f"{s[i:]}\n")
            return "".join(out)
        out.append(s[i])
        i += 1
    raise SyntaxErrorInAd("Unterminated double-quote.")


def quote_arg(arg: str) -> str:
    """One argument in V2 raw form (what the starter prints for a command line)."""
    if not arg:
        return "''"
    out: list[str] = []
    for ch in arg:
        if ch in " \t\n\r'":
            if out and out[-1] == "'":
                out.pop()          # extend the quoted section just closed
            else:
                out.append("'")
            out.append("''" if ch == "'" else ch)
            out.append("'")
        else:
            out.append(ch)
    return "".join(out)


def join_args(args: list[str]) -> str:
    """Arguments joined in V2 raw form, the inverse of :func:`split_v2_raw`."""
    return " ".join(quote_arg(a) for a in args)


def _set_entry(env: dict[str, str], entry: str) -> None:
    name, eq, value = entry.partition("=")
    if not eq:
        if "$$" in entry:
            return
        raise SyntaxErrorInAd(f"ERROR: Missing '=' after environment variable '{entry}'.")
    if not name:
        raise SyntaxErrorInAd(f"ERROR: missing variable in '{entry}'.")
    env[name] = value


def env_from_v2_raw(text: str) -> dict[str, str]:
    """``Environment``: V2 raw tokens, each ``NAME=value``."""
    env: dict[str, str] = {}
    for entry in split_v2_raw(text):
        _set_entry(env, entry)
    return env


def env_from_v1_raw(text: str, delim: str | None = None) -> dict[str, str]:
    """``Env``: entries split on ``delim`` (default ``;``, or a permitted delimiter given as
    the first character) and on newlines; leading whitespace of each entry dropped."""
    env: dict[str, str] = {}
    if not text:
        return env
    d = delim or ";"
    if text[0] == d:
        text = text[1:]
    elif text[0] in _V1_ENV_DELIMS:
        d, text = text[0], text[1:]
    for line in text.split("\n"):
        for entry in line.split(d):
            entry = entry.lstrip(_WHITESPACE)
            if entry:
                _set_entry(env, entry)
    return env


def env_from_v1_or_v2_quoted(text: str) -> dict[str, str]:
    """A config or submit value: double-quoted means V2, anything else V1."""
    if is_v2_quoted(text):
        return env_from_v2_raw(v2_quoted_to_raw(text))
    return env_from_v1_raw(text)
