"""Static reading of a submission's source: does it build the activations and MLPScratch from scratch?

The grader parses the student's cells (it never runs them here) and follows imports and simple
aliases, so `import torch.nn.functional as F; F.relu`, `from torch import relu as r` and
`act = torch.sigmoid` are all seen for what they are.  Indirect lookups (`getattr(torch, name)`,
`eval`, `__import__`, ...) inside the graded definitions cannot be verified and are reported too.
The sandboxed run adds a second, dynamic look (`probes.FORBIDDEN_RUNTIME`).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .source import python_source

__all__ = ["GRADED_NAMES", "Cell", "scan_from_scratch"]

GRADED_NAMES = frozenset({"relu", "sigmoid", "tanh", "MLPScratch"})

# Attribute names that are built-in activations or layers, whatever object they hang off.
_FORBIDDEN_ATTRS = frozenset({
    "relu", "relu_", "relu6", "leaky_relu", "threshold", "hardtanh", "sigmoid", "sigmoid_", "expit",
    "logsigmoid", "hardsigmoid", "tanh", "tanh_", "softplus", "gelu", "silu", "elu", "selu", "celu", "mish",
    "hardswish", "prelu", "rrelu", "softsign", "linear", "bilinear", "functional",
    "Linear", "LazyLinear", "Bilinear", "Sequential", "ReLU", "ReLU6", "LeakyReLU", "PReLU", "RReLU",
    "Sigmoid", "Tanh", "Hardtanh", "Softplus", "GELU", "SiLU", "ELU", "SELU", "CELU", "Mish",
    "Hardswish", "Hardsigmoid", "Threshold", "Softsign", "LogSigmoid",
})
# torch.nn names a from-scratch model may use.
_ALLOWED_NN = frozenset({"Parameter", "init", "Module", "ParameterList", "ParameterDict"})
_INDIRECT_CALLS = frozenset({"getattr", "eval", "exec", "compile", "__import__", "vars", "globals",
                             "locals", "import_module"})


@dataclass(frozen=True)
class Cell:
    label: str  # e.g. "cell 7 (grade id relu)"
    source: str


def _dotted(node: ast.AST) -> list[str] | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return parts[::-1]
    return None


def _forbidden_origin(origin: str) -> bool:
    parts = origin.split(".")
    if parts[0] != "torch":
        return False
    if "_C" in parts or "functional" in parts or "special" in parts:
        return True
    if len(parts) >= 3 and parts[1] == "nn":
        return parts[2] not in _ALLOWED_NN
    return parts[-1] in _FORBIDDEN_ATTRS


class _Aliases:
    """Local names bound to torch objects by imports or plain assignments, across all cells."""

    def __init__(self) -> None:
        self.origin: dict[str, str] = {}

    def resolve(self, node: ast.AST) -> str | None:
        parts = _dotted(node)
        if not parts:
            return None
        base = self.origin.get(parts[0])
        if base is None:
            return None
        return ".".join([base, *parts[1:]])

    def learn(self, tree: ast.AST) -> None:
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.asname:
                        self.origin[a.asname] = a.name
                    else:
                        top = a.name.split(".")[0]
                        self.origin[top] = top
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for a in node.names:
                    self.origin[a.asname or a.name] = f"{node.module}.{a.name}"
            elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                resolved = self.resolve(node.value)
                if resolved:
                    self.origin[node.targets[0].id] = resolved


def _findings_in(node: ast.AST, aliases: _Aliases, where: str) -> Iterable[str]:
    # A name read only as the base of an attribute (F in F.relu) is judged with that attribute.
    bases = {id(sub.value) for sub in ast.walk(node) if isinstance(sub, ast.Attribute)}
    for sub in ast.walk(node):
        line = getattr(sub, "lineno", "?")
        if isinstance(sub, ast.Call):
            name = _dotted(sub.func)
            if name and name[-1] in _INDIRECT_CALLS:
                yield f"{where}, line {line}: {'.'.join(name)}(...) looks a name up indirectly; call torch operations directly"
        if isinstance(sub, ast.Attribute):
            parts = _dotted(sub)
            if parts and parts[0] == "self" and len(parts) == 2:
                continue
            resolved = aliases.resolve(sub)
            if (resolved and _forbidden_origin(resolved)) or sub.attr in _FORBIDDEN_ATTRS:
                shown = ".".join(parts) if parts else f"….{sub.attr}"
                yield f"{where}, line {line}: {shown}" + (f" (= {resolved})" if resolved and resolved != shown else "")
        elif isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load) and id(sub) not in bases:
            resolved = aliases.resolve(sub)
            if resolved and _forbidden_origin(resolved):
                yield f"{where}, line {line}: {sub.id} (= {resolved})"


def scan_from_scratch(cells: Sequence[Cell]) -> list[str]:
    """Places where relu, sigmoid, tanh or MLPScratch reach a built-in activation or torch.nn layer."""
    trees: list[tuple[Cell, ast.Module]] = []
    for cell in cells:
        try:
            trees.append((cell, ast.parse(python_source(cell.source))))
        except SyntaxError:
            continue  # reported by the run itself, as the cell's error
    aliases = _Aliases()
    for _, tree in trees:
        aliases.learn(tree)
    findings: list[str] = []
    for cell, tree in trees:
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.ClassDef) and node.name in GRADED_NAMES:
                findings.extend(_findings_in(node, aliases, f"{node.name} in {cell.label}"))
            elif isinstance(node, ast.Assign):
                names = {t.id for t in node.targets if isinstance(t, ast.Name)}
                for name in sorted(names & GRADED_NAMES):
                    findings.extend(_findings_in(node.value, aliases, f"{name} in {cell.label}"))
                    resolved = aliases.resolve(node.value)
                    if resolved and not _forbidden_origin(resolved) and resolved.startswith("torch"):
                        findings.append(f"{name} in {cell.label}: bound to {resolved}")
    return list(dict.fromkeys(findings))
