"""Bounds a ClassAd line must pass before it may reach the C++ parser.

The ClassAd library parses and prints expressions recursively: a left-deep ``1+1+…`` of
some 50,000 terms, or a 50,000-step ``a.b.b…``, overflows the stack and kills the whole
process.  So nothing a peer sends reaches ``classad2`` until it has passed these cheap,
pure-Python checks:

* **handshake ads** (the client's DC_AUTHENTICATE ad, read before anything is known about
  the peer) hold literals only, as ``getPODClassAd`` (``condor_utils/classad_oldnew.cpp``)
  demands: each line is ``Name = <one literal token>``;
* **every other ad** has each line bounded in length, in operators and in brackets, so no
  expression tree can be deep enough to hurt.  The bounds are far above anything a real
  daemon or tool sends (a job's Requirements has tens of operators) and far below where
  the parser fails (tens of thousands).

Counting is conservative: operator characters inside string literals count too, until
the cheap whole-ad count says a closer look is needed; then string literals (old ClassAd
syntax: a backslash escapes only a quote) are left out of the count.
"""
from __future__ import annotations

import re

from . import ProtocolError

MAX_LINE = 1 << 20             # one attribute of an authenticated ad
MAX_HANDSHAKE_LINE = 16 << 10  # one attribute of a handshake ad (tokens and keys are < 2 KiB)
MAX_OPERATORS = 5000           # operators (and selections) in one expression
MAX_BRACKETS = 500             # ( [ { in one expression

_NAME = r"[A-Za-z_][A-Za-z0-9_.]*"
# A string literal, as an unrolled loop (three times faster than an alternation per
# character).  It may end a string earlier than old ClassAd syntax does (there a backslash
# escapes only a quote), never later: an early end leaves text the literal check refuses
# or an unterminated string the parser refuses, never an expression.
_STRING = r'"[^"\\]*(?:\\.[^"\\]*)*"'
_NUMBER = r"[-+]?(?:(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?)"
_WORD = r"(?i:true|false|undefined|error)(?![A-Za-z0-9_])"
_LITERAL = rf"(?:{_STRING}|{_NUMBER}|{_WORD})"
_POD_LINE = re.compile(rf"\s*({_NAME})\s*=\s*({_LITERAL})\s*")
_POD_START = re.compile(rf"\s*({_NAME})\s*=\s*{_LITERAL}")
_SPLIT = re.compile(rf"\s*({_NAME})\s*=")
_STRINGS = re.compile(_STRING)
_OPS = re.compile(r"[-+*/%&|^!<>=?:.~]")
_OPENERS = re.compile(r"[(\[{]")


def check_pod_line(line: str) -> str:
    """A handshake-ad line: ``Name = literal`` and nothing else.  Returns the name.

    The refusals are worded as getPODClassAd's.
    """
    if len(line) > MAX_HANDSHAKE_LINE:
        raise ProtocolError(f"getPODClassAd: line of {len(line)} bytes, rejecting.")
    m = _POD_LINE.fullmatch(line)
    if m:
        return m.group(1)
    split = _SPLIT.match(line)
    if not split:
        raise ProtocolError("getPODClassAd: FAILED to split expression, rejecting.")
    if _POD_START.match(line):
        raise ProtocolError(f"getPODClassAd: trailing tokens after literal for attr {split.group(1)}")
    raise ProtocolError(f"getPODClassAd: non-literal expression rejected for attr {split.group(1)}")


def _line_name(line: str) -> str:
    return line.partition("=")[0].strip()[:64]


def check_expression_line(line: str) -> None:
    """One line of an ordinary ad: bounded length, operators and brackets."""
    if len(line) > MAX_LINE:
        raise ProtocolError(f"getClassAd: attribute {_line_name(line)} is {len(line)} bytes long, "
                            f"more than {MAX_LINE}; rejecting.")
    code = _STRINGS.sub('""', line) if '"' in line else line
    ops = len(_OPS.findall(code))
    if ops > MAX_OPERATORS:
        raise ProtocolError(f"getClassAd: expression for {_line_name(line)} has {ops} operators, "
                            f"more than {MAX_OPERATORS}; rejecting.")
    brackets = len(_OPENERS.findall(code))
    if brackets > MAX_BRACKETS:
        raise ProtocolError(f"getClassAd: expression for {_line_name(line)} has {brackets} brackets, "
                            f"more than {MAX_BRACKETS}; rejecting.")


def check_expression_lines(lines: list[str]) -> None:
    """All lines of one ad.  The common case is two scans of the joined text: when the
    whole ad holds no more operator and bracket characters than one expression may, no
    line can hold more; only otherwise is each line counted on its own."""
    for line in lines:
        if len(line) > MAX_LINE:
            check_expression_line(line)
    text = "\n".join(lines)
    if len(_OPS.findall(text)) <= MAX_OPERATORS and len(_OPENERS.findall(text)) <= MAX_BRACKETS:
        return
    for line in lines:
        check_expression_line(line)
