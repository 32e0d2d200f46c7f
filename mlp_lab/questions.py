"""The registry: the assignment's questions and the probe units they need, each one object.

A `Unit` is one call of the student's code on inputs drawn for it: the student's names it needs,
its probe (a function of `mlp_lab.probes`, named here so that this module stays torch-free), how
its inputs are drawn (fresh by the grader, fixed for the visible checks) and its time budget.
A `Question` is what earns points: its id (also the notebook's nbgrader grade id, the report's key
and the Classroom workflow's step), points, title, the units whose numbers it needs and `judge`,
which turns those numbers into a `CheckResult` with the pure checks of `mlp_lab.checks`.

Everything that knows about questions reads this module: the grading child (which probes to run,
`autograder.engine`), the grader's verdicts, the notebook's visible checks (`mlp_lab.check`), the
in-kernel hidden tests (`autograder.nbgrader.require`), reports, feedback pages, `grades.csv`, the
GitHub Classroom workflow and the README's points table.

Adding a question touches three files and the notebook (deep_mlp was added this way):

1. this module: a `Question` with its judge and its `evidence` sentence (and a `Unit`, if the question
   calls new student code, with the function that draws its inputs: beside it here, or in
   `mlp_lab/inputs.py` when other units draw them too);
2. the check, a pure function over numbers with messages in the lecture's notation:
   `mlp_lab/checks.py`, or `mlp_lab/model_checks.py` for a model;
3. the probe that calls the student's code, if the unit is new: a `probe_*` function in
   `mlp_lab/probes.py`, or `mlp_lab/model_probes.py` for a model (found by its name);
4. `source/mlp/mlp.ipynb`: the answer cell and a grade cell that calls `check("<id>", globals())`
   (and the hidden `require`), with nbgrader metadata `grade_id = "<id>"` and the points; then
   regenerate `release/` and the README's points table (`python -m autograder.course.docs README.md`).

Reports, `grades.csv`, feedback pages, the crosscheck, the Classroom workflow and the student README
read the registry and need nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from . import checks, inputs, model_checks
from ._registry import Evidence, Question, Unit, UnitMissing
from .checks import CheckResult

__all__ = [
    "GRADED_FROM_SCRATCH",
    "MAX_SCORE",
    "QUESTIONS",
    "QUESTION_IDS",
    "UNITS",
    "Evidence",
    "Question",
    "Unit",
    "UnitMissing",
    "question",
    "unit",
    "units_for",
]

# --- the deep MLP's inputs (beside its unit: no other unit draws them) --------------------------------

DEEP_HIDDEN_1 = (24, 32, 40)
DEEP_HIDDEN_2 = (12, 16, 20)


def _deep(rng: np.random.Generator, h1: int, h2: int, n: int = 32) -> dict[str, Any]:
    d, q = inputs.NUM_INPUTS, inputs.NUM_OUTPUTS
    f32 = np.float32
    sizes = {"W1": (d, h1), "b1": (1, h1), "W2": (h1, h2), "b2": (1, h2), "W3": (h2, q), "b3": (1, q)}
    fan_in = {"W1": d, "W2": h1, "W3": h2}
    params = {k: (rng.normal(size=v) / math.sqrt(fan_in[k]) if k.startswith("W") else rng.normal(scale=0.5, size=v))
              .astype(f32) for k, v in sizes.items()}
    grads = {f"G_{k}": rng.normal(size=v.shape).astype(f32) for k, v in params.items()}
    Z = rng.normal(size=(256, 6))
    return {"d": d, "h1": h1, "h2": h2, "q": q, "lr": 0.5, **params, **grads,
            "X": rng.normal(size=(n, d)).astype(f32), "nonlin_Z": Z,
            "nonlin_X": (Z @ rng.normal(size=(6, d)) / math.sqrt(6)).astype(f32)}


def deep_inputs(rng: np.random.Generator) -> dict[str, Any]:
    """For MLPDeep: two hidden sizes drawn (a hard-coded 256 shows), W1..b3 to load by name with one SGD
    step's gradient, inputs X, and inputs on a 6-dimensional plane for the non-linearity check."""
    return _deep(rng, int(rng.choice(DEEP_HIDDEN_1)), int(rng.choice(DEEP_HIDDEN_2)))


def visible_deep() -> dict[str, Any]:
    return _deep(np.random.default_rng(0), 256, 128)


# --- units -------------------------------------------------------------------------------------


def _activation(name: str) -> Unit:
    visible = inputs.visible_relu if name == "relu" else inputs.visible_sigmoid_tanh
    return Unit(name, (name,), "probe_activation", inputs.activation_inputs(name), visible, budget=4.0,
                options={"name": name}, returns={"values": "array", "grad": "array", "calls": "list"})


_HYPER = {"num_outputs": inputs.NUM_OUTPUTS, "num_hiddens": 256}

UNITS: tuple[Unit, ...] = (  # in the order the grader runs them: cheap first, training last
    _activation("relu"),
    _activation("sigmoid"),
    _activation("tanh"),
    Unit("collapse", ("collapse_affine",), "probe_affine_collapse", inputs.affine_collapse_inputs,
         inputs.visible_affine_collapse, budget=4.0, returns={"W": "array", "b": "array"}),
    # MLPScratch's parameters (no forward) and its forward, apart: a forward that hangs costs its own
    # questions, not param_shapes; and a constructor that hangs is not waited for twice.
    Unit("scratch_params", ("MLPScratch",), "probe_scratch_params", inputs.scratch_inputs, inputs.visible_scratch,
         returns={"step": "dict"}),
    Unit("scratch", ("MLPScratch",), "probe_scratch", inputs.scratch_inputs, inputs.visible_scratch,
         after=("scratch_params",), returns={"structure": "dict", "nonlinear": "dict", "calls": "list",
                                             "submodules": "list"}),
    Unit("concise", ("MLP",), "probe_concise", inputs.concise_inputs, inputs.visible_concise,
         returns={"structure": "dict", "nonlinear": "dict", "linear_shapes": "list", "has_flatten": "bool",
                  "activations": "list"}),
    Unit("deep", ("MLPDeep",), "probe_deep", deep_inputs, visible_deep,
         returns={"step": "dict", "submodules": "list"}),
    Unit("train_scratch", ("MLPScratch",), "probe_training", inputs.training_inputs, inputs.no_inputs,
         kind="training", after=("scratch",), model="MLPScratch",
         options={"hyperparameters": {"num_inputs": inputs.NUM_INPUTS, **_HYPER}}),
    Unit("train_concise", ("MLP",), "probe_training", inputs.training_inputs, inputs.no_inputs,
         kind="training", after=("concise",), model="MLP", options={"hyperparameters": dict(_HYPER)}),
    # In the student's kernel only: the models the notebook's training cells trained.
    Unit("trained_scratch", ("model",), "probe_trained", inputs.no_inputs, inputs.no_inputs,
         model="MLPScratch"),
    Unit("trained_concise", ("model_concise",), "probe_trained", inputs.no_inputs, inputs.no_inputs,
         model="MLP"),
)


# --- judges: from a unit's numbers to a check ------------------------------------------------------


def _relu_values(ev: Evidence) -> CheckResult:
    return checks.check_relu_values(ev.inputs["relu"]["X"], ev.of("relu")["values"])


def _relu_grad(ev: Evidence) -> CheckResult:
    return checks.check_relu_grad(ev.inputs["relu"]["X"], ev.of("relu")["grad"])


def _sigmoid_tanh(ev: Evidence) -> CheckResult:
    s, t = ev.of("sigmoid"), ev.of("tanh")
    return checks.check_sigmoid_tanh(ev.inputs["sigmoid"]["X"], s["values"], s["grad"], t["values"], t["grad"],
                                     x_tanh=ev.inputs["tanh"]["X"])


def _affine_collapse(ev: Evidence) -> CheckResult:
    c, v = ev.inputs["collapse"], ev.of("collapse")
    return checks.check_affine_collapse(c["W1"], c["b1"], c["W2"], c["b2"], v["W"], v["b"], c["X"])


def _stepped(step: Mapping[str, Any], i: Mapping[str, Any], names: Sequence[str]) -> tuple[dict[str, Any], dict[str, bool]] | CheckResult:
    """From the SGD-step probe: each parameter's shape (as the array it sent back) and whether SGD moved it."""
    shapes: dict[str, Any] = {}
    registered: dict[str, bool] = {}
    for name in names:
        after = step["after"].get(name)
        if after is None:
            shapes[name], registered[name] = step["shapes"].get(name), False
            continue
        before, grad = np.asarray(i[name], dtype=np.float64), np.asarray(i[f"G_{name}"], dtype=np.float64)
        if step["layouts"].get(name) == "transposed":
            before, grad = before.T, grad.T
        else:
            before, grad = before.reshape(np.shape(after)), grad.reshape(np.shape(after))
        shapes[name] = list(np.shape(after))
        moved = model_checks.registration(before, after, grad, float(i["lr"]))
        if moved == "other":
            return CheckResult(False, f"self.{name} changed in a way one SGD step on model.parameters() cannot "
                                      "explain. Keep the parameters as the nn.Parameter tensors themselves.")
        registered[name] = moved == "updated"
    return shapes, registered


def _param_shapes(ev: Evidence) -> CheckResult:
    """W1, b1, W2, b2 have the lecture's shapes and are registered parameters.

    Evidence: the grader's own W1 (d x h, h drawn), b1, W2, b2 were loaded into `self.W1` ... by name and
    one SGD step on `model.parameters()` was taken for the loss sum(G * P) with the grader's G.  The
    values that came back are P - lr G exactly when the attribute holds P in the lecture's layout
    and SGD updates it; their shapes are the attributes' shapes.  What the model says about itself
    (the shapes of attributes that could not be loaded) only words a failure.
    """
    i = ev.inputs["scratch_params"]["shapes"]
    got = _stepped(ev.of("scratch_params")["step"], i, ("W1", "b1", "W2", "b2"))
    if isinstance(got, CheckResult):
        return got
    return model_checks.check_param_shapes(*got, int(i["d"]), int(i["h"]), int(i["q"]))


def _structure_of(ev: Evidence, unit_id: str, model: str) -> CheckResult:
    st, f = ev.of(unit_id)["structure"], ev.inputs[unit_id]["structure"]
    if st.get("forward_error"):
        return CheckResult(False, str(st["forward_error"]))
    if st.get("load_error"):
        return CheckResult(False, f"The grader could not load its W1, b1, W2, b2 into your {model} to check "
                                  f"its forward: {st['load_error']}")
    return model_checks.check_forward_structure(st["O_images"], st["O_rows"], np.asarray(f["W2"], np.float64),
                                                np.asarray(f["b2"], np.float64), np.asarray(f["A_index"]),
                                                int(f["d"]), model)


def _forward_shapes(ev: Evidence) -> CheckResult:
    """H = sigma(X W1 + b1) is n x h and O = H W2 + b2 is n x q.

    Evidence: O itself, for the grader's X (as images and as rows) with the grader's W1, b1, W2, b2
    loaded (q > h).  An O that is not H W2 + b2 for an n x h H, or whose H is not one function of
    X W1 + b1, cannot come out of the lecture's forward; one that is, is the lecture's forward.
    """
    return _structure_of(ev, "scratch", "MLPScratch")


def _nonlinear_of(ev: Evidence, unit_id: str, model: str) -> CheckResult:
    outputs = ev.of(unit_id)["nonlinear"]
    if "error" in outputs:
        return CheckResult(False, f"{model} failed on the grader's inputs: {outputs['error']}")
    return model_checks.check_nonlinear(ev.inputs[unit_id]["nonlin"]["Z"], outputs, model)


def _nonlinear(ev: Evidence) -> CheckResult:
    """The network is not one affine map.

    Evidence: O on the grader's inputs X = Z A (a 6-dimensional plane) with the grader's parameters,
    twice (once with b2 = 50, so a ReLU after the last layer changes nothing); the grader measures
    how far O is from the best affine function of Z.  A number far from affine can only come from a
    non-linear network (or from computing one, which is the work).
    """
    return _nonlinear_of(ev, "scratch", "MLPScratch")


def _from_scratch(ev: Evidence) -> CheckResult:
    # Only code that runs can be shown to be from scratch: a stub that raises NotImplementedError
    # (the untouched release) earns nothing here.
    calls: list[str] = []
    submodules: list[str] = []
    for u in ("relu", "sigmoid", "tanh", "scratch"):
        name = unit(u).names[0]
        try:
            values = ev.of(u)
        except UnitMissing as why:
            return CheckResult(False, f"{name} must run before it can be checked for built-in layers: {why}")
        calls.extend(values.get("calls", []))
        submodules.extend(values.get("submodules", []))
    return checks.check_no_builtin_layers(ev.findings, calls, submodules)


def _deep_mlp(ev: Evidence) -> CheckResult:
    """MLPDeep: two hidden layers, H1 = relu(X W1 + b1), H2 = sigma2(H1 W2 + b2), O = H2 W3 + b3, from scratch.

    Evidence, in order: one SGD step on the grader's W1..b3 loaded by name (the shapes, with two hidden
    sizes drawn, and the registration, as param_shapes judges them); O for the grader's X with those
    parameters, equal to the lecture's composition computed here for sigma2 = relu, sigmoid or tanh;
    O on inputs from a 6-dimensional plane, far from every affine map of the plane; and the
    from-scratch scan of everything MLPDeep reaches (the calls and submodules it reports only take
    points away).
    """
    d = ev.of("deep")
    i = ev.inputs["deep"]
    got = _stepped(d["step"], i, ("W1", "b1", "W2", "b2", "W3", "b3"))
    if isinstance(got, CheckResult):
        return got
    shapes = model_checks.check_deep_shapes(*got, int(i["d"]), int(i["h1"]), int(i["h2"]), int(i["q"]))
    if not shapes.passed:
        return shapes
    if d.get("forward_error"):
        return CheckResult(False, str(d["forward_error"]))
    params = {k: np.asarray(i[k], dtype=np.float64) for k in ("W1", "b1", "W2", "b2", "W3", "b3")}
    forward = model_checks.check_deep_forward(np.asarray(i["X"], dtype=np.float64), params, d["O"])
    if not forward.passed:
        return forward
    nonlinear = model_checks.check_nonlinear(np.asarray(i["nonlin_Z"]), {"plane": d["O_plane"]}, "MLPDeep")
    if not nonlinear.passed:
        return nonlinear
    scratch = checks.check_no_builtin_layers(ev.findings, d.get("calls", []), d.get("submodules", []), "MLPDeep")
    return scratch if not scratch.passed else forward


def _concise_mlp(ev: Evidence) -> CheckResult:
    """MLP.net is Flatten, Linear(d -> h), an activation, Linear(h -> q).

    Evidence: the grader's W1, b1, W2, b2 loaded into MLP.net's two linear layers (which must have
    the shapes the lecture's sizes give) and O for the grader's images, judged as forward_shapes
    judges MLPScratch, plus the non-linearity check.  The layer list the model reports only words a
    failure.
    """
    c = ev.of("concise")
    f = ev.inputs["concise"]["structure"]
    d, h, q = int(f["d"]), int(f["h"]), int(f["q"])
    if c["structure"].get("load_error"):
        layers = model_checks.check_concise_structure(c["linear_shapes"], c["has_flatten"], c["activations"],
                                                      (int(f["n"]), q), int(f["n"]), d, h, q)
        return layers if not layers.passed else CheckResult(False, str(c["structure"]["load_error"]))
    structure = _structure_of(ev, "concise", "MLP")
    if not structure.passed:
        return structure
    nonlinear = _nonlinear_of(ev, "concise", "MLP")
    if not nonlinear.passed:
        return nonlinear
    act = next(iter(c["activations"]), "an activation")
    return CheckResult(True, f"MLP: Flatten -> Linear({d} -> {h}) -> {act} -> Linear({h} -> {q}), non-linear.", 1.0)


def _accuracy_of(ev: Evidence, units: Sequence[str],
                 judge: Callable[[Unit, Mapping[str, Any]], CheckResult]) -> CheckResult:
    """Each model's share of the points is its own: a model that did not train costs only its share."""
    results = []
    for u in map(unit, units):
        try:
            results.append(judge(u, ev.of(u.id)))
        except UnitMissing as why:
            results.append(CheckResult(False, f"{u.model}: {why}"))
    passed = sum(r.passed for r in results)
    return CheckResult(passed == len(results), " ".join(r.message for r in results),
                       fraction=passed / len(results))


def _labels(ev: Evidence) -> np.ndarray:
    if ev.test_labels is None:
        raise ValueError("the accuracy verdict needs the test labels")
    return ev.test_labels


def _accuracy(ev: Evidence) -> CheckResult:
    labels = _labels(ev)
    return _accuracy_of(ev, ("train_scratch", "train_concise"), lambda u, v: checks.check_accuracy(
        labels, v["before"], v["after"], u.model or u.id, inputs.describe_training(ev.inputs[u.id])))


def _trained_accuracy(ev: Evidence) -> CheckResult:
    labels = _labels(ev)
    return _accuracy_of(ev, ("trained_scratch", "trained_concise"), lambda u, v: checks.check_trained_accuracy(
        labels, v["logits"], u.model or u.id, u.names[0]))


# --- questions ----------------------------------------------------------------------------------

#: The names the from_scratch question requires written from scratch (no torch.nn layers, no built-in
#: activations); deep_mlp requires the same of MLPDeep.
GRADED_FROM_SCRATCH: tuple[str, ...] = ("relu", "sigmoid", "tanh", "MLPScratch")

QUESTIONS: tuple[Question, ...] = (
    Question("relu_values", 8, "ReLU values: relu(x) = max(0, x), elementwise", ("relu",), _relu_values,
             evidence="relu(X) = max(0, X) elementwise, shape kept, on a grid with exact zeros and values of both signs"),
    Question("relu_grad", 10, "ReLU gradient: 1 for x > 0, 0 for x < 0, 0 at exactly 0", ("relu",), _relu_grad,
             evidence="autograd gradient 1 for x > 0, 0 for x < 0 and 0 at exactly 0 (d2l's `torch.max(X, zeros)` gives 0.5 there: the message explains)"),
    Question("sigmoid_tanh", 10, "sigmoid and tanh: values and gradients, finite for |x| <= 100",
             ("sigmoid", "tanh"), _sigmoid_tanh,
             evidence=r"values and gradients of both, finite for \|x\| up to 100"),
    Question("affine_collapse", 10, "collapse_affine: the single affine map W, b of a linear two-layer net",
             ("collapse",), _affine_collapse,
             evidence="`collapse_affine` on the grader's W1, b1, W2, b2 equals the linear two-layer net on the grader's X"),
    Question("param_shapes", 8, "MLPScratch parameters: W1 d x h, b1 1 x h, W2 h x q, b2 1 x q",
             ("scratch_params",), _param_shapes,
             evidence="the grader's W1 (d x h, h drawn), b1, W2, b2 load into `self.W1` ... by name, and one SGD step on `model.parameters()` moves each by exactly -lr G"),
    Question("forward_shapes", 8, "MLPScratch.forward: H = sigma(X W1 + b1) is n x h, O = H W2 + b2 is n x q",
             ("scratch",), _forward_shapes,
             evidence="with the grader's parameters (q > h) and X, O is n x q for images and for rows, O = H W2 + b2 for an n x h H, and H is one function of X W1 + b1"),
    Question("nonlinear", 8, "MLPScratch is non-linear: not one affine map in disguise", ("scratch",), _nonlinear,
             evidence="with the grader's parameters O is far from every affine map of the input (least-squares residual), also when b2 makes every output positive"),
    Question("from_scratch", 8, "From scratch: no torch.nn layers or built-in activations",
             ("relu", "sigmoid", "tanh", "scratch"), _from_scratch, scratch_names=GRADED_FROM_SCRATCH,
             evidence="no torch.nn layers or built-in activations in anything relu, sigmoid, tanh and MLPScratch reach (the source is read, helpers and aliases followed); calls seen at run time only take points away"),
    Question("concise_mlp", 8, "MLP with nn.Sequential: Flatten, Linear(784 -> 256), ReLU, Linear(256 -> 10)",
             ("concise",), _concise_mlp,
             evidence="the grader's parameters load into `MLP.net`'s two linear layers (784 -> h, h -> q) and O is judged as for forward_shapes, and non-linear"),
    Question("deep_mlp", 6, "MLPDeep: two hidden layers, H2 = sigma2(relu(X W1 + b1) W2 + b2), O = H2 W3 + b3",
             ("deep",), _deep_mlp, scratch_names=("MLPDeep",),
             evidence="W1 d x h1, W2 h1 x h2, W3 h2 x q (h1, h2 drawn) registered as for param_shapes; O = sigma2(relu(X W1 + b1) W2 + b2) W3 + b3 on the grader's parameters, sigma2 one of relu, sigmoid, tanh; non-linear; from scratch"),
    Question("accuracy", 16, "Fashion-MNIST test accuracy after the grader's training run",
             ("train_scratch", "train_concise"), _accuracy,
             kernel_units=("trained_scratch", "trained_concise"), kernel_judge=_trained_accuracy,
             evidence="each model, trained by the grader (its seed, the training split only, 5 epochs of SGD at lr 0.1, the last at 0.01, batch 256), reaches test accuracy >= 0.80 and is near chance before training; half the points per model"),
)

QUESTION_IDS: tuple[str, ...] = tuple(q.id for q in QUESTIONS)
MAX_SCORE: float = float(sum(q.points for q in QUESTIONS))
_UNITS = {u.id: u for u in UNITS}


def question(qid: str) -> Question:
    """The question with id `qid`; KeyError names the valid ids."""
    for q in QUESTIONS:
        if q.id == qid:
            return q
    raise KeyError(f"unknown question id {qid!r}; valid ids: {', '.join(QUESTION_IDS)}")


def unit(unit_id: str) -> Unit:
    """The unit with id `unit_id`."""
    try:
        return _UNITS[unit_id]
    except KeyError:
        raise KeyError(f"unknown unit {unit_id!r}; units: {', '.join(_UNITS)}") from None


def units_for(qids: Sequence[str]) -> list[Unit]:
    """The units the grader runs for questions `qids`, in running order."""
    wanted = {u for qid in qids for u in question(qid).units}
    return [u for u in UNITS if u.id in wanted]
