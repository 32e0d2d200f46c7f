"""The wire format: what a child sends is read back as plain values, or refused with a WireError."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest

from autograder.engine import wire


def _archive(structure: str, **arrays: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, structure=np.frombuffer(structure.encode(), dtype=np.uint8), **arrays)
    return buf.getvalue()


def test_values_and_arrays_round_trip() -> None:
    value = {"values": np.arange(6.0).reshape(2, 3), "calls": ["torch.relu"], "n": 3, "nested": {"x": np.int64(4)},
             "shape": (5, 10), "none": None, "nan": float("nan"), "inf": float("-inf")}
    back = wire.decode(wire.encode(value))
    assert np.array_equal(back["values"], value["values"]) and back["calls"] == ["torch.relu"]
    assert back["n"] == 3 and back["nested"] == {"x": 4} and back["shape"] == [5, 10] and back["none"] is None
    assert np.isnan(back["nan"]) and back["inf"] == float("-inf")


def test_objects_that_are_not_plain_values_are_refused_on_the_way_out() -> None:
    with pytest.raises(TypeError, match="cannot send"):
        wire.encode({"f": lambda: 0})


def test_an_answer_over_the_size_limit_is_refused() -> None:
    with pytest.raises(wire.WireError, match="larger than"):
        wire.decode(wire.encode({"a": np.zeros(1000)}), max_bytes=100)


def test_an_archive_that_inflates_is_refused() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("structure.npy", b"\0" * (2 * 1024 * 1024))
    with pytest.raises(wire.WireError, match="unpack"):
        wire.decode(buf.getvalue(), max_bytes=1024 * 1024)


def test_deeply_nested_json_is_refused_before_it_is_parsed() -> None:
    """Would 100,000 nested lists (a RecursionError in json and in any recursive walk) get through?"""
    data = _archive("[" * 100_000 + "]" * 100_000)
    with pytest.raises(wire.WireError, match="nests deeper"):
        wire.decode(data)
    assert wire.decode(_archive('{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}')) == {"a": "[" * 40}


@pytest.mark.parametrize(("structure", "why"), [
    ('{"__array__": "a7"}', "missing"),
    ('{"x": NaN}', "not a number"),
    ('{"x": 1', "unreadable"),
    ('{"__float__": "1e999"}', "inf, -inf or nan"),
])
def test_malformed_answers_are_wire_errors(structure: str, why: str) -> None:
    with pytest.raises(wire.WireError, match=why):
        wire.decode(_archive(structure))


def test_object_and_string_arrays_are_refused() -> None:
    with pytest.raises(wire.WireError, match="dtype"):
        wire.decode(_archive(json.dumps({"a": {"__array__": "a0"}}), a0=np.array(["x", "y"])))


@pytest.mark.parametrize("junk", [b"", b"not a zip", b"PK\x03\x04" + b"\0" * 100])
def test_bytes_that_are_no_archive_are_wire_errors(junk: bytes) -> None:
    with pytest.raises(wire.WireError):
        wire.decode(junk)


def test_an_archive_without_structure_is_refused() -> None:
    buf = io.BytesIO()
    np.savez(buf, a0=np.zeros(3))
    with pytest.raises(wire.WireError, match="no structure"):
        wire.decode(buf.getvalue())
