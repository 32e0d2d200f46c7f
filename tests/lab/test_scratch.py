"""The from-scratch reading: every way of reaching a built-in activation or layer is found, honest code passes."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from autograder.course.examples import solution_code, write_examples
from autograder.engine.notebook import plan_cells, read_submission
from mlp_lab.scratch import Cell, scan_from_scratch

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = solution_code()
GRADED = frozenset({"relu", "sigmoid", "tanh", "MLPScratch"})
SLOW_SCAN_S = 5.0  # a notebook-sized input must be read well within this

IMPORTS = "import torch\nfrom torch import nn\nfrom d2l import torch as d2l\n"
HELPER = "def h(X):\n    return X.clamp(min=0)\n"
SCRATCH_INIT = (
    "class MLPScratch(d2l.Classifier):\n"
    "    def __init__(self, num_inputs, num_outputs, num_hiddens, lr, sigma=0.01):\n"
    "        super().__init__()\n"
    "        self.save_hyperparameters()\n"
    "        self.W1 = nn.Parameter(torch.randn(num_inputs, num_hiddens) * sigma)\n"
    "        self.b1 = nn.Parameter(torch.zeros(num_hiddens))\n"
    "        self.W2 = nn.Parameter(torch.randn(num_hiddens, num_outputs) * sigma)\n"
    "        self.b2 = nn.Parameter(torch.zeros(num_outputs))\n"
)


def _scan(*sources: str, graded: frozenset[str] = GRADED) -> list[str]:
    return scan_from_scratch([Cell(f"cell {i}", s) for i, s in enumerate(sources, start=1)], graded)


def _notebook_cells() -> list[str]:
    nb = json.loads((ROOT / "source" / "mlp" / "mlp.ipynb").read_text(encoding="utf-8"))
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]


# (name, cells, text every finding list must contain somewhere)
CHEATS: list[tuple[str, tuple[str, ...], str]] = [
    ("direct", (IMPORTS + "def relu(X):\n    return torch.relu(X)",), "torch.relu"),
    ("functional alias", ("import torch.nn.functional as F\ndef relu(X):\n    return F.relu(X)",),
     "torch.nn.functional.relu"),
    ("from-import alias", ("from torch.nn.functional import relu as r\ndef relu(X):\n    return r(X)",), "r"),
    ("from torch import", ("from torch import sigmoid as s\ndef sigmoid(X):\n    return s(X)",), "torch.sigmoid"),
    ("tensor method", ("def tanh(X):\n    return X.tanh()",), "X.tanh"),
    ("in-place tensor method", ("def relu(X):\n    return X.clone().relu_()",), "relu_"),
    ("torch.special.expit", ("import torch as T\ndef sigmoid(X):\n    return T.special.expit(X)",), "expit"),
    ("torch.Tensor method", (IMPORTS + "def sigmoid(X):\n    return torch.Tensor.sigmoid(X)",), "sigmoid"),
    ("numpy tanh", ("import numpy as np\ndef tanh(X):\n    return np.tanh(X)",), "numpy.tanh"),
    ("math tanh", ("import math\ndef tanh(X):\n    return math.tanh(X)",), "math.tanh"),
    ("d2l alias", (IMPORTS + "def sigmoid(X):\n    return d2l.sigmoid(X)",), "torch.sigmoid"),
    ("d2l functional", (IMPORTS + "def relu(X):\n    return d2l.F.relu(X)",), "torch.nn.functional.relu"),
    ("torch._C", (IMPORTS + "def relu(X):\n    return torch._C._nn.gelu(X)",), "internals"),
    ("aten op", (IMPORTS + "def relu(X):\n    return torch.ops.aten.relu.default(X)",), "torch.ops"),
    ("softmax sigmoid", (IMPORTS + "def sigmoid(X):\n    return torch.softmax(torch.stack([X, 0 * X]), 0)[0]",),
     "softmax"),
    ("rnn cell relu", (IMPORTS + "def relu(X):\n    return torch.rnn_relu_cell(X, X, X, X)",), "rnn_relu_cell"),
    ("graded name bound to torch", ("import torch\nrelu = torch.relu",), "torch.relu"),
    ("helper in another cell", (IMPORTS, "def helper(X):\n    return torch.relu(X)",
                                "def relu(X):\n    return helper(X)"), "cell 2, line 2"),
    ("helper of a helper", (IMPORTS, "def inner(X):\n    return torch.sigmoid(X)\ndef outer(X):\n    return inner(X)",
                            "def sigmoid(X):\n    return outer(X)"), "torch.sigmoid"),
    ("lambda", (IMPORTS + "relu = lambda X: torch.relu(X)",), "torch.relu"),
    ("lambda helper", (IMPORTS + "act = lambda X: torch.tanh(X)\ndef tanh(X):\n    return act(X)",), "torch.tanh"),
    ("alias in another cell", (IMPORTS, "act = torch.relu", "def relu(X):\n    return act(X)"), "cell 2"),
    ("alias of an alias", (IMPORTS, "a = torch.relu\nb = a", "def relu(X):\n    return b(X)"), "torch.relu"),
    ("helper rebound later", (IMPORTS, "def h(X):\n    return torch.clamp(X, min=0)\ndef relu(X):\n    return h(X)",
                              "h = torch.relu"), "cell 3, line 1"),
    ("helper rebound conditionally", (IMPORTS + "def h(X):\n    return torch.clamp(X, min=0)\n"
                                      "if True:\n    h = torch.relu\ndef relu(X):\n    return h(X)",), "torch.relu"),
    ("graded name redefined as a cheat", (IMPORTS, "def relu(X):\n    return torch.clamp(X, min=0)",
                                          "def relu(X):\n    return torch.relu(X)"), "cell 3"),
    ("graded name in try/except", (IMPORTS + "try:\n    import nothing\nexcept ImportError:\n    relu = torch.relu",),
     "torch.relu"),
    ("default argument", (IMPORTS + "def relu(X, f=torch.relu):\n    return f(X)",), "torch.relu"),
    ("default argument alias", (IMPORTS, "fast = torch.sigmoid", "def sigmoid(X, f=fast):\n    return f(X)"),
     "torch.sigmoid"),
    ("extra parameter called", (IMPORTS + "def relu(X, f=None):\n    return f(X)",), "never passes"),
    ("decorator replaces", (IMPORTS + "def deco(fn):\n    return torch.relu\n@deco\ndef relu(X):\n    return X",),
     "torch.relu"),
    ("decorator wraps", (IMPORTS + "def deco(fn):\n    def wrapper(X):\n        return torch.sigmoid(fn(X))\n"
                                   "    return wrapper\n@deco\ndef sigmoid(X):\n    return X",), "torch.sigmoid"),
    ("closure", (IMPORTS + "def make():\n    act = torch.relu\n    def f(X):\n        return act(X)\n    return f\n"
                           "relu = make()",), "torch.relu"),
    ("closure over an argument", (IMPORTS + "def make(act):\n    def f(X):\n        return act(X)\n    return f\n"
                                            "relu = make(torch.relu)",), "torch.relu"),
    ("class attribute", (IMPORTS + SCRATCH_INIT + "    act = torch.relu\n    def forward(self, X):\n"
                                                  "        return self.act(X @ self.W1 + self.b1) @ self.W2",),
     "torch.relu"),
    ("instance attribute", (IMPORTS + SCRATCH_INIT + "        self.act = nn.ReLU()\n    def forward(self, X):\n"
                                                     "        return self.act(X @ self.W1) @ self.W2",), "nn.ReLU"),
    ("nn.Linear layer", (IMPORTS + "class MLPScratch(d2l.Classifier):\n    def __init__(self):\n"
                                   "        super().__init__()\n        self.lin = nn.Linear(784, 10)",), "nn.Linear"),
    ("nn.Sequential", (IMPORTS + SCRATCH_INIT + "        self.net = nn.Sequential(nn.Flatten())",), "nn.Sequential"),
    ("functional linear", (IMPORTS + "class MLPScratch(d2l.Classifier):\n    def forward(self, X):\n"
                                     "        return torch.nn.functional.linear(X, self.W1)",), "linear"),
    ("add_to_class forward", (IMPORTS + SCRATCH_INIT, "@d2l.add_to_class(MLPScratch)\ndef forward(self, X):\n"
                                                      "    return torch.relu(X @ self.W1) @ self.W2"), "cell 2, line 3"),
    ("add_to_class helper method", (IMPORTS + SCRATCH_INIT + "    def forward(self, X):\n"
                                                              "        return self.act(X @ self.W1) @ self.W2",
                                    "@d2l.add_to_class(MLPScratch)\ndef act(self, H):\n    return torch.relu(H)"),
     "torch.relu"),
    ("add_to_class called", (IMPORTS + SCRATCH_INIT, "def forward(self, X):\n    return torch.relu(X @ self.W1)\n"
                                                     "d2l.add_to_class(MLPScratch)(forward)"), "torch.relu"),
    ("class store from another cell", (IMPORTS + SCRATCH_INIT, "def fwd(self, X):\n    return torch.relu(X)",
                                       "MLPScratch.forward = fwd"), "torch.relu"),
    ("setattr on the class", (IMPORTS + SCRATCH_INIT, "setattr(MLPScratch, 'forward', lambda self, X: torch.tanh(X))"),
     "torch.tanh"),
    ("base class of the notebook", (IMPORTS + "class Base(d2l.Classifier):\n    def act(self, X):\n"
                                              "        return torch.sigmoid(X)\n"
                                              "class MLPScratch(Base):\n    def forward(self, X):\n"
                                              "        return self.act(X)",), "torch.sigmoid"),
    ("base class in another cell", (IMPORTS, "class Base(d2l.Classifier):\n    def __init__(self):\n"
                                             "        super().__init__()\n        self.net = nn.LazyLinear(10)",
                                    "class MLPScratch(Base):\n    pass"), "nn.LazyLinear"),
    ("library base class", (IMPORTS + "class MLPScratch(nn.Linear):\n    pass",), "nn.Linear"),
    ("d2l model base class", (IMPORTS + "class MLPScratch(d2l.LeNet):\n    pass",), "library class"),
    ("d2l softmax model base class", (IMPORTS + "class MLPScratch(d2l.SoftmaxRegression):\n    pass",),
     "d2l.SoftmaxRegression"),
    ("super call into a layer", (IMPORTS + "class MLPScratch(nn.ReLU):\n    def forward(self, X):\n"
                                           "        return super().forward(X)",), "nn.ReLU"),
    ("getattr with a computed name", (IMPORTS + "def relu(X):\n    return getattr(torch, 'rel' + 'u')(X)",),
     "computed name"),
    ("getattr literal", (IMPORTS + "def relu(X):\n    return getattr(torch, 'relu')(X)",), "torch.relu"),
    ("eval", (IMPORTS + "def relu(X):\n    return eval('torch.relu')(X)",), "eval"),
    ("exec anywhere", (IMPORTS, "exec('def relu(X): return torch.relu(X)')"), "exec"),
    ("__import__", ("def relu(X):\n    return __import__('torch').relu(X)",), "__import__"),
    ("importlib", ("import importlib\ndef relu(X):\n    return importlib.import_module('torch').relu(X)",), "importlib"),
    ("globals lookup", (IMPORTS + "def relu(X):\n    return globals()['act'](X)\nact = torch.relu",), "globals"),
    ("vars of a module", (IMPORTS + "def relu(X):\n    return vars(torch)['relu'](X)",), "vars"),
    ("module __dict__", (IMPORTS + "def relu(X):\n    return torch.nn.functional.__dict__['relu'](X)",), "__dict__"),
    ("sys.modules", ("import sys\ndef relu(X):\n    return sys.modules['torch'].relu(X)",), "sys.modules"),
    ("operator.attrgetter", (IMPORTS + "import operator\ndef relu(X):\n    return operator.attrgetter('relu')(torch)(X)",),
     "operator.attrgetter"),
    ("for-bound name", (IMPORTS, "for act in [torch.clamp]:\n    pass", "def relu(X):\n    return act(X, min=0)"),
     "for"),
    ("with-bound name", (IMPORTS, "with open('x') as act:\n    pass", "def relu(X):\n    return act(X)"), "with"),
    ("star import", ("from torch.nn.functional import *\ndef tanh(X):\n    return hardtanh(X)",), "import *"),
    ("container fetched at run time", (IMPORTS, "acts = {}", "acts['r'] = torch.relu",
                                       "def relu(X):\n    return acts['r'](X)"), "acts"),
    ("list item", (IMPORTS, "acts = []", "acts.append(torch.relu)", "def relu(X):\n    return acts[0](X)"), "acts"),
    ("module-level object attribute", (IMPORTS, "import types\nns = types.SimpleNamespace()", "ns.f = torch.relu",
                                       "def relu(X):\n    return ns.f(X)"), "ns"),
    ("global rebound inside a function", (IMPORTS + "def h(X):\n    return X\n"
                                          "def setup():\n    global h\n    h = torch.relu\nsetup()\n"
                                          "def relu(X):\n    return h(X)",), "torch.relu"),
    ("global rebound from a parameter", (IMPORTS + "def h(X):\n    return X\n"
                                         "def setup(f):\n    global h\n    h = f\nsetup(torch.relu)\n"
                                         "def relu(X):\n    return h(X)",), "pass in"),
    ("function attribute", (IMPORTS + "def relu(X):\n    return relu.impl(X)\nrelu.impl = torch.relu",), "torch.relu"),
    ("monkeypatched torch function", (IMPORTS, "torch.exp = torch.sigmoid",
                                      "def sigmoid(X):\n    return 1 / (1 + torch.exp(-X))"), "torch.sigmoid"),
    ("monkeypatched with a helper", (IMPORTS, "def fake(c, a, b):\n    return torch.relu(a)", "torch.where = fake",
                                     "def relu(X):\n    return torch.where(X > 0, X, 0.)"), "torch.relu"),
    ("store through type()", (IMPORTS + SCRATCH_INIT, "m = MLPScratch(2, 2, 2, 0.1)\n"
                                                      "type(m).forward = lambda self, X: torch.relu(X)"), "torch.relu"),
    ("store through a parameter", (IMPORTS + SCRATCH_INIT, "def patch(cls, f):\n    cls.forward = f",
                                   "patch(MLPScratch, torch.relu)"), "pass in"),
    ("partial of an activation", (IMPORTS + "import functools\nrelu = functools.partial(torch.relu)",), "torch.relu"),
    ("dunder defaults", (IMPORTS + "def relu(X, f=None):\n    return X\nrelu.__defaults__ = (torch.relu,)",),
     "__defaults__"),
    ("torch function mode", (IMPORTS, "class M(torch.overrides.TorchFunctionMode):\n"
                                      "    def __torch_function__(self, f, t, a=(), k=None):\n        return f(*a)"),
     "__torch_function__"),
    ("nn.modules path", (IMPORTS + "def relu(X):\n    return torch.nn.modules.activation.ReLU()(X)",), "ReLU"),
    ("unknown library", ("import scipy.special\ndef sigmoid(X):\n    return scipy.special.expit(X)",), "expit"),
    ("own module", ("import helpers\ndef relu(X):\n    return helpers.act(X)",), "helpers.act"),
    ("graded name from a container", (IMPORTS, "fs = [lambda X: X]", "relu = fs[0]"), "relu is"),
    ("walrus", (IMPORTS + "def relu(X):\n    return (f := torch.relu)(X)",), "torch.relu"),
    ("nonlocal rebinding", (IMPORTS + "def make():\n    f = torch.abs\n    def set_():\n        nonlocal f\n"
                                      "        f = torch.relu\n    set_()\n    return lambda X: f(X)\nrelu = make()",),
     "torch.relu"),
    ("magic cell", ("%%time\nimport torch\ndef relu(X):\n    return torch.relu(X)",), "torch.relu"),
    ("global module hook", (IMPORTS, "torch.nn.modules.module.register_module_forward_hook(lambda m, i, o: o)",
                            "def relu(X):\n    return torch.clamp(X, min=0)"), "torch.nn.modules.module"),
    ("instance forward hook", (IMPORTS + "class MLPScratch(d2l.Classifier):\n    def __init__(self):\n"
                                         "        super().__init__()\n"
                                         "        self.register_forward_hook(lambda m, i, o: torch.relu(o))",),
     "torch.relu"),
    ("get_ipython", (IMPORTS, "get_ipython().run_cell('relu = torch.relu')",
                     "def relu(X):\n    return torch.clamp(X, min=0)"), "get_ipython"),
    ("save_hyperparameters default", (IMPORTS + SCRATCH_INIT.replace("sigma=0.01", "sigma=0.01, act=torch.relu")
                                      + "    def forward(self, X):\n        return self.act(X @ self.W1)",),
     "torch.relu"),
    ("property", (IMPORTS + "class MLPScratch(d2l.Classifier):\n    @property\n    def act(self):\n"
                            "        return torch.relu\n    def forward(self, X):\n        return self.act(X)",),
     "torch.relu"),
    ("descriptor", (IMPORTS + "class D:\n    def __get__(self, obj, t):\n        return torch.relu\n"
                              "class MLPScratch(d2l.Classifier):\n    act = D()\n    def forward(self, X):\n"
                              "        return self.act(X)",), "act"),
    ("class decorator", (IMPORTS + "def deco(c):\n    return d2l.LeNet\n@deco\nclass MLPScratch(d2l.Classifier):\n"
                                   "    pass",), "d2l.LeNet"),
    ("module built outside", (IMPORTS, "M = nn.Module()", "M.add_module('r', nn.ReLU())",
                              "def relu(X):\n    return M.r(X)"), "`M`"),
    ("compiled module built outside", (IMPORTS, "M = nn.Module()", "def relu(X):\n    return torch.compile(M)(X)"),
     "`M`"),
    ("list concatenation", (IMPORTS, "L = []", "L.append(torch.relu)", "def relu(X):\n    return (L + [])[0](X)"),
     "`L`"),
    ("tensor attribute", (IMPORTS, "T = torch.zeros(1)", "T.sum = torch.relu", "def relu(X):\n    return T.sum(X)"),
     "torch.relu"),
    ("reduce over a list", (IMPORTS + "import functools", "FS = []", "FS.append(torch.relu)",
                            "def relu(X):\n    return functools.reduce(lambda a, f: f(a), FS, X)"), "FS"),
    ("dict get", (IMPORTS, "D = {}", "D.update(f=torch.relu)", "def relu(X):\n    return D.get('f')(X)"), "`D`"),
    ("method replaced later", (IMPORTS + "class MLPScratch(d2l.Classifier):\n    def forward(self, X):\n"
                                         "        return self.h(X)\n    def h(self, X):\n        return X",
                               "MLPScratch.h = lambda self, X: torch.sigmoid(X)"), "torch.sigmoid"),
    ("kwargs", (IMPORTS + "def relu(X, **kw):\n    return kw['f'](X)",), "never passes"),
    ("super through two bases", (IMPORTS + "class A(d2l.Classifier):\n    def act(self, X):\n"
                                           "        return torch.tanh(X)\nclass B(A):\n    pass\n"
                                           "class MLPScratch(B):\n    def forward(self, X):\n"
                                           "        return super().act(X)",), "torch.tanh"),
    ("tensor subclass", (IMPORTS, "class T(torch.Tensor):\n    @classmethod\n"
                                  "    def __torch_function__(cls, f, t, a=(), k=None):\n        return f(*a)"),
     "__torch_function__"),
    # Calling a container's item itself stays unverifiable, however the item is fetched.
    ("local list item", (IMPORTS + HELPER + "def relu(X):\n    fns = [h]\n    return fns[0](X)",), "`fns[0](X)`"),
    ("loop over local functions", (IMPORTS + HELPER + "def relu(X):\n    for f in [h, h][::-1]:\n"
                                                      "        X = f(X)\n    return X",), "`f(X)`"),
    ("dict get of a local dict", (IMPORTS + HELPER + "def relu(X):\n    d = {}\n    d['relu'] = h\n"
                                                     "    return d.get('relu')(X)",), "`d.get('relu')(X)`"),
    ("dict get after update", (IMPORTS, "D = {}", "D['r'] = torch.relu",
                               "def relu(X):\n    d = {}\n    d.update(D)\n    return d.get('r')(X)"),
     "`d.get('r')(X)`"),
    ("list pop after extend", (IMPORTS, "L = []", "L.append(torch.relu)",
                               "def relu(X):\n    l = []\n    l.extend(L)\n    return l.pop()(X)"), "`l.pop()(X)`"),
    ("dict get of a loop item", (IMPORTS, "D = {}", "D['r'] = torch.relu",
                                 "def relu(X):\n    for d in list([D]):\n        return d.get('r')(X)"), "d.get"),
    ("activation method of a loop item", (IMPORTS + "def relu(X):\n    for x in [X.clone()]:\n"
                                                    "        return x.relu()",), "`x.relu`"),
    ("attribute copied by functools.wraps", (IMPORTS + "import functools\n" + HELPER, "h.act = torch.relu",
                                             "@functools.wraps(h)\ndef relu(X):\n    return relu.act(X)"),
     "torch.relu"),
    ("closure over self calling a field from another cell", (IMPORTS, "ACTS = []", "ACTS.append(torch.relu)",
                                                              SCRATCH_INIT + "        self.act = ACTS[0]\n"
                                                              "    def forward(self, X):\n"
                                                              "        f = lambda H: self.act(H)\n"
                                                              "        return f(X)"), "ACTS"),
    ("activation method of a split item", (IMPORTS + "def tanh(X):\n    parts = X.split(1)\n"
                                                     "    return torch.cat([p.tanh() for p in parts])",), "`p.tanh`"),
]


@pytest.mark.parametrize(("cells", "shown"), [c[1:] for c in CHEATS], ids=[c[0] for c in CHEATS])
def test_cheat_is_found(cells: tuple[str, ...], shown: str) -> None:
    """Is each way of reaching a built-in activation or layer (or hiding it) reported?"""
    findings = _scan(*cells)
    assert findings, "not caught:\n" + "\n---\n".join(cells)
    assert any(shown in f for f in findings), findings


def test_findings_name_the_cell_line_and_construct() -> None:
    findings = _scan(IMPORTS, "x = 1", "def relu(X):\n    y = X\n    return torch.relu(y)")
    assert findings == [
        "cell 3, line 3: `torch.relu` is a built-in activation; relu must not use it: compute it yourself from "
        "tensor operations (torch.where, torch.clamp, torch.exp, X * (X > 0))"]


def test_helper_finding_names_the_graded_function_that_reaches_it() -> None:
    findings = _scan(IMPORTS, "def helper(H):\n    return torch.sigmoid(H)",
                     "def tanh(X):\n    return 2 * helper(2 * X) - 1")
    assert len(findings) == 1 and findings[0].startswith("cell 2, line 2: `torch.sigmoid`") and "tanh must" in findings[0]


def test_graded_names_are_a_parameter() -> None:
    """Does a deeper MLPDeep get read when it is graded, and is it ignored when it is not?"""
    deep = IMPORTS + "class MLPDeep(d2l.Classifier):\n    def forward(self, X):\n        return torch.relu(X)"
    assert _scan(deep, graded=frozenset({"MLPDeep"}))
    assert _scan(deep) == []


# --- honest code ---------------------------------------------------------------------------

HONEST: list[tuple[str, tuple[str, ...]]] = [
    ("reference solution", (REFERENCE,)),
    ("the notebook's own cells", tuple(_notebook_cells())),
    ("where", (IMPORTS + "def relu(X):\n    return torch.where(X > 0, X, 0.)",)),
    ("clamp", (IMPORTS + "def relu(X):\n    return torch.clamp(X, min=0)",)),
    ("mask product", ("def relu(X):\n    return X * (X > 0)",)),
    ("maximum", (IMPORTS + "def relu(X):\n    return torch.maximum(X, torch.zeros_like(X))",)),
    ("max with zeros (d2l)", (IMPORTS + "def relu(X):\n    a = torch.zeros_like(X)\n    return torch.max(X, a)",)),
    ("tensor methods", (IMPORTS + "def relu(X):\n    return X.clamp(min=0).reshape(X.shape)",)),
    ("masked assignment", (IMPORTS + "def relu(X):\n    Y = X.clone()\n    Y[Y < 0] = 0\n    return Y",)),
    ("stable sigmoid and tanh", (IMPORTS + "def sigmoid(X):\n    E = torch.exp(-torch.abs(X))\n"
                                           "    return torch.where(X >= 0, 1 / (1 + E), E / (1 + E))\n"
                                           "def tanh(X):\n    return 2 * sigmoid(2 * X) - 1",)),
    ("tanh from exp", (IMPORTS + "def tanh(X):\n    E = torch.exp(-2 * X.abs())\n"
                                 "    return torch.sign(X) * (1 - E) / (1 + E)",)),
    ("helpers", (IMPORTS, "def _exp_neg_abs(X):\n    return torch.exp(-X.abs())",
                 "def sigmoid(X):\n    E = _exp_neg_abs(X)\n    return torch.where(X >= 0, 1 / (1 + E), E / (1 + E))")),
    ("helper taking a function", (IMPORTS + "def apply(f, X):\n    return f(X)\n"
                                            "def relu(X):\n    return apply(lambda Z: torch.clamp(Z, min=0), X)",)),
    ("relu redefined honestly", (IMPORTS, "def relu(X):\n    return torch.relu(X)",
                                 "def relu(X):\n    return torch.clamp(X, min=0)")),
    ("d2l book section 5.2", (IMPORTS, "class MLPScratch(d2l.Classifier):\n"
                              "    def __init__(self, num_inputs, num_outputs, num_hiddens, lr, sigma=0.01):\n"
                              "        super().__init__()\n        self.save_hyperparameters()\n"
                              "        self.W1 = nn.Parameter(torch.randn(num_inputs, num_hiddens) * sigma)\n"
                              "        self.b1 = nn.Parameter(torch.zeros(num_hiddens))\n"
                              "        self.W2 = nn.Parameter(torch.randn(num_hiddens, num_outputs) * sigma)\n"
                              "        self.b2 = nn.Parameter(torch.zeros(num_outputs))",
                              "def relu(X):\n    a = torch.zeros_like(X)\n    return torch.max(X, a)",
                              "@d2l.add_to_class(MLPScratch)\ndef forward(self, X):\n"
                              "    X = d2l.reshape(X, (-1, self.num_inputs))\n"
                              "    H = relu(d2l.matmul(X, self.W1) + self.b1)\n    return d2l.matmul(H, self.W2) + self.b2",
                              "model = MLPScratch(num_inputs=784, num_outputs=10, num_hiddens=256, lr=0.1)\n"
                              "data = d2l.FashionMNIST(batch_size=256)\ntrainer = d2l.Trainer(max_epochs=10)\n"
                              "trainer.fit(model, data)",
                              "class MLP(d2l.Classifier):\n    def __init__(self, num_outputs, num_hiddens, lr):\n"
                              "        super().__init__()\n        self.save_hyperparameters()\n"
                              "        self.net = nn.Sequential(nn.Flatten(), nn.LazyLinear(num_hiddens),\n"
                              "                                 nn.ReLU(), nn.LazyLinear(num_outputs))",
                              "model = MLP(num_outputs=10, num_hiddens=256, lr=0.1)\ntrainer.fit(model, data)")),
    ("d2l book section 5.1", ("%matplotlib inline\nfrom d2l import torch as d2l\nimport torch",
                              "x = torch.arange(-8.0, 8.0, 0.1, requires_grad=True)\ny = torch.relu(x)\n"
                              "d2l.plot(x.detach(), y.detach(), 'x', 'relu(x)', figsize=(5, 2.5))",
                              "y.backward(torch.ones_like(x), retain_graph=True)\n"
                              "d2l.plot(x.detach(), x.grad, 'x', 'grad of relu', figsize=(5, 2.5))",
                              "y = torch.sigmoid(x)\nx.grad.data.zero_()\ny.backward(torch.ones_like(x),retain_graph=True)",
                              "y = torch.tanh(x)")),
    ("own base class", (IMPORTS + "class Base(d2l.Classifier):\n    def affine(self, X, W, b):\n"
                                  "        return X @ W + b\n"
                                  "class MLPScratch(Base):\n" + SCRATCH_INIT.split("\n", 1)[1] +
                        "    def forward(self, X):\n        X = X.reshape((-1, self.num_inputs))\n"
                        "        H = self.affine(X, self.W1, self.b1).clamp(min=0)\n"
                        "        return self.affine(H, self.W2, self.b2)",)),
    ("method helper", (IMPORTS + SCRATCH_INIT + "    def act(self, H):\n        return torch.clamp(H, min=0)\n"
                                                "    def forward(self, X):\n"
                                                "        return self.act(X.reshape((-1, self.num_inputs)) @ self.W1"
                                                " + self.b1) @ self.W2 + self.b2",)),
    ("staticmethod helper", (IMPORTS + SCRATCH_INIT + "    @staticmethod\n    def act(H):\n"
                                                      "        return H * (H > 0)\n    def forward(self, X):\n"
                                                      "        return self.act(X @ self.W1) @ self.W2",)),
    ("class attribute of own function", (IMPORTS, "def relu(X):\n    return torch.clamp(X, min=0)",
                                         SCRATCH_INIT.replace("class MLPScratch(d2l.Classifier):\n",
                                                              "class MLPScratch(d2l.Classifier):\n    act = relu\n")
                                         + "    def forward(self, X):\n        return self.act(X @ self.W1)")),
    ("biases 1 x h, float64, device", (IMPORTS + "class MLPScratch(d2l.Classifier):\n"
                                       "    def __init__(self, num_inputs, num_outputs, num_hiddens, lr, sigma=0.01):\n"
                                       "        super().__init__()\n        self.save_hyperparameters()\n"
                                       "        g = torch.Generator().manual_seed(0)\n"
                                       "        self.W1 = nn.Parameter(torch.randn(num_inputs, num_hiddens, "
                                       "dtype=torch.float64, generator=g) * sigma)\n"
                                       "        self.b1 = nn.Parameter(torch.zeros((1, num_hiddens), dtype=torch.float64))\n"
                                       "    def forward(self, X):\n"
                                       "        X = X.to(self.W1.device, self.W1.dtype).reshape((-1, self.num_inputs))\n"
                                       "        return X @ self.W1 + self.b1",
                                       "torch.set_default_dtype(torch.float64)")),
    ("nn.init and math", (IMPORTS + "import math\nclass MLPScratch(d2l.Classifier):\n"
                          "    def __init__(self, num_inputs, num_outputs, num_hiddens, lr):\n"
                          "        super().__init__()\n        self.save_hyperparameters()\n"
                          "        self.W1 = nn.Parameter(torch.empty(num_inputs, num_hiddens))\n"
                          "        nn.init.normal_(self.W1, std=1 / math.sqrt(num_inputs))",)),
    ("no_grad and compile decorated helpers", (IMPORTS + "@torch.no_grad()\ndef init_(W):\n    W.normal_(0, 0.01)\n"
                                               "@torch.compile\ndef relu(X):\n    return torch.clamp(X, min=0)",)),
    ("prints, asserts, f-strings", (IMPORTS + "def relu(X):\n    assert X.ndim >= 1, f'bad shape {X.shape}'\n"
                                              "    print('relu on', X.shape, type(X).__name__)\n"
                                              "    return torch.where(X > 0, X, torch.zeros_like(X))",)),
    ("module-level constants", (IMPORTS + "EPS = 1e-12\nSHAPE = (-1, 784)\ndef sigmoid(X):\n"
                                          "    return 1 / (1 + torch.exp(-X) + EPS)",)),
    ("custom autograd function", (IMPORTS + "class ReLUFn(torch.autograd.Function):\n    @staticmethod\n"
                                            "    def forward(ctx, X):\n        ctx.save_for_backward(X)\n"
                                            "        return X.clamp(min=0)\n    @staticmethod\n"
                                            "    def backward(ctx, G):\n        X, = ctx.saved_tensors\n"
                                            "        return G * (X > 0)\nrelu = ReLUFn.apply",)),
    ("plots of the graded functions", (IMPORTS + "def sigmoid(X):\n    return 1 / (1 + torch.exp(-X))",
                                       "x = torch.arange(-8.0, 8.0, 0.1, requires_grad=True)\n"
                                       "for name, f in [('sigmoid', sigmoid), ('torch', torch.sigmoid)]:\n"
                                       "    y = f(x)\n    d2l.plot(x.detach(), y.detach(), 'x', name)")),
    ("functional used by other code", ("import torch.nn.functional as F\nimport torch",
                                       "def relu(X):\n    return torch.clamp(X, min=0)",
                                       "def loss(y, t):\n    return F.cross_entropy(y, t)")),
    ("kit check with globals", ("from mlp_lab import FashionMNISTData, check", "def relu(X):\n    return X * (X > 0)",
                                'check("relu_values", globals())')),
    ("model.eval and apply outside", (REFERENCE, "model = MLP(10, 16, 0.1)\nmodel.eval()\n"
                                                 "model.apply(lambda m: None)\nprint(type(model).__name__)")),
    ("magics", ("%matplotlib inline\nimport torch", "%%time\ndef relu(X):\n    return torch.clamp(X, min=0)",
                "%timeit relu(torch.ones(3))")),
    ("timing", ("import time\nimport torch\ndef relu(X):\n    t = time.perf_counter()\n"
                "    Y = torch.clamp(X, min=0)\n    return Y",)),
    ("helper closure", (IMPORTS + "def make_relu(slope=0.0):\n    def f(X):\n"
                                  "        return torch.where(X > 0, X, slope * X)\n    return f\nrelu = make_relu()",)),
    ("partial of clamp", ("import functools\nimport torch\nrelu = functools.partial(torch.clamp, min=0)",)),
    ("syntax error cell is skipped", (IMPORTS + "def relu(X):\n    return torch.clamp(X, min=0)",
                                      "def relu(X) return torch.relu(X)")),
    ("isinstance of an unused cheat class", (IMPORTS + "class Cheat(nn.Module):\n    def __init__(self):\n"
                                             "        super().__init__()\n        self.l = nn.Linear(2, 2)\n"
                                             "def relu(X):\n    if isinstance(X, Cheat):\n        return X\n"
                                             "    return X.clamp(min=0)",)),
    ("device held outside", (IMPORTS + "DEVICE = torch.device('cpu')\ndef relu(X):\n"
                                       "    return X.to(DEVICE).clamp(min=0).reshape(X.shape)",)),
    ("MLPDeep with setattr and getattr on self", (IMPORTS + "class MLPScratch(d2l.Classifier):\n"
                                                  "    def __init__(self, sizes):\n        super().__init__()\n"
                                                  "        for i, (a, b) in enumerate(zip(sizes, sizes[1:])):\n"
                                                  "            setattr(self, f'W{i}', nn.Parameter(torch.randn(a, b)))\n"
                                                  "    def forward(self, X):\n        for i in range(2):\n"
                                                  "            X = (X @ getattr(self, f'W{i}')).clamp(min=0)\n"
                                                  "        return X",)),
    ("bash cell is not python", (IMPORTS + "def relu(X):\n    return torch.clamp(X, min=0)",
                                 "%%bash\necho 'def relu(X): return torch.relu(X)'")),
    ("parameters named in a loop over a dict (solution set 6)",
     (IMPORTS + "class MLPScratch(d2l.Classifier):\n"
                "    def __init__(self, num_inputs, num_outputs, num_hiddens, lr, sigma=0.01):\n"
                "        super().__init__()\n        self.save_hyperparameters()\n"
                "        shapes = {'W1': (num_inputs, num_hiddens), 'b1': (num_hiddens,)}\n"
                "        for name, shape in shapes.items():\n"
                "            init = torch.randn(shape) * sigma if name.startswith('W') else torch.zeros(shape)\n"
                "            setattr(self, name, nn.Parameter(init))\n"
                "    def forward(self, X):\n        return X.reshape((-1, self.num_inputs)) @ self.W1 + self.b1",)),
    ("methods of loop items", (IMPORTS + "def relu(X):\n    for key, value in {'a': 1}.items():\n"
                                         "        assert key.upper().startswith('A') and value.bit_length() == 1\n"
                                         "    for row in X.unbind(0):\n        row.sum().item()\n"
                                         "    return torch.clamp(X, min=0)",)),
    ("parameters read back by computed names, biases added", (
        IMPORTS + SCRATCH_INIT + "        for name in ('W1', 'W2'):\n"
                                 "            nn.init.normal_(getattr(self, name), std=sigma)\n"
                                 "        self.sizes = [getattr(self, n).numel() for n in ('W1', 'b1')]\n"
                                 "    def forward(self, X):\n        out = X.reshape((-1, self.num_inputs))\n"
                                 "        for i in (1, 2):\n"
                                 "            out = out @ getattr(self, f'W{i}') + getattr(self, f'b{i}')\n"
                                 "            if i == 1:\n                out = torch.clamp(out, min=0)\n"
                                 "        return out",)),
    ("a lambda over self with a computed name", (IMPORTS + SCRATCH_INIT +
                                                 "        self.order = sorted(['W1', 'W2'], key=lambda n: "
                                                 "getattr(self, n).numel())\n"
                                                 "    def forward(self, X):\n"
                                                 "        return (lambda H: H @ self.W2)(X @ self.W1)",)),
    ("library decorator factories on graded functions",
     (IMPORTS + "import functools\n" + HELPER + "@torch.no_grad()\ndef relu(X):\n    return h(X)\n"
                "@functools.wraps(h)\ndef tanh(X):\n    return 2 / (1 + torch.exp(-2 * X)) - 1",)),
    ("stderr three ways inside graded functions (the noisy example)",
     (IMPORTS + "import os, sys, warnings\ndef relu(X):\n    print('debug', file=sys.stderr)\n"
                "    sys.stderr.write('more\\n')\n    sys.stdout.flush()\n    warnings.warn('careful')\n"
                "    os.write(2, b'raw\\n')\n    return torch.clamp(X, min=0)",)),
]


@pytest.mark.parametrize("cells", [c[1] for c in HONEST], ids=[c[0] for c in HONEST])
def test_honest_code_has_no_findings(cells: tuple[str, ...]) -> None:
    assert _scan(*cells) == []


def test_a_method_of_an_item_is_callable_only_where_it_is_fetched() -> None:
    """`name.upper()` is a method call; `up = name.upper` called later is a value fetched at run time."""
    assert _scan("def relu(X):\n    for name in 'a b'.split():\n        name.upper()\n    return X * (X > 0)") == []
    findings = _scan("def relu(X):\n    for name in 'a b'.split():\n        up = name.upper\n    up()\n    return X * (X > 0)")
    assert len(findings) == 1 and "`up()` calls a value fetched from a container" in findings[0]


def test_example_notebooks_that_score_from_scratch_points_pass(tmp_path: Path) -> None:
    """Do the example factory's notebooks (the noisy one writes to stderr in relu) pass the scan?"""
    examples = write_examples(tmp_path)
    passing = [name for name, ex in examples.items() if ex.expected and ex.expected["from_scratch"] > 0]
    assert {"solution", "noisy", "float64", "default_float64", "deleted_grade_cell"} <= set(passing)
    for name in passing:
        cells = plan_cells(read_submission(tmp_path / f"{name}.ipynb"))
        assert scan_from_scratch([Cell(c.label, c.source) for c in cells], GRADED) == [], name


def test_honest_corpus_has_no_findings() -> None:
    """Is every file of the gate's honest corpus also from scratch?"""
    corpus = sorted((ROOT / "tests" / "fixtures" / "corpus" / "honest").glob("*"))
    assert corpus, "the honest corpus is missing"
    for path in corpus:
        assert _scan(path.read_text(encoding="utf-8")) == [], path.name


# --- the reading never breaks --------------------------------------------------------------

@pytest.mark.parametrize("source", [
    "x = " + "(" * 990 + "1" + ")" * 990,
    "x = " + "[" * 150 + "]" * 150,
    "x = " + "-" * 100_000 + "1",
    "x = " + " + ".join(["1"] * 100_000),
    "y = " + " + ".join(["x"] * 50_000),
    "def relu(X):\n    return " + " + ".join(["X"] * 5_000),
])
def test_pathological_cells_do_not_crash_the_reading(source: str) -> None:
    start = time.perf_counter()
    findings = _scan(IMPORTS, source)
    assert time.perf_counter() - start < SLOW_SCAN_S
    assert isinstance(findings, list)


def test_a_deeply_nested_graded_cell_is_reported() -> None:
    findings = _scan("def relu(X):\n    return " + "[" * 150 + "X" + "]" * 150)
    assert findings and "nested too deeply" in findings[0]


def test_many_helpers_are_read_quickly() -> None:
    helpers = "\n".join(f"def h{i}(X):\n    return h{i - 1}(X) + 1" for i in range(1, 400))
    start = time.perf_counter()
    findings = _scan(IMPORTS + "def h0(X):\n    return torch.relu(X)\n" + helpers + "\ndef relu(X):\n    return h399(X)")
    assert time.perf_counter() - start < SLOW_SCAN_S
    assert findings and "torch.relu" in findings[0]
