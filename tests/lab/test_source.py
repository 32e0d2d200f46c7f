"""A cell's Python as IPython would run it: magics, shell escapes, odd line breaks, line numbers kept."""

from __future__ import annotations

import ast

import pytest

from mlp_lab.source import python_source


def _statements(source: str | None) -> list[tuple[int, str]]:
    """(line, statement) for every top-level statement of the translated cell."""
    assert source is not None
    return [(node.lineno, ast.unparse(node)) for node in ast.parse(source).body]


def test_line_magic_becomes_a_statement_that_does_nothing() -> None:
    out = python_source("%matplotlib inline\nimport torch")
    assert _statements(out) == [(1, "pass"), (2, "import torch")]
    assert out is not None and "%matplotlib inline" in out.split("\n")[0]


def test_shell_escapes_do_nothing() -> None:
    assert _statements(python_source("!ls -la\n!!pip list\nx = 1")) == [(1, "pass"), (2, "pass"), (3, "x = 1")]


def test_indented_magic_keeps_the_block_valid() -> None:
    """Does a magic that is the only statement of an `if` block leave a valid block?"""
    out = python_source("if True:\n    %matplotlib inline\nelse:\n    !ls\nx = 1")
    tree = ast.parse(out)  # an IndentationError here would fail the test
    assert [type(n).__name__ for n in tree.body] == ["If", "Assign"]
    assert isinstance(tree.body[0].body[0], ast.Pass) and isinstance(tree.body[0].orelse[0], ast.Pass)


def test_time_line_magic_runs_its_statement() -> None:
    assert _statements(python_source("%time y = f(1)\n%time f(2)")) == [(1, "y = f(1)"), (2, "f(2)")]


def test_time_without_raise_option_runs_its_statement() -> None:
    assert _statements(python_source("%time --no-raise-error f(2)")) == [(1, "f(2)")]


@pytest.mark.parametrize(("line", "statement"), [
    ("%timeit f(1)", "f(1)"),
    ("%timeit -n 3 -r1 f(1)", "f(1)"),
    ("%timeit -n3 -q -o f(1)", "f(1)"),
    ("%timeit -qo f(1)", "f(1)"),
    ("%timeit -- -x", "-x"),
])
def test_timeit_line_magic_runs_its_statement_once(line: str, statement: str) -> None:
    assert _statements(python_source(line)) == [(1, statement)]


def test_timed_statement_inside_a_block_keeps_indentation() -> None:
    tree = ast.parse(python_source("for i in range(2):\n    %time g(i)\n"))
    loop = tree.body[0]
    assert isinstance(loop, ast.For) and ast.unparse(loop.body[0]) == "g(i)"


@pytest.mark.parametrize(("line", "statement"), [
    ("x = %time f()", "x = f()"),
    ("x = %timeit -o f()", "x = None\nf()"),
    ("files = !ls", "files = []"),
    ("out = %who_ls", "out = None"),
    ("self.x, y = %time g(1, 2)", "self.x, y = g(1, 2)"),
])
def test_assignment_from_a_magic(line: str, statement: str) -> None:
    out = python_source(line)
    assert out is not None and out.count("\n") == 0  # still one line
    assert ast.unparse(ast.parse(out)) == statement


@pytest.mark.parametrize("cell", [
    'print("a = %s" % 3)',
    "x = (1\n%2)",
    "x = [1,\n  !2]",
    's = """\n%not a magic\n!nor a shell\n"""',
    "y = 'a = %s' % 'b'",
    "z = 5 % 3  # x = %time",
    "d = {'k': 1 %\n 2}",
])
def test_percent_inside_python_is_left_alone(cell: str) -> None:
    """Is `%`/`!` inside a string, a bracket or an expression left as Python?"""
    assert python_source(cell) == cell


def test_help_syntax_does_nothing() -> None:
    out = python_source("relu?\ntorch.where??\n?torch\n%time?\nx = 1")
    assert _statements(out) == [(1, "pass"), (2, "pass"), (3, "pass"), (4, "pass"), (5, "x = 1")]


@pytest.mark.parametrize("magic", ["%%time", "%%timeit", "%%capture", "%%capture cap", "%%timeit -n1 -r1"])
def test_python_cell_magic_runs_its_body(magic: str) -> None:
    out = python_source(f"{magic}\nx = 1\ny = x + 1")
    assert _statements(out) == [(2, "x = 1"), (3, "y = x + 1")]


def test_timeit_cell_magic_runs_its_setup_first() -> None:
    assert _statements(python_source("%%timeit -n1 -r1 a = 1\nb = a + 1")) == [(1, "a = 1"), (2, "b = a + 1")]


def test_cell_magic_after_blank_lines_is_still_the_cell_magic() -> None:
    out = python_source("\n  \n%%time\nx = 1")
    assert _statements(out) == [(4, "x = 1")]


def test_magics_inside_a_timed_cell_are_translated_too() -> None:
    assert _statements(python_source("%%time\n%matplotlib inline\n%time f()")) == [(2, "pass"), (3, "f()")]


@pytest.mark.parametrize("cell", [
    "%%bash\necho hi",
    "%%writefile helper.py\nimport os\nos.system('x')",
    "%%html\n<b>hi</b>",
    "%%javascript\nalert(1)",
    "%%capture\n%%bash\necho hi",
    "\n%%script python\nprint(1)",
])
def test_other_cell_magics_are_not_python(cell: str) -> None:
    assert python_source(cell) is None


def test_a_cell_magic_on_a_later_line_is_only_a_line() -> None:
    """`%%bash` below the first line is not a cell magic: IPython sends it to run_line_magic."""
    assert _statements(python_source("x = 1\n%%bash")) == [(1, "x = 1"), (2, "pass")]


def test_line_separator_in_a_comment_does_not_split_the_line() -> None:
    cell = "x = 1  # note\u2028 still the comment\ny = 2"
    assert python_source(cell) == cell
    assert _statements(python_source(cell)) == [(1, "x = 1"), (2, "y = 2")]


@pytest.mark.parametrize("sep", ["\u2028", "\u2029", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\x0b"])
def test_odd_line_breaks_in_a_string_stay_in_the_string(sep: str) -> None:
    cell = f"s = 'a{sep}b'\n%matplotlib inline\nt = len(s)"
    out = python_source(cell)
    assert _statements(out) == [(1, f"s = {'a' + sep + 'b'!r}"), (2, "pass"), (3, "t = len(s)")]


def test_percent_after_a_line_separator_in_a_string_is_not_a_magic() -> None:
    """str.splitlines() would make `%x` a line of its own and turn it into `pass`."""
    cell = "s = 'a\u2028%x'"
    assert python_source(cell) == cell


def test_crlf_cells_keep_their_line_endings_and_numbers() -> None:
    cell = "%matplotlib inline\r\nimport torch\r\n!ls\r\nx = %time f()\r\n"
    out = python_source(cell)
    assert out is not None and out.split("\n")[1] == "import torch\r"
    assert _statements(out) == [(1, "pass"), (2, "import torch"), (3, "pass"), (4, "x = f()")]


def test_crlf_cell_magic() -> None:
    assert _statements(python_source("%%time\r\nx = 1\r\n")) == [(2, "x = 1")]
    assert python_source("%%bash\r\necho hi\r\n") is None


def test_backslash_continued_magic_takes_its_lines_along() -> None:
    out = python_source("%pip install \\\n   torch\nx = 1")
    assert _statements(out) == [(1, "pass"), (3, "x = 1")]


def test_backslash_continued_time_keeps_its_code() -> None:
    out = python_source("%time f(1, \\\n  2)\nx = 1")
    assert _statements(out) == [(1, "f(1, 2)"), (3, "x = 1")]


def test_indented_first_line_is_dedented_like_ipython() -> None:
    assert _statements(python_source("    x = 1\n    y = x\n")) == [(1, "x = 1"), (2, "y = x")]


def test_autocall_escapes_call_the_function() -> None:
    assert _statements(python_source("/print 1 2\n,print a b\n;print a b")) == [
        (1, "print(1, 2)"), (2, "print('a', 'b')"), (3, "print('a b')")]


@pytest.mark.parametrize("cell", [
    "%matplotlib inline\nimport torch\nfrom torch import nn\nfrom d2l import torch as d2l\n"
    "from mlp_lab import FashionMNISTData, check\ntorch.set_num_threads(1)",
    "x = 1\n\n\n%time y = 2\n!ls\nz = 3\n",
    "def f():\n    '''doc\n    %not magic\n    '''\n    %time return_value = 1\n    return 2\n",
    "%%capture\n%matplotlib inline\nimport torch\n",
])
def test_line_numbers_are_preserved(cell: str) -> None:
    """Does every line stay where the student wrote it (the gate's messages quote line numbers)?"""
    out = python_source(cell)
    assert out is not None and out.count("\n") == cell.count("\n")
    for original, translated in zip(cell.split("\n"), out.split("\n"), strict=True):
        if not original.lstrip().startswith(("%", "!")):
            assert translated == original


def test_release_notebook_first_cell_parses() -> None:
    cell = ("%matplotlib inline\nimport torch\nfrom torch import nn\nfrom d2l import torch as d2l\n"
            "from mlp_lab import FashionMNISTData, check\ntorch.set_num_threads(1)")
    assert [line for line, _ in _statements(python_source(cell))] == [1, 2, 3, 4, 5, 6]


def test_plain_python_is_unchanged() -> None:
    cell = "def relu(X):\n    return torch.clamp(X, min=0)\n"
    assert python_source(cell) == cell


def test_empty_and_blank_cells() -> None:
    assert python_source("") == ""
    assert python_source("\n  \n") == "\n  \n"


def test_syntax_errors_stay_syntax_errors() -> None:
    """A cell that is not valid Python is returned as it is: running it reports the student's error."""
    out = python_source("def f(:\n    pass")
    assert out == "def f(:\n    pass"
    with pytest.raises(SyntaxError):
        ast.parse(out)
