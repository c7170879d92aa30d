"""What the config engine knows about a knob beyond its value: the raw text, where it was
set, the compiled-in default, the metaknob templates.  ``condor_config_val`` prints these.

The Python bindings expose only expanded values (``htcondor2.param``), but the config
engine they load is HTCondor's own ``libcondor_utils``, shipped in the wheel, and it keeps
all of this (the bindings load the config with its metadata).  This module reads it
through :mod:`ctypes` from that library: the same calls the real tool makes
(``param_get_info``, ``param_get_location``, ``param_default_string``, ``foreach_param``,
``param_meta_table``).  Nothing here parses the config language.

The library is a C++ one: the calls that fill a ``std::string`` need libstdc++'s layout
(Linux wheels).  Where the library or that layout is not there (macOS wheels use libc++),
:func:`engine` returns None and callers fall back to what the bindings give (see
``condor_config_val``: the raw text is then the file's line, the default unknown).
"""
from __future__ import annotations

import ctypes
import glob
import os
from dataclasses import dataclass
from functools import lru_cache

_STD_STRING = "NSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEE"
_SYMBOLS = {
    "get_info": f"_Z14param_get_infoPKcS0_S0_R{_STD_STRING}PS0_PPK10macro_meta",
    "get_location": f"_Z18param_get_locationPK10macro_metaR{_STD_STRING}",
    "default_string": "_Z20param_default_stringPKcS0_",
    "foreach": "_Z13foreach_paramiPFbPvR8HASHITERES_",
    "iter_key": "_Z13hash_iter_keyR8HASHITER",
    "iter_value": "_Z15hash_iter_valueR8HASHITER",
    "iter_meta": "_Z14hash_iter_metaR8HASHITER",
    "source_by_id": "_Z19config_source_by_idi",
    "default_rawval_by_id": "_Z26param_default_rawval_by_idi",
    "meta_table": "_Z16param_meta_tablePKcPi",
    "meta_value": "_Z16param_meta_valuePKcS0_Pi",
}
HASHITER_SHOW_DUPS = 8


@dataclass(frozen=True)
class Meta:
    """MACRO_META: where an entry of the config table came from."""
    param_id: int
    matches_default: bool
    inside: bool          # a value of the defaults table
    multi_line: bool
    source_id: int
    source_line: int
    use_count: int
    ref_count: int
    address: int = 0


@dataclass(frozen=True)
class Info:
    """param_get_info(): the name as the table spells it, the raw value, the compiled-in
    default and where the value was set (``"<file>, line <n>"``, ``<Default>``...)."""
    name: str
    raw: str | None
    default: str | None
    location: str | None


@dataclass(frozen=True)
class Entry:
    """One entry of the config table as ``foreach_param`` walks it."""
    name: str
    raw: str | None
    meta: Meta


class _Meta(ctypes.Structure):
    _fields_ = [("param_id", ctypes.c_short), ("index", ctypes.c_short), ("flags", ctypes.c_int),
                ("source_id", ctypes.c_short), ("source_line", ctypes.c_short),
                ("source_meta_id", ctypes.c_short), ("source_meta_off", ctypes.c_short),
                ("use_count", ctypes.c_short), ("ref_count", ctypes.c_short)]


class _KeyValue(ctypes.Structure):
    _fields_ = [("key", ctypes.c_char_p), ("def_", ctypes.POINTER(ctypes.c_char_p))]


class _KeyTable(ctypes.Structure):
    _fields_ = [("key", ctypes.c_char_p), ("aTable", ctypes.POINTER(_KeyValue)),
                ("cElms", ctypes.c_int)]


def _text(b: bytes | None) -> str | None:
    return None if b is None else b.decode("utf-8", "replace")


def _new_std_string():
    """An empty libstdc++ ``std::string`` (pointer, size, 16-byte local buffer)."""
    buf = ctypes.create_string_buffer(32)
    ctypes.c_void_p.from_buffer(buf, 0).value = ctypes.addressof(buf) + 16
    return buf


def _read_std_string(buf) -> str:
    ptr = ctypes.c_void_p.from_buffer(buf, 0).value
    size = ctypes.c_size_t.from_buffer(buf, 8).value
    return ctypes.string_at(ptr, size).decode("utf-8", "replace") if size else ""


def _meta_of(address: int | None) -> Meta | None:
    if not address:
        return None
    m = _Meta.from_address(address)
    return Meta(m.param_id, bool(m.flags & 1), bool(m.flags & 2), bool(m.flags & 8),
                m.source_id, m.source_line, m.use_count, m.ref_count, address)


class Engine:
    """The loaded library's config calls (the config the bindings loaded)."""

    def __init__(self, lib: ctypes.CDLL):
        f = {k: getattr(lib, v) for k, v in _SYMBOLS.items()}
        f["get_info"].restype = ctypes.c_char_p
        f["get_info"].argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p,
                                  ctypes.POINTER(ctypes.c_char_p), ctypes.POINTER(ctypes.c_void_p)]
        f["get_location"].argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        f["default_string"].restype = ctypes.c_char_p
        f["default_string"].argtypes = [ctypes.c_char_p, ctypes.c_char_p]
        for k in ("iter_key", "iter_value"):
            f[k].restype = ctypes.c_char_p
            f[k].argtypes = [ctypes.c_void_p]
        f["iter_meta"].restype = ctypes.c_void_p
        f["iter_meta"].argtypes = [ctypes.c_void_p]
        f["source_by_id"].restype = ctypes.c_char_p
        f["source_by_id"].argtypes = [ctypes.c_int]
        f["default_rawval_by_id"].restype = ctypes.c_char_p
        f["default_rawval_by_id"].argtypes = [ctypes.c_int]
        f["meta_table"].restype = ctypes.POINTER(_KeyTable)
        f["meta_table"].argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_int)]
        f["meta_value"].restype = ctypes.c_char_p
        f["meta_value"].argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int)]
        self._f = f
        self._callback_type = ctypes.CFUNCTYPE(ctypes.c_bool, ctypes.c_void_p, ctypes.c_void_p)

    def info(self, name: str, subsys: str | None = None, local_name: str | None = None) -> Info | None:
        """param_get_info(): None when the name is in neither the table nor the defaults."""
        used = _new_std_string()
        default = ctypes.c_char_p()
        meta = ctypes.c_void_p()
        raw = self._f["get_info"](name.encode(), subsys.encode() if subsys else None,
                                  local_name.encode() if local_name else None, ctypes.addressof(used),
                                  ctypes.byref(default), ctypes.byref(meta))
        name_used = _read_std_string(used)
        if not name_used:
            return None
        return Info(name_used, _text(raw), _text(default.value), self.location(meta.value))

    def location(self, meta_address: int | None) -> str | None:
        if not meta_address:
            return None
        out = _new_std_string()
        self._f["get_location"](meta_address, ctypes.addressof(out))
        return _read_std_string(out)

    def default(self, name: str, subsys: str | None = None) -> str | None:
        """param_default_string(): the compiled-in default (None when there is none)."""
        return _text(self._f["default_string"](name.encode(), subsys.encode() if subsys else None))

    def default_raw_by_id(self, param_id: int) -> str | None:
        return _text(self._f["default_rawval_by_id"](param_id))

    def entries(self, opts: int = 0) -> list[Entry]:
        """foreach_param(): the table's entries (defaults included) in name order."""
        out: list[Entry] = []
        f = self._f

        def visit(_user, it):
            out.append(Entry(_text(f["iter_key"](it)) or "", _text(f["iter_value"](it)),
                             _meta_of(f["iter_meta"](it))))
            return True
        cb = self._callback_type(visit)
        f["foreach"](opts, cb, None)
        return out

    def source_name(self, source_id: int) -> str | None:
        return _text(self._f["source_by_id"](source_id))

    def meta_table(self, category: str) -> tuple[str, list[tuple[str, str]]] | None:
        """param_meta_table(): a metaknob category's name as spelled in the table and its
        (option, statements) pairs; None for an unknown category."""
        base = ctypes.c_int()
        t = self._f["meta_table"](category.encode(), ctypes.byref(base))
        if not t:
            return None
        table = t.contents
        items = []
        for i in range(table.cElms):
            kv = table.aTable[i]
            text = kv.def_.contents.value if kv.def_ else None
            items.append((_text(kv.key) or "", _text(text) or ""))
        return _text(table.key) or category, items

    def meta_value(self, category: str, option: str) -> str | None:
        return _text(self._f["meta_value"](category.encode(), option.encode(), None))


def _library_path() -> str | None:
    import htcondor2
    here = os.path.dirname(os.path.dirname(os.path.abspath(htcondor2.__file__)))
    found = sorted(glob.glob(os.path.join(here, "htcondor.libs", "libcondor_utils*")))
    return found[0] if found else None


@lru_cache(maxsize=1)
def engine() -> Engine | None:
    """The config calls of the library the bindings loaded, or None where they cannot be
    used from Python (no such library, another C++ standard library)."""
    if os.environ.get("CONDOR_SIM_NO_PARAM_INFO"):
        return None
    path = _library_path()
    if path is None:
        return None
    try:
        return Engine(ctypes.CDLL(path))
    except (OSError, AttributeError):
        return None
