"""The integrity gate: honest notebooks pass, every known escape is refused at the right line."""

from __future__ import annotations

import ast
import importlib
import json
import pkgutil
import re
import subprocess
import sys
import time
import types
import typing
from pathlib import Path

import pytest

from autograder.course.examples import solution_code
from autograder.engine.gate import (
    ALLOWED_IMPORTS,
    MAX_CELL_CHARS,
    MAX_NOTEBOOK_CHARS,
    Finding,
    GateCell,
    Kind,
    inspect_cells,
)

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "fixtures" / "corpus"
KIT_NAMES = frozenset({"FashionMNISTData", "check"})
RELEASE_FIRST_CELL = (CORPUS / "honest" / "release_first_cell.cell").read_text(encoding="utf-8")
FAST_S = 5.0  # the gate reads any input within this (shared CPUs included)
EXPECT = re.compile(r"^# expect: (?P<kind>[\w-]+) line (?P<line>\d+)$", re.MULTILINE)


def _inspect(*sources: str, kit_names: frozenset[str] = KIT_NAMES) -> list[Finding]:
    return inspect_cells([GateCell(i, s) for i, s in enumerate(sources, start=1)], kit_names=kit_names)


def _answer_cells() -> list[str]:
    """The source notebook's cells the grader runs (not grade cells), with the release notebook's first cell."""
    nb = json.loads((ROOT / "source" / "mlp" / "mlp.ipynb").read_text(encoding="utf-8"))
    cells = [c for c in nb["cells"] if c["cell_type"] == "code"]
    run = ["".join(c["source"]) for c in cells if not c.get("metadata", {}).get("nbgrader", {}).get("grade")]
    return [RELEASE_FIRST_CELL, *run[1:]]


# --- honest code ---------------------------------------------------------------------------

HONEST_FILES = sorted((CORPUS / "honest").iterdir())


@pytest.mark.parametrize("path", HONEST_FILES, ids=[p.name for p in HONEST_FILES])
def test_honest_corpus_file_passes(path: Path) -> None:
    findings = _inspect(path.read_text(encoding="utf-8"))
    assert findings == [], [f.message for f in findings]


def test_the_honest_corpus_is_large_enough() -> None:
    assert len(HONEST_FILES) >= 25


def test_reference_solution_passes() -> None:
    reference = solution_code()
    assert _inspect(RELEASE_FIRST_CELL, reference) == []


def test_the_notebooks_own_cells_pass() -> None:
    """Do the solution notebook's answer and training cells, with the kit import, pass as one notebook?"""
    cells = _answer_cells()
    assert len(cells) > 5
    findings = _inspect(*cells)
    assert findings == [], [f.message for f in findings]


def test_the_kit_check_may_read_globals_but_nothing_else_may() -> None:
    assert _inspect('from mlp_lab import check\ncheck("relu_values", globals())') == []
    findings = _inspect('from mlp_lab import check\nns = globals()\ncheck("relu_values", ns)')
    assert [(f.line, f.kind) for f in findings] == [(2, "dynamic-code")]


def test_a_method_named_eval_is_not_the_builtin() -> None:
    assert _inspect("import torch\nm = torch.nn.Linear(2, 2)\nm.eval()\nm.train()") == []
    assert [f.kind for f in _inspect("eval('1')")] == ["dynamic-code"]


def test_a_parameter_may_shadow_a_builtin_name() -> None:
    """`def f(input, vars): ...` uses the student's own names, not the builtins."""
    assert _inspect("def f(input, vars):\n    return input + vars\n\nprint(f(1, 2))") == []


def test_literal_getattr_is_an_ordinary_attribute() -> None:
    assert _inspect("import torch\nf = getattr(torch, 'exp')\nx = getattr(torch.zeros(1), 'shape', None)") == []
    assert [f.kind for f in _inspect("import torch\nf = getattr(torch, '_C')")] == ["torch-internals"]


OWN_OBJECT = (
    "import torch\nfrom torch import nn\n"
    "class Net(nn.Module):\n"
    "    def __init__(self, names):\n"
    "        super().__init__()\n"
    "        for name in names:\n"
    "            setattr(self, name, nn.Parameter(torch.zeros(2)))\n"
    "    def forward(self, X, names=('W1',)):\n"
    "        order = sorted(names, key=lambda n: getattr(self, n).numel())\n"
    "        return [getattr(self, n) for n in order if hasattr(self, n)]\n"
    "    def drop(self, name):\n"
    "        delattr(self, name)\n"
    "class Deep(Net):\n"
    "    def __init__(self, names):\n"
    "        Net.__init__(self, names)\n"
)


def test_computed_names_on_the_students_own_object_pass() -> None:
    """Does `setattr(self, name, ...)` in a method (a lambda or comprehension in it too) pass?"""
    assert _inspect(OWN_OBJECT + "net = Deep(['W1'])\nnet.forward(None)\nnet.drop('W1')\nNet.forward(net, 1)") == []


@pytest.mark.parametrize("source", [
    "import torch\nname = 'exp'\nsetattr(torch, name, abs)  # <-",
    "import torch\nname = 'x'\nsetattr(torch.Tensor, name, 1)  # <-",
    "import torch\nname = 'x'\nv = getattr(torch.zeros(1), name)  # <-",
    "class A:\n    def f(self, other, name):\n        setattr(other, name, 1)  # <-",
    "class A:\n    def f(self, other, name):\n        if name:\n            self = other\n"
    "        setattr(self, name, 1)  # <-",
    "class A:\n    def f(self, name):\n        setattr(type(self), name, 1)  # <-",
    "def f(self, name):\n    setattr(self, name, 1)  # <-",
    "class A:\n    @staticmethod\n    def f(self, name):\n        setattr(self, name, 1)  # <-",
    "class A:\n    @classmethod\n    def f(cls, name):\n        setattr(cls, name, 1)  # <-",
    "class A:\n    def f(self, name):\n        def g(self):\n            setattr(self, name, 1)  # <-\n        g(self)",
    "class A:\n    def f(self, name):\n        return lambda self: getattr(self, name)  # <-",
    "import torch\nclass A:\n    def f(self, name):\n        setattr(self, name, 1)  # <-\nA.f(torch.Tensor, 'x')",
    "import torch\nclass A:\n    def f(self, name):\n        setattr(self, name, 1)  # <-\n"
    "A.f(self=torch.Tensor, name='x')",
    "class A:\n    def f(self, name):\n        setattr(self, name, 1)  # <-\ng = A.f",
    "class A:\n    def f(self, name):\n        setattr(self, name, 1)  # <-\nB = A\nh = getattr(B, 'f')",
    "class A:\n    def f(self, name):\n        setattr(self, name, 1)  # <-\n    f = classmethod(f)",
    "def deco(f):\n    return f\nclass A:\n    pass\n@deco\ndef f(self, name):\n    setattr(self, name, 1)  # <-",
    "import torch\nfrom d2l import torch as d2l\nclass A:\n    pass\n@d2l.add_to_class(A)\ndef f(self, name):\n"
    "    setattr(self, name, 1)  # <-\nA.f(torch.Tensor, 'x')",
])
def test_computed_names_on_anything_else_are_refused(source: str) -> None:
    """Modules, library classes, other values, and a `self` that a call may bind to something else."""
    line = next(i for i, text in enumerate(source.split("\n"), start=1) if text.endswith("# <-"))
    assert (line, "dynamic-code") in [(f.line, f.kind) for f in _inspect(source)]


def test_a_method_fetched_from_its_class_with_a_library_object_taints_self() -> None:
    """Does `C.f(torch.Tensor)` make what f stores on self a monkeypatch, while `model.f(x)` does not?"""
    method = "import torch\nclass A:\n    def f(self, v):\n        self.detach = v\n"
    assert _inspect(method + "a = A()\na.f(torch.float64)\nA.f(a, 1)\nsuper(A, a).f(1)") == []
    for call in ("A.f(torch.Tensor, 1)", "B = A\nB.f(torch.Tensor, 1)", "g = A.f\ng(torch.Tensor, 1)",
                 "type(A()).f(torch.Tensor, 1)", "getattr(A, 'f')(torch.Tensor, 1)"):
        assert [(f.line, f.kind) for f in _inspect(method + call)] == [(4, "monkeypatch")], call


def test_save_hyperparameters_only_in_a_function_without_module_locals() -> None:
    """d2l copies the caller's locals onto self: at the top level that is every module."""
    model = "from d2l import torch as d2l\nimport torch\nclass M(d2l.Module):\n    def __init__(self, lr):\n"
    assert _inspect(model + "        super().__init__()\n        self.save_hyperparameters()") == []
    for body, line in (("        F = torch.nn.functional\n        self.save_hyperparameters()", 5),
                       ("        from torch import nn\n        self.save_hyperparameters()", 5),
                       ("        f = self.save_hyperparameters\n        f()", 5)):
        assert [(f.line, f.kind) for f in _inspect(model + body)] == [(line, "interpreter")], body
    assert [f.kind for f in _inspect("from d2l import torch as d2l\nm = d2l.Module()\nm.save_hyperparameters()")] == [
        "interpreter"]


def test_os_write_to_stdout_and_stderr_passes_other_descriptors_do_not() -> None:
    assert _inspect("import os\nos.write(1, b'x')\nos.write(2, b'y')") == []
    assert [f.kind for f in _inspect("import os\nos.write(3, b'x')")] == ["file-descriptor"]


# --- hostile code --------------------------------------------------------------------------

HOSTILE_FILES = sorted((CORPUS / "hostile").iterdir())


def _expectation(path: Path) -> tuple[str, int]:
    match = EXPECT.search(path.read_text(encoding="utf-8")[:2000])
    assert match, f"{path.name} has no '# expect: <kind> line <n>' header"
    return match["kind"], int(match["line"])


@pytest.mark.parametrize("path", HOSTILE_FILES, ids=[p.name for p in HOSTILE_FILES])
def test_hostile_corpus_file_is_refused_at_its_line(path: Path) -> None:
    kind, line = _expectation(path)
    assert kind in typing.get_args(Kind), f"{path.name}: unknown kind {kind}"
    start = time.perf_counter()
    findings = inspect_cells([GateCell(7, path.read_text(encoding="utf-8"))], kit_names=KIT_NAMES)
    assert time.perf_counter() - start < FAST_S
    assert any(f.kind == kind and f.line == line for f in findings), [f"{f.kind} {f.message}" for f in findings]
    assert all(f.message.startswith(f"cell 7, line {f.line}: ") for f in findings)


def test_the_hostile_corpus_is_large_enough() -> None:
    assert len(HOSTILE_FILES) >= 60
    assert {_expectation(p)[0] for p in HOSTILE_FILES} == set(typing.get_args(Kind))


def test_a_five_megabyte_cell_is_unreadable_and_read_quickly() -> None:
    start = time.perf_counter()
    findings = _inspect("x = 1\n" * 900_000)
    assert time.perf_counter() - start < FAST_S
    assert [(f.cell, f.kind) for f in findings] == [(1, "unreadable")]
    assert f"{MAX_CELL_CHARS:,}" in findings[0].message


def test_the_notebook_as_a_whole_has_a_budget() -> None:
    cell = "x = 1\n" * (MAX_CELL_CHARS // 6 - 1)
    cells = [cell] * (MAX_NOTEBOOK_CHARS // len(cell) + 2)
    findings = _inspect(*cells)
    assert findings and all(f.kind == "unreadable" for f in findings)
    assert findings[0].cell == MAX_NOTEBOOK_CHARS // len(cell) + 1


def test_a_plain_syntax_error_is_not_a_finding() -> None:
    """The child reports it as the cell's error, as Python would."""
    assert _inspect("def relu(X) return X", "x = (1,") == []


def test_cells_that_are_not_python_are_skipped() -> None:
    assert _inspect("%%bash\nimport os; os.system('ls')", "%%writefile x.py\nimport ctypes") == []


def test_magics_are_read_as_ipython_runs_them() -> None:
    findings = _inspect("%time import ctypes")
    assert [(f.line, f.kind) for f in findings] == [(1, "import")]


def test_the_message_names_the_cell_line_and_construct() -> None:
    findings = inspect_cells([GateCell(12, "x = 1\nimport sys\ny = sys.modules['torch']")], kit_names=KIT_NAMES)
    assert len(findings) == 1
    finding = findings[0]
    assert (finding.cell, finding.line, finding.construct, finding.kind) == (12, 3, "sys.modules", "interpreter")
    assert finding.message == ("cell 12, line 3: `sys.modules` reaches into the interpreter's module table "
                               "(the probes are in it)")


def test_kit_names_are_a_parameter() -> None:
    assert _inspect("from mlp_lab import check") == []
    assert [f.kind for f in _inspect("from mlp_lab import check", kit_names=frozenset({"FashionMNISTData"}))] == [
        "import"]


def test_findings_are_frozen_and_in_notebook_order() -> None:
    findings = _inspect("import ctypes", "x = 1", "import gc\nimport inspect")
    assert [(f.cell, f.line) for f in findings] == [(1, 1), (3, 1), (3, 2)]
    with pytest.raises(AttributeError):
        findings[0].line = 9  # type: ignore[misc]


@pytest.mark.parametrize("source", [
    "x = " + "(" * 5000 + ")" * 5000,
    "x = " + "lambda: " * 1000 + "1",
    "def f():\n" + "".join("    " * i + "if x:\n" for i in range(1, 101)) + "    " * 101 + "pass",
    "\x00",
    "x = '''" + "a" * 10,
    "\ufeffimport os",
    "f" + "(" * 199 + ")" * 199,
    "x = 1\r" * 1000,
    "%%capture\n" * 20_000 + "import ctypes",
])
def test_pathological_cells_never_crash_the_gate(source: str) -> None:
    start = time.perf_counter()
    findings = _inspect(source)
    assert time.perf_counter() - start < FAST_S
    assert all(isinstance(f, Finding) for f in findings)


# --- the tables match the installed packages -----------------------------------------------

def _public_modules(module: types.ModuleType) -> dict[str, str]:
    """Module-valued attributes, and the submodules on disk (an attribute once anything imports them)."""
    found = {}
    for name in dir(module):
        if not name.startswith("_"):
            value = getattr(module, name, None)
            if isinstance(value, types.ModuleType):
                found[name] = {"posixpath": "os.path"}.get(value.__name__, value.__name__)
    for info in pkgutil.iter_modules(getattr(module, "__path__", [])):
        if not info.name.startswith("_"):
            found.setdefault(info.name, f"{module.__name__}.{info.name}")
    return found


def _binding(module: str) -> str:
    return "from d2l import torch as m" if module in ("d2l", "d2l.torch") else f"import {module} as m"


@pytest.mark.filterwarnings("ignore")
def test_no_allowed_module_is_a_side_door_to_another() -> None:
    """Does every module-valued attribute of an allowed module lead only to an allowed module?"""
    leaks = []
    for module in sorted(ALLOWED_IMPORTS - {"__future__", "d2l"}):
        imported = importlib.import_module(module)
        for name, target in _public_modules(imported).items():
            findings = _inspect(f"{_binding(module)}\nx = m.{name}")
            if not findings and target not in ALLOWED_IMPORTS:
                leaks.append(f"{module}.{name} -> {target}")
        for cname in dir(imported):
            cls = getattr(imported, cname, None)
            if cname.startswith("_") or not isinstance(cls, type):
                continue
            for attr, value in vars(cls).items():
                if not attr.startswith("_") and isinstance(value, types.ModuleType):
                    if not _inspect(f"{_binding(module)}\nx = m.{cname}.{attr}"):
                        leaks.append(f"{module}.{cname}.{attr} -> {value.__name__}")
    assert leaks == []


def test_sys_os_and_io_allow_no_module_but_os_path() -> None:
    for module in ("sys", "os", "io"):
        imported = importlib.import_module(module)
        for name, target in _public_modules(imported).items():
            if not _inspect(f"import {module}\nx = {module}.{name}"):
                assert f"{module}.{name}" == "os.path" == target


# --- the parent stays light ----------------------------------------------------------------

def test_the_gate_imports_only_the_standard_library_and_the_kits_reader() -> None:
    modules = sorted((ROOT / "autograder" / "engine" / "gate").glob("*.py"))
    assert len(modules) > 3
    trees = [ast.parse(path.read_text(encoding="utf-8")) for path in modules]
    imported = {alias.name.split(".")[0] for tree in trees for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for tree in trees for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module and not node.level}  # not the package's own
    assert imported - set(sys.stdlib_module_names) == {"mlp_lab"}


def test_importing_the_gate_loads_no_torch() -> None:
    """The parent reads the source with the gate and the scan; neither may pull in torch, d2l or matplotlib."""
    code = ("import sys, autograder.engine.gate, mlp_lab.scratch, mlp_lab.source; "
            "print(sorted(m for m in ('torch', 'd2l', 'matplotlib') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert done.stdout.strip() == "[]"
