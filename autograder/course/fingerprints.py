"""Fingerprints of Python code: normalised tokens, k-gram hashes and winnowing (pure functions).

`normalised_tokens` is step 1 of the similarity report (see `similarity`): Python tokens with
comments, docstrings, whitespace and blank lines dropped; every name the student chose mapped to `V`,
strings to `S`, numbers to their value; kept as written are Python's keywords and builtins, the
names in `fixed_names` (what the release imports and defines: torch, nn, relu, MLPScratch ...),
attributes (`.reshape`, `self.W1`) and keyword arguments of calls (`min=`).  `kgram_hashes` and
`winnow` are step 2: blake2b hashes (the same in every run) of every k consecutive tokens, thinned by
robust winnowing (Schleimer, Wilkerson and Aiken 2003, "Winnowing: local algorithms for document
fingerprinting", as in MOSS).
"""

from __future__ import annotations

import ast
import builtins
import hashlib
import io
import keyword
import re
import tokenize
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from mlp_lab.source import python_source

__all__ = ["Token", "defined_names", "drop_lines", "kgram_hashes", "line_keys", "normalised_tokens", "winnow"]

_KEEP = frozenset(keyword.kwlist) | frozenset(dir(builtins))
_WORD = re.compile(r"[A-Za-z_]\w*|\d[\w.]*|\S")


@dataclass(frozen=True)
class Token:
    """A normalised token and where its original text is: (row, col) from 1 and 0, as `tokenize` says."""

    text: str
    start: tuple[int, int]
    end: tuple[int, int]


def defined_names(code: str) -> set[str]:
    """Names the code imports or defines at the top level (what other cells can call it by)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
    return names


def _raw_tokens(source: str) -> list[tuple[str, str, tuple[int, int], tuple[int, int]]]:
    """(kind, text, start, end); a cell that `tokenize` rejects is split into words and symbols."""
    try:
        return [(tokenize.tok_name[t.type], t.string, t.start, t.end)
                for t in tokenize.generate_tokens(io.StringIO(source).readline)]
    except (tokenize.TokenError, IndentationError, SyntaxError):
        out = []
        for row, line in enumerate(source.splitlines(), start=1):
            for m in _WORD.finditer(line.split("#")[0]):
                kind = "NAME" if m[0][0].isalpha() or m[0][0] == "_" else "NUMBER" if m[0][0].isdigit() else "OP"
                out.append((kind, m[0], (row, m.start()), (row, m.end())))
        return out


def _number(text: str) -> str:
    try:
        return repr(ast.literal_eval(text))  # 1e-2 and 0.01 are one number
    except (ValueError, SyntaxError):
        return text


def normalised_tokens(source: str, fixed_names: frozenset[str]) -> list[Token]:
    """Normalised tokens of one cell (see the module docstring, step 1), the release's lines included."""
    raw = _raw_tokens(python_source(source) or "")
    out: list[Token] = []
    parens: list[str] = []  # "sig" inside a def's parameter list, else "call"
    for i, (kind, text, start, end) in enumerate(raw):
        prev = raw[i - 1][1] if i else ""
        nxt = raw[i + 1][1] if i + 1 < len(raw) else ""
        if kind == "OP" and text in "([{":
            parens.append("sig" if text == "(" and i >= 2 and raw[i - 2][1] == "def" else "call")
        elif kind == "OP" and text in ")]}" and parens:
            parens.pop()
        if kind in ("COMMENT", "NL", "INDENT", "DEDENT", "ENCODING", "ENDMARKER"):
            continue
        if kind == "NAME":
            keep = text in _KEEP or text in fixed_names or prev == "." or (nxt == "=" and parens[-1:] == ["call"])
            text = text if keep else "V"
        elif kind == "STRING":
            alone_before = i == 0 or raw[i - 1][0] in ("NEWLINE", "INDENT", "DEDENT", "NL", "COMMENT")
            after = next((r[0] for r in raw[i + 1:] if r[0] != "COMMENT"), "ENDMARKER")
            alone_after = after in ("NEWLINE", "ENDMARKER")  # a trailing comment does not count
            if alone_before and alone_after:
                continue  # a docstring (or a string alone on a line): prose, not code
            text = "S"
        elif kind == "NUMBER":
            text = _number(text)
        elif kind == "NEWLINE":
            text = ";"
        out.append(Token(text, start, end))
    return out


def line_keys(tokens: Sequence[Token]) -> dict[int, str]:
    """Row -> the normalised text of the tokens that start on it."""
    rows: dict[int, list[str]] = defaultdict(list)
    for t in tokens:
        rows[t.start[0]].append(t.text)
    return {row: " ".join(texts) for row, texts in rows.items()}


def _hash(texts: Sequence[str]) -> int:
    return int.from_bytes(hashlib.blake2b("\x1f".join(texts).encode(), digest_size=8).digest(), "big")


def drop_lines(tokens: Sequence[Token], lines: frozenset[str]) -> tuple[Token, ...]:
    """The tokens not on a line whose normalised text (`line_keys`) is one of `lines`."""
    keys = line_keys(tokens)
    return tuple(t for t in tokens if keys[t.start[0]] not in lines)


def kgram_hashes(tokens: Sequence[Token], k: int) -> list[int]:
    """The hash of every k consecutive tokens (none when there are fewer than k)."""
    texts = [t.text for t in tokens]
    return [_hash(texts[i:i + k]) for i in range(len(texts) - k + 1)]


def winnow(hashes: Sequence[int], window: int) -> list[int]:
    """Positions chosen by robust winnowing: the rightmost smallest hash of each window, once."""
    if not hashes:
        return []
    if len(hashes) <= window:
        return [min(range(len(hashes)), key=lambda i: (hashes[i], -i))]
    chosen: list[int] = []
    for start in range(len(hashes) - window + 1):
        best = min(range(start, start + window), key=lambda i: (hashes[i], -i))
        if not chosen or chosen[-1] != best:
            chosen.append(best)
    return chosen
