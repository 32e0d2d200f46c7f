"""The hardened grader against honest and hostile submissions.

Each hostile notebook mixes attacks with correct answers.  The integrity gate refuses all of them
before any child starts (`test_the_gate_refuses_the_attacks_before_any_child_runs`); the other tests
turn the gate off (`integrity_gate=False`) to show the layer behind it: the sandboxed child must
survive every attack, keep the points of the questions the attacks do not touch, and say what
happened.  Gradings here use `only=` so that no model is trained unless a test is about training.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from autograder.engine import Limits, grade_notebook
from mlp_lab.questions import MAX_SCORE, QUESTION_IDS

FAST = ["relu_values", "relu_grad", "sigmoid_tanh", "affine_collapse", "param_shapes", "forward_shapes",
        "nonlinear", "from_scratch", "concise_mlp"]
DATASET_LABELS = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz"


def _status(report, qid):  # type: ignore[no-untyped-def]
    r = report.result(qid)
    return r.status, r.message


def test_reference_solution_scores_every_fast_point(make_notebook, reference_source) -> None:  # type: ignore[no-untyped-def]
    report = grade_notebook(make_notebook(["%matplotlib inline\n" + reference_source]), only=FAST, seed=1)
    failed = {q.id: q.message for q in report.questions if q.id in FAST and q.status != "passed"}
    assert failed == {}
    assert report.result("accuracy").message == "not graded in this run"


def test_every_question_is_reported_for_an_unreadable_notebook(tmp_path: Path) -> None:
    bad = tmp_path / "broken.ipynb"
    bad.write_text('{"cells": [', encoding="utf-8")
    report = grade_notebook(bad)
    assert [q.id for q in report.questions] == list(QUESTION_IDS)
    assert report.score == 0 and report.max_score == MAX_SCORE
    assert all(q.status == "error" and "not valid JSON" in q.message for q in report.questions)


def test_json_that_is_not_a_notebook_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "list.ipynb"
    bad.write_text("[1, 2, 3]", encoding="utf-8")
    assert "not a Jupyter notebook" in grade_notebook(bad).result("relu_values").message


ATTACKS = '''
import os, sys, signal, socket, subprocess, threading
BLOCKED, LEAKED = [], []
def attempt(name, fn):
    try:
        fn()
        LEAKED.append(name)
    except BaseException as e:
        BLOCKED.append(f"{name}: {type(e).__name__}")
attempt("read dataset labels", lambda: open(DATASET_LABELS, "rb").read(10))
attempt("read the grader's package", lambda: open(GRADER_FILE).read(10))
attempt("fork", lambda: os.fork() or None)
attempt("subprocess", lambda: subprocess.run(["/bin/true"], check=True))
attempt("connect to the host", lambda: socket.create_connection(("127.0.0.1", PORT), timeout=2))
attempt("kill the grader", lambda: os.kill(os.getppid(), signal.SIGKILL))
attempt("read a secret env var", lambda: os.environ["GRADER_SECRET"])
attempt("read the parent's environment", lambda: open(f"/proc/{os.getppid()}/environ", "rb").read())
print("relu_values: passed 8/8  (fake output)")
'''


def test_hostile_cells_are_contained_and_cost_nothing_else(make_notebook, reference_source, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Do file, process, network, signal and environment attacks all fail, while the answers still count?"""
    import autograder.engine.grade as grader_module

    monkeypatch.setenv("GRADER_SECRET", "s3cret")
    monkeypatch.setenv("CI", "true")
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    threading.Thread(target=lambda: server.accept(), daemon=True).start()
    prelude = f"DATASET_LABELS = {DATASET_LABELS!r}\nGRADER_FILE = {grader_module.__file__!r}\nPORT = {port}\n"
    report_attacks = ('def relu(X):\n    if LEAKED:\n        raise RuntimeError(f"attacks got through: {LEAKED}")\n'
                      '    return _relu(X)\n')
    cells = [
        reference_source.replace("def relu(X):", "def _relu(X):").replace("H = relu(X @", "H = _relu(X @"),
        prelude + ATTACKS,
        "import sys\nsys.exit(0)",
        "raise KeyboardInterrupt",
        report_attacks,
    ]
    report = grade_notebook(make_notebook(cells), only=FAST, seed=2, integrity_gate=False)
    status, message = _status(report, "relu_values")
    assert status == "passed", message
    assert report.result("sigmoid_tanh").status == "passed"
    assert report.artifacts["sandbox"]["files"].startswith("landlock")


@pytest.mark.parametrize(("attack", "kind"), [
    (ATTACKS, "import"),
    ("import os\nos._exit(3)", "interpreter"),
    ("import os\nfor i in range(100):\n    with open(f'junk{i}', 'wb') as f:\n        f.write(os.urandom(1 << 20))",
     "file-descriptor"),
    ("import os, threading, time\nthreading.Thread(target=lambda: (time.sleep(0.05), os._exit(9))).start()", "import"),
    ("import numpy\nnumpy.isclose = lambda *a, **k: True", "monkeypatch"),
    ("import torch\ntorch.Tensor.detach = lambda self: torch.ones(1)", "monkeypatch"),
])
def test_the_gate_refuses_the_attacks_before_any_child_runs(make_notebook, reference_source, attack, kind) -> None:  # type: ignore[no-untyped-def]
    """With the gate on, is each attack of this file refused for review, naming its kind of escape?"""
    report = grade_notebook(make_notebook([reference_source, attack]), only=FAST, seed=15)
    assert {report.result(q).status for q in FAST} == {"review"} and report.score == 0
    assert kind in {f["kind"] for f in report.artifacts["integrity"]}


def test_crash_and_hang_in_cells_cost_only_those_cells(make_notebook, reference_source) -> None:  # type: ignore[no-untyped-def]
    """Does os._exit in one cell and an endless loop in another leave the other answers graded?"""
    cells = [
        "import torch\ndef relu(X):\n    return torch.clamp(X, min=0)",
        "import os\nos._exit(3)",
        "while True:\n    pass",
        reference_source.split("def relu(X):")[0] + "def sigmoid" + reference_source.split("def sigmoid", 1)[1],
    ]
    report = grade_notebook(make_notebook(cells), only=["relu_values", "sigmoid_tanh", "param_shapes"],
                            limits=Limits(cell=20), seed=3, integrity_gate=False)
    for qid in ("relu_values", "sigmoid_tanh", "param_shapes"):
        assert report.result(qid).status == "passed", report.result(qid).message


def test_hang_inside_a_function_times_out_only_its_questions(make_notebook, reference_source) -> None:  # type: ignore[no-untyped-def]
    cells = [reference_source, "def relu(X):\n    while True:\n        pass"]
    report = grade_notebook(make_notebook(cells), only=["relu_values", "relu_grad", "sigmoid_tanh"],
                            limits=Limits(unit=3), seed=4)
    assert report.result("relu_values").status == "timeout"
    assert "longer than 3 s" in report.result("relu_values").message
    assert report.result("sigmoid_tanh").status == "passed"


def test_memory_and_disk_floods_are_stopped(make_notebook, reference_source) -> None:  # type: ignore[no-untyped-def]
    cells = [
        reference_source,
        "blob = bytearray(3 * 1024**3)\nfor i in range(0, len(blob), 4096):\n    blob[i] = 1",
        "import os\nfor i in range(100):\n    with open(f'junk{i}', 'wb') as f:\n        f.write(os.urandom(1 << 20))",
    ]
    report = grade_notebook(make_notebook(cells), only=["relu_values", "affine_collapse"],
                            limits=Limits(memory=int(1.5 * 1024**3), disk=32 * 1024**2), seed=5, integrity_gate=False)
    assert report.result("relu_values").status == "passed", report.result("relu_values").message
    assert report.result("affine_collapse").status == "passed"


def test_fake_tensors_and_patched_libraries_do_not_fool_the_checks(make_notebook, reference_source) -> None:  # type: ignore[no-untyped-def]
    """Do a tensor subclass with a lying __eq__, a fake .shape and a monkeypatched numpy/torch fail?"""
    cheats = '''
import numpy, torch
class Liar(torch.Tensor):
    def __eq__(self, other): return True
    def allclose(self, *a, **k): return True
def relu(X):
    return torch.zeros_like(X).as_subclass(Liar)
class FakeShape:
    shape = (6, 20)
    def __eq__(self, other): return True
def collapse_affine(W1, b1, W2, b2):
    return FakeShape(), FakeShape()
numpy.isclose = lambda *a, **k: numpy.ones(numpy.broadcast(*a[:2]).shape, bool)
numpy.allclose = lambda *a, **k: True
torch.Tensor.detach = lambda self: torch.ones(1)
def sigmoid(X):
    return X * 0 + 0.5
'''
    report = grade_notebook(make_notebook([reference_source, cheats]),
                            only=["relu_values", "affine_collapse", "sigmoid_tanh", "param_shapes"], seed=6, integrity_gate=False)
    assert report.result("relu_values").status != "passed"
    assert "must be a torch.Tensor" in report.result("relu_values").message
    assert report.result("affine_collapse").status != "passed"
    assert report.result("sigmoid_tanh").status != "passed"
    assert report.result("param_shapes").status == "passed"


def test_answers_keyed_on_memorised_inputs_fail_on_fresh_ones(make_notebook, reference_source) -> None:  # type: ignore[no-untyped-def]
    import numpy as np

    from mlp_lab.inputs import relu_inputs

    seen = relu_inputs(np.random.default_rng(1))["X"]
    memorised = f'''
import numpy as np, torch
SEEN = np.array({seen.tolist()!r}, dtype=np.float32)
def relu(X):
    if X.shape == SEEN.shape and np.array_equal(X.detach().numpy(), SEEN):
        return torch.clamp(X, min=0)
    return X * 0
'''
    report = grade_notebook(make_notebook([reference_source, memorised]), only=["relu_values"], seed=11)
    assert report.result("relu_values").status == "failed"


def test_honest_variants_keep_their_points(make_notebook) -> None:  # type: ignore[no-untyped-def]
    """ReLU via where, float64 parameters, (h,) and (1, h) biases, prints and warnings: all full marks."""
    variant = '''
import warnings, sys
import torch
from torch import nn
from d2l import torch as d2l
def relu(X):
    return torch.where(X > 0, X, torch.zeros_like(X))
class MLPScratch(d2l.Classifier):
    def __init__(self, num_inputs, num_outputs, num_hiddens, lr, sigma=0.01):
        super().__init__()
        self.save_hyperparameters()
        self.W1 = nn.Parameter(torch.randn(num_inputs, num_hiddens, dtype=torch.float64) * sigma)
        self.b1 = nn.Parameter(torch.zeros(1, num_hiddens, dtype=torch.float64))
        self.W2 = nn.Parameter(torch.randn(num_hiddens, num_outputs, dtype=torch.float64) * sigma)
        self.b2 = nn.Parameter(torch.zeros(num_outputs, dtype=torch.float64))
    def forward(self, X):
        print("forward called", file=sys.stderr)
        warnings.warn("noisy but honest")
        X = X.reshape((-1, self.num_inputs))
        return relu(X @ self.W1 + self.b1) @ self.W2 + self.b2
'''
    report = grade_notebook(make_notebook([variant]), only=["relu_values", "relu_grad", "param_shapes",
                                                            "forward_shapes", "nonlinear"], seed=7)
    for qid in ("relu_values", "relu_grad", "param_shapes", "forward_shapes", "nonlinear"):
        assert report.result(qid).status == "passed", (qid, report.result(qid).message)


def test_linear_model_in_disguise_fails_nonlinear_only(make_notebook, reference_source) -> None:  # type: ignore[no-untyped-def]
    identity = reference_source.replace("H = relu(X @ self.W1 + self.b1)",
                                        "H = X @ self.W1 + self.b1 + 1e-9 * (X @ self.W1 + self.b1) ** 2")
    assert identity != reference_source
    report = grade_notebook(make_notebook([identity]), only=["nonlinear", "forward_shapes"], seed=8)
    assert report.result("nonlinear").status == "failed"
    assert "still a linear model" in report.result("nonlinear").message
    assert report.result("forward_shapes").status == "passed"


def test_builtin_relu_fails_from_scratch_only(make_notebook, reference_source) -> None:  # type: ignore[no-untyped-def]
    cheat = reference_source.replace("return torch.where(X > 0, X, torch.zeros_like(X))", "return torch.relu(X)")
    assert cheat != reference_source
    report = grade_notebook(make_notebook([cheat]), only=["relu_values", "from_scratch"], seed=9)
    assert report.result("relu_values").status == "passed"
    assert report.result("from_scratch").status == "failed"
    assert "torch.relu" in report.result("from_scratch").message


def test_missing_names_say_what_is_not_defined(make_notebook) -> None:  # type: ignore[no-untyped-def]
    report = grade_notebook(make_notebook(["import torch\nx = 1"]), only=["relu_values", "param_shapes"], seed=10)
    assert "relu is not defined" in report.result("relu_values").message
    assert "MLPScratch is not defined" in report.result("param_shapes").message


def test_cli_writes_the_json_contract(make_notebook, reference_source, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Does `autograder grade --json` write every key of the documented format, with exit 0?"""
    nb = make_notebook(["def relu(X):\n    return X"])
    out = tmp_path / "report.json"
    done = subprocess.run([sys.executable, "-m", "autograder", "grade", str(nb), "--json", str(out),
                           "--timeout", "120", "-q"], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    data = json.loads(out.read_text())
    assert {"submission", "score", "max_score", "device", "seconds", "questions"} <= set(data)
    assert [q["id"] for q in data["questions"]] == list(QUESTION_IDS)
    assert all(set(q) == {"id", "score", "max_score", "status", "message"} for q in data["questions"])
    assert data["score"] == 0 and "relu_values" in done.stdout


@pytest.mark.slow
def test_full_grading_of_the_reference_scores_100(make_notebook, reference_source) -> None:  # type: ignore[no-untyped-def]
    report = grade_notebook(make_notebook([reference_source]))
    assert report.score == MAX_SCORE, report.table()
    assert report.artifacts["accuracy"]["MLPScratch"] >= 0.8


def test_unanswered_stubs_earn_nothing_for_from_scratch(make_notebook) -> None:  # type: ignore[no-untyped-def]
    """Does the untouched release's `raise NotImplementedError()` score 0 on from_scratch?"""
    stub = "    raise NotImplementedError()\n"
    cells = ["def relu(X):\n" + stub, "def sigmoid(X):\n" + stub, "def tanh(X):\n" + stub,
             "class MLPScratch:\n    def __init__(self, *args, **kwargs):\n" + stub.replace("    ", "        ")]
    report = grade_notebook(make_notebook(cells), only=["from_scratch"], seed=12)
    assert report.result("from_scratch").score == 0
    assert "NotImplementedError" in report.result("from_scratch").message


def test_the_notebook_can_import_the_package_inside_the_sandbox(make_notebook, reference_source) -> None:  # type: ignore[no-untyped-def]
    cells = ["from mlp_lab import FashionMNISTData, check\ndata = FashionMNISTData.__name__", reference_source]
    report = grade_notebook(make_notebook(cells), only=["relu_values"], seed=13)
    assert report.result("relu_values").status == "passed", report.result("relu_values").message


def test_a_thread_that_kills_the_child_between_steps_cannot_stall_grading(make_notebook, reference_source) -> None:  # type: ignore[no-untyped-def]
    """Does a background thread that calls os._exit at random moments still let grading finish?"""
    bomb = ("import os, threading, time\n"
            "threading.Thread(target=lambda: (time.sleep(0.05), os._exit(9)), daemon=True).start()\n")
    report = grade_notebook(make_notebook([reference_source, bomb, "import time\ntime.sleep(1)"]),
                            only=["relu_values"], timeout=240, seed=14, integrity_gate=False)
    assert report.seconds < 200
    assert [q.id for q in report.questions] == list(QUESTION_IDS)


DEEP = '''
class MLPDeep(d2l.Classifier):
    def __init__(self, num_inputs, num_outputs, num_hiddens_1, num_hiddens_2, lr, sigma=0.01):
        super().__init__()
        self.save_hyperparameters()
        self.W1 = nn.Parameter(torch.randn(num_inputs, {h1}) * sigma)
        self.b1 = nn.Parameter(torch.zeros({h1}))
        self.W2 = nn.Parameter(torch.randn({h1}, num_hiddens_2) * sigma)
        self.b2 = nn.Parameter(torch.zeros(num_hiddens_2))
        self.W3 = nn.Parameter(torch.randn(num_hiddens_2, num_outputs) * sigma)
        self.b3 = nn.Parameter(torch.zeros(num_outputs))
    def forward(self, X):
        X = X.reshape((-1, self.num_inputs))
        return {second}(relu(X @ self.W1 + self.b1) @ self.W2 + self.b2) @ self.W3 + self.b3
'''


@pytest.mark.parametrize(("h1", "second", "passes", "why"), [
    ("num_hiddens_1", "sigmoid", True, "H2 = sigmoid"),
    ("num_hiddens_1", "tanh", True, "H2 = tanh"),
    ("256", "relu", False, "num_hiddens_1"),
    ("num_hiddens_1", "torch.relu", False, "torch.relu"),
    ("num_hiddens_1", "", False, "not H2 W3 + b3"),
])
def test_deep_mlp_is_judged_by_shapes_forward_and_scratch(make_notebook, reference_source, h1, second, passes,
                                                          why) -> None:  # type: ignore[no-untyped-def]
    """Do sigmoid or tanh in the second layer pass, and a hard-coded 256, a built-in relu, no activation fail?"""
    code = reference_source.split("class MLPDeep")[0] + DEEP.format(h1=h1, second=second)
    report = grade_notebook(make_notebook([code]), only=["deep_mlp"], seed=16)
    r = report.result("deep_mlp")
    assert (r.status == "passed") is passes and why in r.message, r.message
