"""The visible checks (`mlp_lab.check`) and the in-kernel hidden tests: the grader's probes and judges, in process."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from autograder.course.examples import solution_code
from autograder.nbgrader.hidden import hidden_check
from mlp_lab import check
from mlp_lab.errors import CheckFailed
from mlp_lab.source import python_source
from mlp_lab.visible import evaluate

# Every question but accuracy, which needs the models the notebook's training cells train.
UNTRAINED = ("relu_values", "relu_grad", "sigmoid_tanh", "affine_collapse", "param_shapes", "forward_shapes",
             "nonlinear", "from_scratch", "concise_mlp", "deep_mlp")


def _run(*sources: str) -> dict[str, Any]:
    ns: dict[str, Any] = {"__name__": "__main__"}
    history = [""]
    for src in sources:
        history.append(src)
        exec(compile(python_source(src) or "", "<cell>", "exec"), ns)
    ns["In"] = history  # what IPython keeps, and what the from-scratch check reads
    return ns


@pytest.fixture(scope="module")
def solution() -> Mapping[str, Any]:
    return _run(solution_code())


@pytest.mark.parametrize("qid", UNTRAINED)
def test_the_solution_passes_every_visible_and_hidden_check(solution: Mapping[str, Any], qid: str) -> None:
    assert evaluate(qid, solution).passed, evaluate(qid, solution).message
    assert hidden_check(qid, solution).passed, hidden_check(qid, solution).message


def test_check_prints_one_line_on_success(solution: Mapping[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    check("relu_grad", solution)
    out = capsys.readouterr().out
    assert out.startswith("relu_grad: visible checks passed.") and out.count("\n") == 1


def test_an_unanswered_stub_fails_with_the_students_message() -> None:
    """Does the untouched release fail its first check with what to do, not an import or name error?"""
    ns = _run("import torch\ndef relu(X):\n    # YOUR CODE HERE\n    raise NotImplementedError()")
    with pytest.raises(CheckFailed, match=r"\[relu_values\] relu\(X\) raised NotImplementedError: its answer "
                                          r"cell still holds `raise NotImplementedError\(\)`"):
        check("relu_values", ns)


def test_a_missing_name_says_which_cell_to_run() -> None:
    with pytest.raises(CheckFailed, match="MLPScratch is not defined: run the cell that defines it first"):
        check("param_shapes", _run("x = 1"))


def test_d2l_max_relu_is_told_about_the_half_gradient(solution: Mapping[str, Any]) -> None:
    ns = _run(solution_code(), "def relu(X):\n    return torch.max(X, torch.zeros_like(X))")
    with pytest.raises(CheckFailed, match=r"gradient 0\.5"):
        check("relu_grad", ns)


HONEST_VARIANTS = {
    "float64 parameters, casting forward": solution_code().replace(
        "torch.randn(num_inputs, num_hiddens)", "torch.randn(num_inputs, num_hiddens, dtype=torch.float64)").replace(
        "torch.zeros(num_hiddens)", "torch.zeros(num_hiddens, dtype=torch.float64)").replace(
        "torch.randn(num_hiddens, num_outputs)", "torch.randn(num_hiddens, num_outputs, dtype=torch.float64)").replace(
        "torch.zeros(num_outputs)", "torch.zeros(num_outputs, dtype=torch.float64)", 1).replace(
        "X = X.reshape((-1, self.num_inputs))", "X = X.reshape((-1, self.num_inputs)).double()", 1),
    "(1, h) biases": solution_code().replace("torch.zeros(num_hiddens)", "torch.zeros(1, num_hiddens)").replace(
        "torch.zeros(num_outputs)", "torch.zeros(1, num_outputs)"),
    "forward attached with d2l.add_to_class": solution_code().replace(
        "    def forward(self, X):\n        X = X.reshape((-1, self.num_inputs))\n"
        "        H = relu(X @ self.W1 + self.b1)\n        return H @ self.W2 + self.b2\n",
        "") + ("\n@d2l.add_to_class(MLPScratch)\ndef forward(self, X):\n    X = X.reshape((-1, self.num_inputs))\n"
               "    return relu(X @ self.W1 + self.b1) @ self.W2 + self.b2\n"),
    "relu with clamp": solution_code().replace("return torch.where(X > 0, X, torch.zeros_like(X))",
                                               "return torch.clamp(X, min=0)"),
}


@pytest.mark.parametrize("variant", sorted(HONEST_VARIANTS))
def test_honest_variants_pass_the_visible_checks(variant: str) -> None:
    code = HONEST_VARIANTS[variant]
    assert code != solution_code(), "the variant's edit no longer applies to the solution"
    assert code.count("def forward(self, X)") == solution_code().count("def forward(self, X)")
    ns = _run(code)
    failed = {qid: evaluate(qid, ns).message for qid in UNTRAINED if not evaluate(qid, ns).passed}
    assert failed == {}


def test_a_float64_default_dtype_passes_the_visible_checks() -> None:
    import torch

    before = torch.get_default_dtype()
    try:
        ns = _run("import torch\ntorch.set_default_dtype(torch.float64)", solution_code())
        failed = {qid: evaluate(qid, ns).message for qid in UNTRAINED if not evaluate(qid, ns).passed}
    finally:
        torch.set_default_dtype(before)
    assert failed == {}


def test_the_students_stderr_is_swallowed(capfd: pytest.CaptureFixture[str]) -> None:
    """Does a relu that prints to stderr, warns and writes to fd 2 leave the grade cell's stderr empty?"""
    ns = _run(solution_code(), "import os, sys, warnings\n_relu = relu\ndef relu(X):\n"
              "    print('noise', file=sys.stderr)\n    warnings.warn('noise')\n    os.write(2, b'noise')\n"
              "    return _relu(X)")
    capfd.readouterr()
    check("relu_values", ns)
    captured = capfd.readouterr()
    assert captured.err == "" and "visible checks passed" in captured.out
