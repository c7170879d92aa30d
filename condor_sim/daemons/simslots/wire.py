"""Ads as wire lines, fast: a pool of simulated machines sends the same attribute values
over and over (the host facts, the knob expressions), so each distinct ``name = value``
line is printed once (by the library, in old ClassAd syntax, as ``put_ad`` prints it) and
looked up afterwards."""
from __future__ import annotations

import classad2

from ...cedar.classad_wire import format_line, is_private, put_lines
from ...cedar.stream import MessageWriter

_LINES: dict = {}
_MAX_LINES = 400_000
_PLAIN = (str, int, float, bool)


def line(name: str, value) -> str:
    if isinstance(value, _PLAIN):
        key = (name, type(value), value)
    elif isinstance(value, classad2.ExprTree):
        key = (name, classad2.ExprTree, str(value))
    else:
        return format_line(name, value)
    text = _LINES.get(key)
    if text is None:
        if len(_LINES) >= _MAX_LINES:
            _LINES.clear()
        text = _LINES[key] = format_line(name, value)
    return text


def ad_lines(ad: dict, include_private: bool) -> list[str]:
    return [line(k, v) for k, v in ad.items() if include_private or not is_private(k)]


def put_dict_ad(w: MessageWriter, ad: dict) -> MessageWriter:
    """``put_ad`` for a dict ad: private attributes only inside an encrypted stream."""
    return put_lines(w, ad_lines(ad, w.encrypted))
