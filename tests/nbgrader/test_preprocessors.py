"""The feedback preprocessor hides hidden tests from students, in the source and in tracebacks."""

from __future__ import annotations

import nbformat

from autograder.nbgrader.preprocessors import HideHiddenTests

GRADE_CELL = """# Grade cell: relu_values
checks.check_relu_values(x, y).require()

### BEGIN HIDDEN TESTS
from autograder.nbgrader.hidden import require
require("relu_values", globals())
### END HIDDEN TESTS"""


def _cell(traceback: list[str]) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(GRADE_CELL)
    cell.outputs = [nbformat.v4.new_output("error", ename="CheckFailed", evalue="[relu_values] wrong at x = 0",
                                           traceback=traceback)]
    return cell


def _run(cell: nbformat.NotebookNode) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook(cells=[cell])
    out, _ = HideHiddenTests()(nb, {})  # __call__, as nbconvert does: runs only when enabled
    return out.cells[0]


def test_hidden_region_is_removed_from_the_source() -> None:
    """Does the feedback keep the visible check and drop the hidden region with its markers?"""
    cell = _run(_cell([]))
    assert "check_relu_values" in cell.source
    assert "HIDDEN TESTS" not in cell.source and "require(\"relu_values\"" not in cell.source


def test_traceback_frames_quoting_hidden_lines_are_replaced() -> None:
    """Is a traceback frame that quotes a hidden line (even with ANSI colours) replaced, the rest kept?"""
    header = "\x1b[31m---------------------------------------------------------------------------\x1b[39m"
    frame = ("Cell \x1b[32mIn[5]\x1b[39m, line 6\n      4 \x1b[38;5;66;03m### BEGIN HIDDEN TESTS\x1b[39;00m\n"
             "----> 6 \x1b[43mrequire\x1b[49m(\x1b[33m\"relu_values\"\x1b[39m, \x1b[38;5;28mglobals\x1b[39m())")
    last = "\x1b[31mCheckFailed\x1b[39m: [relu_values] wrong at x = 0"
    cell = _run(_cell([header, frame, last]))
    tb = cell.outputs[0]["traceback"]
    assert tb[0] == header and tb[2] == last
    assert "require" not in tb[1] and "HIDDEN" not in tb[1]
    assert cell.outputs[0]["evalue"] == "[relu_values] wrong at x = 0"


def test_grader_frames_are_replaced_once() -> None:
    """Are frames inside the autograder package (inkernel.require) hidden, leaving one placeholder?"""
    frame = "Cell In[5], line 6\n----> 6 require(\"relu_values\", globals())"
    inner = "File /work/main/autograder/inkernel.py:140, in require(qid, namespace)\n--> 140 raise CheckFailed(...)"
    last = "CheckFailed: [relu_values] wrong at x = 0"
    tb = _run(_cell(["header", frame, inner, last])).outputs[0]["traceback"]
    assert tb == ["header", HideHiddenTests().placeholder, last]


def test_cells_without_hidden_tests_are_untouched() -> None:
    """Is a student's cell (no hidden region) left exactly as it was, traceback included?"""
    cell = nbformat.v4.new_code_cell("relu(x)\nrequire = 3")
    cell.outputs = [nbformat.v4.new_output("error", ename="NameError", evalue="x", traceback=["relu(x)"])]
    before = nbformat.writes(nbformat.v4.new_notebook(cells=[cell]))
    after = _run(cell)
    assert nbformat.writes(nbformat.v4.new_notebook(cells=[after])) == before
