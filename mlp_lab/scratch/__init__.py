"""Is the from-scratch part really from scratch?  A sound static reading of the notebook's cells.

`scan_from_scratch(cells, graded)` returns student-facing messages, one for every place where code
reachable from a graded name (`relu`, `sigmoid`, `tanh`, `MLPScratch`, ...) uses a built-in
activation or a torch.nn layer, and for every place the reading cannot follow soundly.  It parses
the cells (`mlp_lab.source.python_source`), it never runs them, and it imports only the standard
library.

How it reads a notebook (an abstract interpretation, flow-insensitive inside a function):

* Module-level names follow the notebook's order: an unconditional top-level binding replaces the
  earlier ones, a binding inside `if`/`for`/`try`/... is added to them, and a `global` assignment
  inside a function may happen at any time.  Function bodies run when the grader probes, after
  every cell, so they see the last bindings; class bodies, decorators and defaults see the
  bindings of their own point in the notebook.
* Every value is a set of *atoms*: an imported object (`torch.nn.functional.relu`), a function,
  lambda or class of the notebook, an instance of such a class, a value computed while the graded
  code runs (tensors, numbers), an item fetched from a container, an object that lives outside the
  call (module-level data, class attributes, mutable defaults, closures; a comprehension is not a
  closure, it runs where it stands), or something unknown (bound by `for`/`with`/`except`/`match`/
  star-import, a computed attribute name ...).  What a method of a run-time value returns
  (`d.get("relu")`, `fns.pop()`) may be what the value holds: an item (tensor methods give tensors).
  `getattr(self, name)` is any attribute of the model, its methods bound; a function has no
  attribute but dunders and what stores give it.
* Reachable = a notebook function or class whose atom shows up while evaluating reachable code,
  starting from the graded names: helpers and lambdas they call or mention, decorators, default
  arguments, base classes, class attributes, every method of a reachable class, methods attached
  from any cell (`@d2l.add_to_class(MLPScratch)`, `MLPScratch.forward = f`, `setattr(...)`), and
  values passed to them (arguments are propagated into parameters).
* In reachable code it reports: imported objects on the forbidden list (activations, torch.nn
  layers and functionals, torch internals), forbidden methods on values (`X.tanh()`), calls it
  cannot resolve (an item of a container, an attribute of a module-level object, a name bound by a
  loop, a parameter the probe does not pass ...; a method called where it is read on an item,
  `name.startswith("W")`, is an ordinary method call, but the item itself or a method of it
  called elsewhere is not), dynamic lookups (`getattr` with a computed name,
  `eval`, `globals()`, ...) and unfamiliar dunder attributes.  Anywhere in the notebook it reports
  what can change code behind the scan's back (`exec`, `__dict__`, `sys.modules`, torch.library,
  `__torch_function__`, ...), and assignments to attributes whose target it cannot identify when
  the attribute is one that the graded code or the library may call.

What is allowed in graded code: tensor arithmetic and torch's public functions that are not
activations or layers (`torch.exp`, `torch.where`, `torch.clamp`, `torch.maximum`, matmul, ...),
`nn.Parameter`, `nn.Module`, `nn.init`, `torch.autograd`, `math`, `numpy` (same rules), d2l's
`Classifier`/`Module`/`add_to_class` and its tensor aliases, `functools.partial`, builtins such as
`len`/`range`/`print`, printing and logging (`sys.stdout`/`sys.stderr`, `os.write`, `warnings.warn`:
no more of sys, os and io than the integrity gate allows) and the standard library's data helpers
(`copy`, `json`, `pprint`, `statistics`, ...), and code outside the graded names may use anything.

Limits (the sandboxed run's recorder, `probes.FORBIDDEN_RUNTIME`, stays the second look):

* library base classes (nn.Module, d2l.Classifier) are trusted, not read;
* a container or object built at module level may be changed by method calls the reading does not
  track (`acts.append(f)`, `m.add_module(...)`), so calling anything fetched from one is reported;
* attribute stores to an object the reading cannot identify count only for names that graded or
  library code calls (forward, loss, dunders, ...), and a value passed to a notebook function by a
  call the reading cannot resolve is taken as data unless it is stored where graded code reads it.

The package: `_allowlist` (what graded code may use, each origin's verdict), `_program` (atoms and
the program's structures), then the reading in layers, each a class deriving from the one below:
`_reading` (state, findings, the cells read), `_values` (names, bindings, definitions, fields),
`_expressions` (expressions and calls), `_statements` (statements, reachable code) and `_scan`
(outliving stores, notebook-wide hazards, the fixpoint).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from ._scan import _Scan

__all__ = ["Cell", "scan_from_scratch"]


@dataclass(frozen=True)
class Cell:
    """One notebook code cell: `label` names it in messages (e.g. "cell 17")."""

    label: str
    source: str


def scan_from_scratch(cells: Sequence[Cell], graded: Collection[str]) -> list[str]:
    """Student-facing messages for every place where code reachable from `graded` is not from scratch.

    Empty when every function, method and value the graded names can reach uses tensor operations
    only, and the reading could follow all of it.
    """
    return _Scan(cells, graded).run()
