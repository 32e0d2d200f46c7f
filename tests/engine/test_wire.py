"""The wire format: what a child writes is read back as plain values, or refused with a WireError."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from autograder.engine import wire


def test_values_and_arrays_round_trip(tmp_path: Path) -> None:
    value = {"values": np.arange(6.0).reshape(2, 3), "calls": ["torch.relu"], "n": 3, "nested": {"x": np.int64(4)},
             "shape": (5, 10), "none": None}
    wire.dump(tmp_path / "unit-relu", value)
    back = wire.load(tmp_path / "unit-relu")
    assert np.array_equal(back["values"], value["values"]) and back["calls"] == ["torch.relu"]
    assert back["n"] == 3 and back["nested"] == {"x": 4} and back["shape"] == [5, 10] and back["none"] is None


def test_objects_that_are_not_plain_values_are_refused_on_the_way_out(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="cannot send"):
        wire.dump(tmp_path / "x", {"f": lambda: 0})


def test_a_file_over_the_size_limit_is_refused(tmp_path: Path) -> None:
    wire.dump(tmp_path / "big", {"a": np.zeros(1000)})
    with pytest.raises(wire.WireError, match="larger than"):
        wire.load(tmp_path / "big", max_bytes=100)


def test_an_archive_that_inflates_is_refused(tmp_path: Path) -> None:
    base = tmp_path / "unit-relu"
    wire.dump(base, {"values": {"x": np.zeros(10)}})
    with zipfile.ZipFile(base.with_suffix(".npz"), "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("a0.npy", b"\0" * (2 * 1024 * 1024))
    with pytest.raises(wire.WireError, match="unpack"):
        wire.load(base, max_bytes=1024 * 1024)


@pytest.mark.parametrize(("json_text", "why"), [
    ("{not json", "unit"),
    ('{"__array__": "a7"}', "missing"),
])
def test_malformed_results_are_wire_errors(tmp_path: Path, json_text: str, why: str) -> None:
    (tmp_path / "unit.json").write_text(json_text)
    with pytest.raises(wire.WireError, match=why):
        wire.load(tmp_path / "unit")


def test_object_arrays_are_refused(tmp_path: Path) -> None:
    wire.dump(tmp_path / "u", {"a": np.zeros(2)})
    np.savez(tmp_path / "u.npz", a0=np.array(["x", "y"]))
    with pytest.raises(wire.WireError, match="dtype"):
        wire.load(tmp_path / "u")


def test_a_missing_result_is_a_wire_error(tmp_path: Path) -> None:
    with pytest.raises(wire.WireError):
        wire.load(tmp_path / "never-written")
