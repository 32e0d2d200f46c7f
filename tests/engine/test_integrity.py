"""Every point from what the student wrote, never from what the student's process says.

One test per family of the integrity issue, each played as a determined student who read the grader's
code would play it: forging probes, the dispatcher or the result writer; forging status lines and
results; resetting timers; feeding the parent inputs that crash or hang it; evading the from-scratch
check; and the honest edge cases that must keep their points.  `ATTACKS` are the notebooks; the old
grader (ae41637) gave them points, which `benchmarks/attacks.py` shows by running them through it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import nbformat
import pytest

from autograder.engine import Limits, grade_notebook
from mlp_lab.questions import QUESTION_IDS

FAST = ["relu_values", "relu_grad", "sigmoid_tanh", "affine_collapse", "param_shapes", "forward_shapes",
        "nonlinear", "from_scratch", "concise_mlp"]
STUB = "def {name}(*args, **kwargs):\n    raise NotImplementedError()\n"
STUBS = "import torch\n" + "".join(STUB.format(name=n) for n in ("relu", "sigmoid", "tanh", "collapse_affine"))

# Cells that forge what the grader reads, appended to an untouched release (the stubs above).
FORGERIES = {
    "replaces the probes": (
        "import mlp_lab.probes as P\nimport numpy as np\n"
        "def fake(unit, fns, inputs, ctx):\n    X = inputs['X']\n"
        "    return {'values': np.maximum(X, 0).astype(float), 'grad': (X > 0).astype(float), 'calls': []}\n"
        "P.PROBES['probe_activation'] = fake\nP.probe_activation = fake\n"),
    "reaches the child's module": (
        "import sys\nworker = sys.modules['autograder.engine.child.worker']\n"
        "worker._probe = lambda *a: {'values': {}}\n"),
    "wraps the result writer": (
        "from autograder.engine import wire\n_encode = wire.encode\n"
        "wire.encode = lambda value: _encode({'values': {'values': 0}})\n"),
    "writes status lines to every descriptor": (
        "import os\nfor fd in range(3, 1000):\n    try:\n"
        "        os.write(fd, b'{\"kind\":\"done\",\"token\":\"x\",\"size\":0}\\nE unit:relu\\n')\n"
        "    except OSError:\n        pass\n"),
    "reads its own frames": "import gc\nframes = [o for o in gc.get_objects() if type(o).__name__ == 'frame']\n",
    "pops torch's function mode": "import torch\nctx = torch._C.DisableTorchFunction()\nctx.__enter__()\n",
    "dynamic code": "exec(\"import os\")\n",
}


@pytest.mark.parametrize("forgery", sorted(FORGERIES))
def test_code_that_reaches_into_the_grader_is_refused_for_review(make_notebook, forgery: str) -> None:  # type: ignore[no-untyped-def]
    """Is every forgery refused before any child runs, every question `review`, the cell and line named?"""
    started = time.monotonic()
    report = grade_notebook(make_notebook([STUBS, FORGERIES[forgery]]), seed=1)
    assert report.score == 0
    assert {q.status for q in report.questions} == {"review"}
    assert "cell 2" in report.questions[0].message and "line" in report.questions[0].message
    assert report.artifacts["integrity"] and time.monotonic() - started < 10  # no child was started


def test_forgeries_earn_nothing_even_with_the_gate_off(make_notebook) -> None:  # type: ignore[no-untyped-def]
    """Behind the gate: does the child (probes bound before any cell, tokens on every answer) still give 0?"""
    cells = [STUBS, *(FORGERIES[f] for f in ("replaces the probes", "writes status lines to every descriptor"))]
    report = grade_notebook(make_notebook(cells), only=["relu_values", "relu_grad"], seed=2, integrity_gate=False)
    assert report.score == 0, report.table()


def test_a_child_cannot_extend_its_steps_clock(make_notebook) -> None:  # type: ignore[no-untyped-def]
    """A cell that sends progress frames while it runs past its budget: killed at its budget all the same?"""
    keepalive = ("import os, time\nend = time.time() + 20\nwhile time.time() < end:\n"
                 "    for fd in range(3, 1000):\n        try:\n"
                 "            os.write(fd, b'{\"kind\":\"progress\",\"token\":\"\",\"text\":\"alive\",\"size\":0}\\n')\n"
                 "        except OSError:\n            pass\n    time.sleep(0.2)\n")
    relu = "import torch\ndef relu(X):\n    return torch.clamp(X, min=0)\n"
    started = time.monotonic()
    report = grade_notebook(make_notebook([relu, keepalive]), only=["relu_values"], seed=3, integrity_gate=False,
                            limits=Limits(cell=3))
    assert time.monotonic() - started < 15
    assert report.result("relu_values").status == "passed"  # the cell after it, and the probes, still ran


def test_malformed_notebook_fields_cost_only_their_cells(tmp_path: Path, reference_source: str) -> None:
    """metadata.nbgrader a string, a source that is a number, a cell that is a list: a report, nothing lost."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(reference_source)]
    raw = json.loads(nbformat.writes(nb))
    raw["cells"][0]["metadata"]["nbgrader"] = "not a mapping"
    raw["cells"] += [{"cell_type": "code", "source": 42, "metadata": {}}, [1, 2], {"source": "x = 1"}]
    path = tmp_path / "odd.ipynb"
    path.write_text(json.dumps(raw))
    report = grade_notebook(path, only=["relu_values"], seed=4)
    assert report.result("relu_values").status == "passed", report.result("relu_values").message
    assert [q.id for q in report.questions] == list(QUESTION_IDS)


def test_reports_are_strict_json_even_when_the_student_returns_nan(make_notebook, tmp_path: Path) -> None:
    nan_relu = "import torch\ndef relu(X):\n    return X * float('nan')\n"
    report = grade_notebook(make_notebook([nan_relu]), only=["relu_values"], seed=5)
    out = tmp_path / "report.json"
    report.write_json(out)

    def refuse(name: str) -> None:
        raise ValueError(f"{name} in a report")

    data = json.loads(out.read_text(), parse_constant=refuse)
    assert data["questions"][0]["status"] == "failed"


HONEST_EDGES = {
    "%%time on the definition cell": "%%time\nimport torch\ndef relu(X):\n    return torch.clamp(X, min=0)\n",
    "a line separator in a comment": "import torch\n# max(0, x)\u2028is relu\ndef relu(X):\n    return torch.clamp(X, min=0)\n",
    "grad mode left off by a later cell": "import torch\ndef relu(X):\n    return torch.clamp(X, min=0)\n"
                                         "torch.set_grad_enabled(False)\n",
    "torch.compile on relu": "import torch\n@torch.compile\ndef relu(X):\n    return torch.where(X > 0, X, 0.)\n",
    "a float64 default dtype": "import torch\ntorch.set_default_dtype(torch.float64)\n"
                               "def relu(X):\n    return torch.clamp(X, min=0)\n",
}


@pytest.mark.parametrize("edge", sorted(HONEST_EDGES))
def test_honest_edge_cases_keep_their_points(make_notebook, edge: str) -> None:  # type: ignore[no-untyped-def]
    report = grade_notebook(make_notebook([HONEST_EDGES[edge]]), only=["relu_values", "relu_grad"], seed=6)
    for qid in ("relu_values", "relu_grad"):
        assert report.result(qid).status == "passed", (edge, report.result(qid).message)


def test_a_late_no_grad_cell_does_not_break_the_models(make_notebook, reference_source: str) -> None:
    """The solution with torch.set_grad_enabled(False) after it: every model question still passes?"""
    report = grade_notebook(make_notebook([reference_source, "torch.set_grad_enabled(False)"]), only=FAST,
                            seed=7)
    failed = {q.id: q.message for q in report.questions if q.id in FAST and q.status != "passed"}
    assert failed == {}


def test_a_forward_that_hangs_costs_its_probe_not_a_training_run(make_notebook, reference_source: str) -> None:
    """Does a hanging MLPScratch.forward time out once, its training unit not start, param_shapes stand?"""
    hang = ("def _hang(self, X):\n    while True:\n        pass\n\nMLPScratch.forward = _hang\n")
    started = time.monotonic()
    report = grade_notebook(make_notebook([reference_source, hang]), only=["param_shapes", "forward_shapes", "accuracy"],
                            seed=8)
    assert time.monotonic() - started < 90
    assert report.result("forward_shapes").status == "timeout"
    assert report.result("param_shapes").status == "passed"  # its evidence needs no forward
    accuracy = report.result("accuracy")
    assert accuracy.status == "timeout" and "not started" in accuracy.message
    assert accuracy.score == 8  # MLP trained: its half stands
