"""How plain values cross between the parent and a child: one `.npz` archive in memory, no pickle.

`encode(value)` puts the value's structure (dicts, lists, strings, numbers, None) as JSON in the
archive's `structure` entry and every numpy array as an entry of its own.  `decode(data)` is the
parent's reader of bytes a child sent, and trusts nothing: it refuses archives over `MAX_BYTES` (on
the wire or once unpacked), more than `MAX_ENTRIES` entries, JSON nested deeper than `MAX_DEPTH`,
non-finite JSON constants, arrays that are not plain numbers, and references to arrays that are not
there.  Every refusal is a `WireError`; nothing else escapes.
"""

from __future__ import annotations

import io
import json
import math
import zipfile
from typing import Any

import numpy as np

__all__ = ["MAX_BYTES", "MAX_DEPTH", "MAX_ENTRIES", "WireError", "decode", "encode"]

MAX_BYTES = 64 * 1024 * 1024
MAX_DEPTH = 32
MAX_ENTRIES = 4096
_STRUCTURE = "structure"


class WireError(Exception):
    """What a child sent is too large, malformed, or not plain values."""


def _split(value: Any, arrays: dict[str, np.ndarray], path: str) -> Any:
    if isinstance(value, np.ndarray):
        key = f"a{len(arrays)}"
        arrays[key] = value
        return {"__array__": key}
    if isinstance(value, dict):
        return {str(k): _split(v, arrays, f"{path}.{k}") for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_split(v, arrays, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, np.integer | np.floating | np.bool_):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return {"__float__": repr(value)}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"cannot send {type(value).__name__} at {path}")


def encode(value: Any) -> bytes:
    """The archive for `value` (TypeError for anything that is not plain values and arrays)."""
    arrays: dict[str, np.ndarray] = {}
    structure = _split(value, arrays, "value")
    buf = io.BytesIO()
    text = json.dumps(structure, allow_nan=False).encode()
    np.savez(buf, **{_STRUCTURE: np.frombuffer(text, dtype=np.uint8)}, **arrays)
    return buf.getvalue()


def _depth_ok(text: str, limit: int) -> bool:
    """Whether JSON `text` nests no deeper than `limit` (strings skipped), without parsing it."""
    depth, in_string, escaped = 0, False, False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > limit:
                return False
        elif ch in "]}":
            depth -= 1
    return True


def _refuse_constant(name: str) -> Any:
    raise WireError(f"the JSON holds {name}, which is not a number")


def _join(value: Any, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(value, dict):
        if set(value) == {"__array__"}:
            key = value["__array__"]
            if not isinstance(key, str) or key not in arrays:
                raise WireError(f"array {str(key)[:40]} missing")
            return arrays[key]
        if set(value) == {"__float__"}:
            if value["__float__"] not in ("inf", "-inf", "nan"):
                raise WireError("a float that is not inf, -inf or nan")
            return float(value["__float__"])
        return {k: _join(v, arrays) for k, v in value.items()}
    if isinstance(value, list):
        return [_join(v, arrays) for v in value]
    return value


def decode(data: bytes, *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH) -> Any:
    """Read what `encode` wrote; WireError when anything is off."""
    if len(data) > max_bytes:
        raise WireError(f"the answer is larger than {max_bytes} bytes")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            if len(infos) > MAX_ENTRIES:
                raise WireError(f"the answer has {len(infos)} entries (limit {MAX_ENTRIES})")
            # A crafted archive can inflate far beyond its size: count what it would unpack to.
            unpacked = sum(info.file_size for info in infos)
            if unpacked > max_bytes:
                raise WireError(f"the answer would unpack to {unpacked} bytes (limit {max_bytes})")
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
        raw = arrays.pop(_STRUCTURE, None)
        if raw is None or raw.dtype != np.uint8 or raw.ndim != 1:
            raise WireError("the answer has no structure")
        text = raw.tobytes().decode("utf-8")
        if not _depth_ok(text, max_depth):
            raise WireError(f"the answer nests deeper than {max_depth} levels")
        structure = json.loads(text, parse_constant=_refuse_constant)
        for key, arr in arrays.items():
            if arr.dtype.kind not in "biuf" or arr.dtype.hasobject:
                raise WireError(f"array {key} has dtype {arr.dtype}")
        return _join(structure, arrays)
    except WireError:
        raise
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile, RecursionError,
            MemoryError, UnicodeDecodeError) as err:
        raise WireError(f"unreadable answer ({type(err).__name__}: {str(err)[:200]})") from None
