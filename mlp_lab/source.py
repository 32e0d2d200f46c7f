"""A Jupyter cell's Python, as IPython would run it, with every line where the student wrote it.

`python_source(cell)` is what both the grader's parent (which parses it) and the sandboxed child
(which runs it) treat as the cell's program, so the two always agree on what a cell does.  It
follows IPython 9's input transformers (`IPython.core.inputtransformer2`) closely enough for a
notebook, with two deliberate differences: it never drops or merges lines (a message that says
"line 3" means the student's line 3), and it runs no shell and no magic other than timing.

What becomes of each IPython syntax::

    first non-blank line            the cell
    %%time, %%capture [var]         its body, run once (the magic line becomes a comment)
    %%timeit [opts] [setup]         setup, then its body, run once
    %%bash, %%writefile, %%html ... None: not Python, not run
    (indented first line)           the indentation is removed from every line, as IPython does

    any logical line                becomes
    %time stmt                      stmt
    %timeit [opts] stmt             stmt  (run once)
    %matplotlib inline, %anything   pass  # %matplotlib inline
    !ls, !!ls                       pass  # !ls
    ?obj, obj?, obj??               pass  # obj?
    x = %time expr                  x = expr
    x = %timeit [opts] stmt         x = None; stmt
    x = %anything                   x = None  # %anything
    x = !ls                         x = []  # !ls
    /f a b, ,f a b, ;f a b          f(a, b), f("a", "b"), f("a b")  (IPython's autocall escapes)

An escape counts only at the start of a logical line: a `%` or `!` inside a string, a comment or
an open bracket is left alone.  A magic continued with a trailing backslash takes its continuation
lines with it (they become comments, or stay code for %time/%timeit).

Lines are split on "\\n" only.  `str.splitlines()` would also split on U+2028, U+2029, \\x0c,
\\x1c ... inside strings and comments, and turn an honest cell into a SyntaxError; a CRLF line
keeps its "\\r", which Python's compiler reads as part of the line ending.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

__all__ = ["dotted", "python_source"]

# Cell magics whose body is Python that IPython runs (once, for our purposes); any other is not Python.
_PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture"})
_INDENT = re.compile(r"[ \t]+")
_CELL_MAGIC_HELP = re.compile(r"%%\w+\?")
# IPython's `_help_end_re`, anchored on a whole logical line: `obj?`, `obj.attr??`, `%magic?`.
_HELP_END = re.compile(r"[ \t\f]*%{0,2}(?!\d)[\w*]+(?:\.(?!\d)[\w*]+|\[-?[0-9]+\])*\?\??[ \t\f]*")
_SCAN = re.compile(r"""[#'"()\[\]{}]""")
_NAME_START = re.compile(r"[A-Za-z_]")
# `%timeit` options (IPython: parse_options(line, "n:r:tcp:qov:")): these take a value, those do not.
_TIMEIT_VALUE_OPTIONS = frozenset("nrpv")
_TIMEIT_FLAG_OPTIONS = frozenset("tcqo")
# Characters that, just before "=", make it part of another operator (==, !=, <=, +=, :=, ...).
_NOT_ASSIGN_BEFORE = frozenset("=!<>:+-*/%&|^@")


def python_source(cell_source: str) -> str | None:
    """The Python that a Jupyter cell runs, line for line, or None when the cell is not Python."""
    lines = _cell(cell_source.split("\n"))
    return None if lines is None else "\n".join(lines)


def _is_blank(line: str) -> bool:
    return not line or line.isspace()


def _body(line: str) -> tuple[str, str]:
    """A line without its CR (kept apart, so that CRLF cells stay CRLF)."""
    return (line[:-1], "\r") if line.endswith("\r") else (line, "")


def _cell(lines: list[str]) -> list[str] | None:
    done: list[str] = []  # magic lines already turned into comments (or setup code)
    while True:
        first = next((i for i, line in enumerate(lines) if not _is_blank(line)), None)
        if first is None:
            return done + lines
        indent = _INDENT.match(lines[first])
        if indent:  # IPython's leading_indent: the first line's indentation comes off every line
            space = indent.group(0)
            lines = lines[:first] + [ln[len(space):] if ln.startswith(space) else ln for ln in lines[first:]]
        head, cr = _body(lines[first])
        if not head.startswith("%%") or _CELL_MAGIC_HELP.match(head):
            return done + _line_transforms(lines)
        name, _, argument = head[2:].rstrip().partition(" ")
        if name not in _PYTHON_CELL_MAGICS:
            return None  # e.g. %%bash, or %%capture over %%bash: not Python
        setup = _timeit_statement(argument) if name == "timeit" else ""
        done += [*lines[:first], (setup or "# " + head) + cr]
        lines = lines[first + 1:]  # the body, transformed as a cell of its own (IPython: transform_cell)


def _timeit_statement(argument: str) -> str:
    """What `%timeit` runs once: its argument without the leading options."""
    rest = argument.strip()
    while rest.startswith("-"):
        option, _, after = rest.partition(" ")
        if option == "--":
            return after.strip()
        letters = option[1:]
        if not letters or letters[0] not in _TIMEIT_VALUE_OPTIONS | _TIMEIT_FLAG_OPTIONS:
            break  # not an option (e.g. `-x + 1`): the statement starts here
        rest = after.strip()
        for i, letter in enumerate(letters):
            if letter in _TIMEIT_VALUE_OPTIONS:
                if i == len(letters) - 1:  # `-n 10`: the value is the next word
                    _, _, rest = rest.partition(" ")
                    rest = rest.strip()
                break  # `-n10`: the value is the rest of this word
            if letter not in _TIMEIT_FLAG_OPTIONS:
                break
    return rest


def _time_statement(argument: str) -> str:
    """What `%time` runs: its argument without `--no-raise-error`."""
    rest = argument.strip()
    if rest.startswith("--no-raise-error"):
        rest = rest[len("--no-raise-error"):].strip()
    return rest


class _Scanner:
    """Just enough of Python's tokenizer to know where logical lines start.

    Tracks open brackets, strings (triple-quoted across lines, and single-quoted continued with a
    backslash) and backslash continuations.  An unterminated string ends with its line, as the
    tokenizer would report it (the cell is then a SyntaxError anyway).
    """

    def __init__(self) -> None:
        self.depth = 0
        self.string: str | None = None  # the open string's quote: ', ", ''' or """
        self.continued = False

    @property
    def at_start(self) -> bool:
        return self.depth == 0 and self.string is None and not self.continued

    def feed(self, line: str) -> None:
        text, _ = _body(line)
        i, n = 0, len(text)
        self.continued = False
        while i < n:
            if self.string is not None:
                i = self._close_string(text, i)
                continue
            match = _SCAN.search(text, i)
            if match is None:
                break
            i, ch = match.start(), match.group()
            if ch == "#":
                return
            if ch in "'\"":
                self.string = ch * 3 if text.startswith(ch * 3, i) else ch
                i += len(self.string)
            elif ch in "([{":
                self.depth += 1
                i += 1
            else:
                self.depth = max(0, self.depth - 1)
                i += 1
        if self.string is not None and len(self.string) == 1:
            # A single-quoted string continues only through a backslash-newline.
            if not (text.endswith("\\") and _odd_backslashes(text)):
                self.string = None
            return
        self.continued = self.string is None and text.endswith("\\") and _odd_backslashes(text)

    def _close_string(self, text: str, i: int) -> int:
        quote = self.string
        assert quote is not None
        n = len(text)
        while i < n:
            ch = text[i]
            if ch == "\\":
                i += 2
                continue
            if text.startswith(quote, i):
                self.string = None
                return i + len(quote)
            i += 1
        return n


def _odd_backslashes(text: str) -> bool:
    count = len(text) - len(text.rstrip("\\"))
    return count % 2 == 1


def _continued(line: str) -> bool:
    text, _ = _body(line)
    return text.endswith("\\") and _odd_backslashes(text)


def _line_transforms(lines: list[str]) -> list[str]:
    out: list[str] = []
    scanner = _Scanner()
    i = 0
    while i < len(lines):
        line = lines[i]
        if not scanner.at_start:
            scanner.feed(line)
            out.append(line)
            i += 1
            continue
        translated = _escape(lines, i)
        if translated is None:
            scanner.feed(line)
            out.append(line)
            i += 1
            continue
        for translated_line in translated:  # as Python will read it (e.g. a bracket %time left open)
            scanner.feed(translated_line)
        out.extend(translated)
        i += len(translated)
    return out


def _escape(lines: list[str], i: int) -> list[str] | None:
    """The translation of the IPython syntax starting logical line i (one entry per physical line)."""
    text, cr = _body(lines[i])
    stripped = text.lstrip(" \t\f")
    indent = text[:len(text) - len(stripped)]
    if _HELP_END.fullmatch(text) and not _continued(lines[i]):
        return [indent + "pass  # " + stripped + cr]
    end = i
    while _continued(lines[end]) and end + 1 < len(lines):
        end += 1
    rest = [("# " + ln.lstrip(" \t\f")) if not _is_blank(ln) else ln for ln in lines[i + 1:end + 1]]
    keep = lines[i + 1:end + 1]  # continuation lines kept as code (for %time / %timeit)
    if stripped[:1] in ("%", "!", "?"):
        if stripped.startswith("%") and not stripped.startswith("%%"):
            name, _, argument = stripped[1:].partition(" ")
            statement = {"time": _time_statement, "timeit": _timeit_statement}.get(name, lambda a: "")(argument)
            if statement:
                return [indent + statement + cr, *keep]
        return [indent + "pass  # " + stripped + cr, *rest]
    if stripped[:1] in (",", ";", "/"):
        return [indent + _autocall(stripped) + cr, *rest]
    assign = _magic_assignment(stripped)
    if assign is None:
        return None
    target, escape, command = assign
    if escape == "!":
        return [f"{indent}{target} = []  # !{command}{cr}", *rest]
    name, _, argument = command.partition(" ")
    if name == "time" and _time_statement(argument):
        return [f"{indent}{target} = {_time_statement(argument)}{cr}", *keep]
    if name == "timeit" and _timeit_statement(argument):
        return [f"{indent}{target} = None; {_timeit_statement(argument)}{cr}", *keep]
    return [f"{indent}{target} = None  # %{command}{cr}", *rest]


def _autocall(stripped: str) -> str:
    """IPython's `/f a b` -> f(a, b), `,f a b` -> f("a", "b"), `;f a b` -> f("a b")."""
    escape, content = stripped[0], stripped[1:]
    name, _, args = content.partition(" ")
    if not name:
        return "pass  # " + stripped
    if escape == "/":
        return f"{name}({', '.join(args.split())})"
    if escape == ",":
        quoted = '", "'.join(args.split())
        return f'{name}("{quoted}")'
    return f'{name}("{args}")'


def _magic_assignment(stripped: str) -> tuple[str, str, str] | None:
    """`x = %magic args` or `x = !cmd` as (target, escape, command), else None.

    As IPython's MagicAssign and SystemAssign: the first "=" outside brackets and strings, followed
    by "%name" or "!".
    """
    depth = 0
    i, n = 0, len(stripped)
    while i < n:
        ch = stripped[i]
        if ch == "#":
            return None
        if ch in "'\"":
            quote = ch * 3 if stripped.startswith(ch * 3, i) else ch
            j = i + len(quote)
            while j < n and not stripped.startswith(quote, j):
                j += 2 if stripped[j] == "\\" else 1
            i = j + len(quote)
            continue
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth = max(0, depth - 1)
        elif ch == "=" and depth == 0:
            if (i > 0 and stripped[i - 1] in _NOT_ASSIGN_BEFORE) or stripped.startswith("==", i):
                i += 2
                continue
            target, value = stripped[:i].rstrip(), stripped[i + 1:].lstrip()
            if not target:
                return None
            if value.startswith("%") and _NAME_START.match(value[1:2]):
                return target, "%", value[1:]
            if value.startswith("!"):
                return target, "!", value[1:]
            return None
        i += 1
    return None


def dotted(node: ast.AST) -> list[str] | None:
    """["torch", "nn", "functional"] for the expression torch.nn.functional; None unless a chain of names."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return [node.id, *reversed(parts)]
    return None


def own_nodes(node: ast.AST) -> Iterator[ast.AST]:
    """The nodes of a function's own body, not of the functions and classes nested in it."""
    stack = list(ast.iter_child_nodes(node))
    while stack:
        n = stack.pop()
        yield n
        if not isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            stack.extend(ast.iter_child_nodes(n))
