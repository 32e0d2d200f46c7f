"""How a grading child hands plain values to the grader: JSON for structure, .npz for arrays.

Nothing here unpickles: arrays are read with `allow_pickle=False`, JSON with `json`, and the
reader refuses files over a size limit.  Tuples arrive as lists.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["MAX_BYTES", "WireError", "dump", "load"]

MAX_BYTES = 64 * 1024 * 1024


class WireError(Exception):
    """A result file is missing, too large or malformed."""


def _split(value: Any, arrays: dict[str, np.ndarray], path: str) -> Any:
    if isinstance(value, np.ndarray):
        key = f"a{len(arrays)}"
        arrays[key] = value
        return {"__array__": key}
    if isinstance(value, dict):
        return {str(k): _split(v, arrays, f"{path}.{k}") for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_split(v, arrays, f"{path}[{i}]") for i, v in enumerate(value)]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, np.integer | np.floating):
        return value.item()
    raise TypeError(f"cannot send {type(value).__name__} at {path}")


def dump(base: Path, value: Any) -> None:
    """Write `base`.json (and `base`.npz when there are arrays), the JSON last, so it marks completion."""
    arrays: dict[str, np.ndarray] = {}
    structure = _split(value, arrays, "value")
    if arrays:
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        base.with_suffix(".npz").write_bytes(buf.getvalue())
    tmp = base.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(structure), encoding="utf-8")
    os.replace(tmp, base.with_suffix(".json"))


def _join(value: Any, arrays: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"__array__"}:
            key = value["__array__"]
            if arrays is None or key not in arrays.files:
                raise WireError(f"array {key} missing")
            arr = arrays[key]
            if arr.dtype.kind not in "biuf":
                raise WireError(f"array {key} has dtype {arr.dtype}")
            return arr
        return {k: _join(v, arrays) for k, v in value.items()}
    if isinstance(value, list):
        return [_join(v, arrays) for v in value]
    return value


def load(base: Path, max_bytes: int = MAX_BYTES) -> Any:
    """Read what `dump` wrote; WireError when anything is off."""
    js, npz = base.with_suffix(".json"), base.with_suffix(".npz")
    try:
        for f in (js, npz):
            if f.exists() and f.stat().st_size > max_bytes:
                raise WireError(f"{f.name} is larger than {max_bytes} bytes")
        structure = json.loads(js.read_text(encoding="utf-8"))
        if npz.exists():
            # A crafted archive can inflate far beyond its size on disk: count what it would unpack to.
            with zipfile.ZipFile(npz) as archive:
                unpacked = sum(info.file_size for info in archive.infolist())
            if unpacked > max_bytes:
                raise WireError(f"{npz.name} would unpack to {unpacked} bytes (limit {max_bytes})")
            with np.load(npz, allow_pickle=False) as arrays:
                return _join(structure, arrays)
        return _join(structure, None)
    except WireError:
        raise
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as err:
        raise WireError(f"{base.name}: {err}") from None
