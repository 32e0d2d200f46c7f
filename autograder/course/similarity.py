"""Which students handed in the same code?  A ranked list of pairs, for the instructor to judge.

    run_similarity(SUBMISSIONS_DIR, out_dir=OUT)          # the API behind `autograder similarity`

Submissions are found as `grade-all` finds them (`batch.find_submissions`).  From each notebook it
takes what the student wrote: the answer cells (by their nbgrader grade ids, or by cell id when the
metadata is gone) and every code cell the student added (an id the release does not have).  Then,
in this order (`PIPELINE`):

1. *normalise* (`fingerprints.normalised_tokens`): comments, docstrings and whitespace go, names the
   student chose become `V`, so renamed variables and new comments change nothing.  Lines that read
   like the release's own (the stub's `def relu(X):`, `super().__init__()`, a copied grade cell) go;
2. *fingerprint*: hashes of every K consecutive tokens of a cell, winnowed with window WINDOW, so
   any match of K + WINDOW - 1 tokens is always seen;
3. *exclude*: every k-gram of the release's code (the starter code every student has), and
   fingerprints more than COMMON_SHARE of the class has (the obvious `torch.clamp(X, min=0)` is not
   evidence), the latter once the class has COMMON_MIN_STUDENTS;
4. *score*: a student's fingerprints are one set over all their cells, so the order of cells and of
   the functions in them does not matter.  score(a, b) = 2 shared / (|a| + |b|), the share of the two
   submissions together that matches (JPlag's "average similarity"), where a submission of a few
   lines counts as MIN_PRINTS fingerprints, so it cannot score high.  Each student's own share
   (shared / |a|, MOSS's per-file percentage) is reported too: a copy padded with much code of its
   own scores lower, but the copied student's share stays high.  Flagged: score >= FLAG_THRESHOLD.

FLAG_THRESHOLD comes from ten synthetic 300-student courses (`scripts/synthetic_course.py`, seeds
0-9): copies (renamed variables, reordered and split cells, comments, respacing, two small edits)
scored 0.80 or more, independent solutions 0.65 or less (README, "Similarity report").  Scored as
the share of the smaller submission instead, copies still scored 0.80 or more but independent pairs
up to 0.77: two students who wrote the same two units (of seven) look like a copy of the smaller one.

**Why not copydetect** (PyPI 0.5.0: MOSS's winnowing, boilerplate exclusion, an HTML report)?
Measured beside this module on the same 300 students (`benchmarks/similarity_benchmark.py`, README)
and read:

* report quality: it separated copies less well (weakest copy 0.83, other complete submissions up
  to 0.72; here 0.88 and 0.62 on the same course).  It has no size floor (two students who handed in
  the untouched release scored 1.0) and no "most of the class" rule, and its pygments tokenizer maps
  every name to `V` (`torch.where` and `H` alike).  It compares whole files, so it cannot say which
  cells match, and writes one page for all pairs that opens a browser unless told not to.  With
  winnowing on (guarantee > noise) its fingerprints come from Python's `hash()`, salted per process:
  two runs of one course differed by up to 0.19 in a score.  At its defaults it does not winnow;
* speed: 14.9 s against 6.5 s here for 300 submissions: it compares all n^2 / 2 pairs in Python,
  where an inverted index visits only the pairs that share a fingerprint;
* maintenance: one maintainer, last release March 2024, five unpinned dependencies (matplotlib,
  jinja2, pygments ...), for what is here about 200 lines of standard-library Python.

It stays a pinned dev dependency: the benchmark runs it beside this module in every measurement.
The report never changes a grade: it reads notebooks and writes similarity.csv and HTML pages.
"""

from __future__ import annotations

import itertools
import os
import time
import warnings
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlp_lab.source import python_source

from ..errors import BatchError
from ..files import write_csv_atomic
from .fingerprints import Token, defined_names, drop_lines, kgram_hashes, line_keys, normalised_tokens, winnow
from .similarity_html import write_html_report
from .submissions import DEFAULT_ASSIGNMENT, find_submissions

__all__ = [
    "COMMON_MIN_STUDENTS",
    "COMMON_SHARE",
    "FLAG_THRESHOLD",
    "MIN_PRINTS",
    "PIPELINE",
    "SIMILARITY_HEADER",
    "WINDOW",
    "CellCode",
    "CellMatch",
    "K",
    "Pair",
    "Params",
    "Prints",
    "Release",
    "SimilarityResult",
    "StudentCode",
    "Token",
    "compare",
    "fingerprint",
    "load_release",
    "normalise",
    "read_student",
    "release_prints",
    "run_similarity",
    "winnow",
    "write_similarity_csv",
]

PIPELINE = ("normalise", "fingerprint", "exclude", "score")
K = 6  # tokens per fingerprint
WINDOW = 4  # winnowing window: every run of K + WINDOW - 1 = 9 equal tokens is always found
COMMON_SHARE = 0.5  # a fingerprint more than half of the class has is nobody's evidence
COMMON_MIN_STUDENTS = 10  # in smaller classes "most of the class" may be the copiers themselves
MIN_PRINTS = 40  # a submission with fewer fingerprints than this scores as if it had this many
FLAG_THRESHOLD = 0.72  # between the synthetic courses' copies (>= 0.80) and independent pairs (<= 0.65)
SIMILARITY_HEADER = ("rank", "student_a", "student_b", "score", "share_a", "share_b", "shared", "flagged",
                     "matched_cells")


@dataclass(frozen=True)
class Params:
    """The report's knobs (the module's constants by default); `threshold` only decides what is flagged."""

    k: int = K
    window: int = WINDOW
    common_share: float = COMMON_SHARE
    common_min_students: int = COMMON_MIN_STUDENTS
    min_prints: int = MIN_PRINTS
    threshold: float = FLAG_THRESHOLD

    def __post_init__(self) -> None:
        if self.k < 1 or self.window < 1 or not 0 < self.common_share <= 1 or not 0 <= self.threshold <= 1:
            raise ValueError(f"bad similarity parameters: {self}")


@dataclass(frozen=True)
class CellCode:
    """One cell a student wrote: `key` is the grade id of an answer cell or `added:<cell id>`."""

    key: str
    label: str
    source: str


@dataclass(frozen=True)
class StudentCode:
    student: str
    path: str
    cells: tuple[CellCode, ...]
    problem: str = ""  # why nothing was read (an unreadable notebook ...)


@dataclass(frozen=True)
class Release:
    """What every student got, as the comparison needs it."""

    path: str
    answer_ids: frozenset[str]  # grade ids of the code answer cells
    cell_ids: frozenset[str]
    sources: frozenset[str]  # every code cell's source, stripped: a pasted release cell is no student's
    fixed_names: frozenset[str]  # what the release imports and defines: kept when normalising
    lines: frozenset[str]  # the normalised text of every line of the release's code: dropped
    code: tuple[str, ...]  # the code cells, whose every k-gram is left out


@dataclass(frozen=True)
class Prints:
    """A student's fingerprints: hash -> the (cell index, first token index) places it occurs."""

    student: str
    where: dict[int, tuple[tuple[int, int], ...]]
    tokens: tuple[tuple[Token, ...], ...]

    @property
    def hashes(self) -> frozenset[int]:
        return frozenset(self.where)


@dataclass(frozen=True)
class CellMatch:
    cell_a: str
    cell_b: str
    shared: int

    def __str__(self) -> str:
        return f"{self.cell_a}~{self.cell_b} ({self.shared})"


@dataclass(frozen=True)
class Pair:
    student_a: str
    student_b: str
    score: float
    share_a: float
    share_b: float
    shared: int
    flagged: bool
    matches: tuple[CellMatch, ...] = ()

    def as_csv(self, rank: int) -> list[str]:
        return [str(rank), self.student_a, self.student_b, f"{self.score:.3f}", f"{self.share_a:.3f}",
                f"{self.share_b:.3f}", str(self.shared), "yes" if self.flagged else "no",
                "; ".join(str(m) for m in self.matches)]


@dataclass
class SimilarityResult:
    """Pairs (highest score first), who was compared, who could not be, and where it went."""

    pairs: list[Pair]
    students: list[StudentCode]
    prints: dict[str, Prints]
    params: Params
    common: frozenset[int]
    seconds: float = 0.0
    out_dir: Path | None = None
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def excluded_common(self) -> int:
        return len(self.common)

    def shared(self, a: str, b: str) -> frozenset[int]:
        """The fingerprints students `a` and `b` share and the class does not."""
        return frozenset(h for h in self.prints[a].where if h in self.prints[b].where and h not in self.common)

    @property
    def flagged(self) -> list[Pair]:
        return [p for p in self.pairs if p.flagged]

    def summary(self, top: int = 5) -> str:
        lines = [f"{len(self.students)} submissions compared, {len(self.flagged)} pair(s) at or above "
                 f"{self.params.threshold:.2f} in {self.seconds:.1f} s"
                 + (f" -> {self.out_dir / 'index.html'}" if self.out_dir else "")]
        lines += [f"  {p.score:.2f}  {p.student_a} ~ {p.student_b}  "
                  f"({', '.join(str(m) for m in p.matches[:3])})" for p in self.pairs[:top]]
        lines += [f"not compared: {s} ({why})" for s, why in self.skipped]
        lines.append("For the instructor's judgment, not a verdict: no grade was changed.")
        return "\n".join(lines)


# --- the release and the students' cells ------------------------------------------------------


def _read_notebook(path: str | os.PathLike[str]) -> Any:
    import nbformat

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nbformat warns about missing cell ids on stderr
        return nbformat.read(path, as_version=4)


def _nbgrader(cell: Any) -> dict[str, Any]:
    return dict(cell.get("metadata", {}).get("nbgrader", {}) or {})


def load_release(path: str | os.PathLike[str]) -> Release:
    """Read the released notebook (what students get).

    Raises:
        BatchError: no such file, or not a notebook with nbgrader answer cells.
    """
    file = Path(path)
    if not file.is_file():
        raise BatchError(f"no released notebook at {file}; pass --release (e.g. release/mlp/mlp.ipynb), "
                         "generated with `nbgrader generate_assignment mlp`")
    try:
        nb = _read_notebook(file)
    except Exception as err:
        raise BatchError(f"{file} is not a readable notebook: {type(err).__name__}: {err}") from err
    code = [c for c in nb.cells if c.cell_type == "code"]
    answers = frozenset(str(_nbgrader(c)["grade_id"]) for c in code if _nbgrader(c).get("solution"))
    if not answers:
        raise BatchError(f"{file} has no nbgrader answer cells (metadata.nbgrader.solution); is it the release?")
    sources = tuple((python_source(c.source) or "") for c in code)
    names = frozenset(set().union(*(defined_names(s) for s in sources)))
    lines = frozenset(key for s in sources for key in line_keys(normalised_tokens(s, names)).values())
    return Release(path=str(file), answer_ids=answers, cell_ids=frozenset(str(c.get("id")) for c in nb.cells),
                   sources=frozenset(s.strip() for s in sources), fixed_names=names, lines=lines, code=sources)


def read_student(student: str, path: Path | None, release: Release) -> StudentCode:
    """The answer cells and added code cells of one submission (`problem` says why there are none)."""
    if path is None:
        return StudentCode(student, "", (), "no single notebook")
    try:
        nb = _read_notebook(path)
    except Exception as err:
        return StudentCode(student, str(path), (), f"unreadable notebook: {type(err).__name__}")
    cells: list[CellCode] = []
    for number, cell in enumerate(nb.cells, start=1):
        if cell.cell_type != "code":
            continue
        gid, cid = str(_nbgrader(cell).get("grade_id", "")), str(cell.get("id", ""))
        if gid in release.answer_ids or (not gid and cid in release.answer_ids):
            key, label = gid or cid, gid or cid
        elif not gid and cid not in release.cell_ids and (python_source(cell.source) or "").strip() not in release.sources:
            key, label = f"added:{cid or number}", f"added cell {number}"
        else:
            continue  # the release's own cell
        if any(c.label == label for c in cells):  # one grade id twice: keep both, tell them apart
            key, label = f"{key}#{number}", f"{label} (cell {number})"
        cells.append(CellCode(key, label, cell.source))
    return StudentCode(student, str(path), tuple(cells))


# --- 1. normalise -----------------------------------------------------------------------------


def normalise(source: str, release: Release) -> tuple[Token, ...]:
    """The cell's tokens as fingerprints see them, without the lines that read like the release's own.

    A line is the release's when its normalised tokens are those of a line of the release, so the stub's
    `def relu(X):` stays out also after a student renamed X.
    """
    return drop_lines(normalised_tokens(source, release.fixed_names), release.lines)


# --- 2. fingerprint ---------------------------------------------------------------------------


def fingerprint(student: StudentCode, release: Release, boilerplate: frozenset[int], params: Params) -> Prints:
    """A student's fingerprints, without those of the release (steps 1, 2 and half of 3)."""
    where: dict[int, list[tuple[int, int]]] = defaultdict(list)
    tokens = tuple(normalise(c.source, release) for c in student.cells)
    for ci, toks in enumerate(tokens):
        hashes = kgram_hashes(toks, params.k)
        for pos in winnow(hashes, params.window):
            if hashes[pos] not in boilerplate:
                where[hashes[pos]].append((ci, pos))
    return Prints(student.student, {h: tuple(v) for h, v in where.items()}, tokens)


def release_prints(release: Release, params: Params) -> frozenset[int]:
    """Every k-gram of the release's code (not only the winnowed ones), normalised like a student's."""
    return frozenset(h for code in release.code for h in kgram_hashes(normalised_tokens(code, release.fixed_names), params.k))


# --- 3. exclude and 4. score --------------------------------------------------------------------


def _cell_matches(a: Prints, sa: StudentCode, b: Prints, sb: StudentCode, shared: Iterable[int]) -> tuple[CellMatch, ...]:
    counts: Counter[tuple[str, str]] = Counter()
    for h in shared:
        for ca in {ci for ci, _ in a.where[h]}:
            for cb in {ci for ci, _ in b.where[h]}:
                counts[(sa.cells[ca].label, sb.cells[cb].label)] += 1
    return tuple(CellMatch(x, y, n) for (x, y), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def compare(students: Sequence[StudentCode], release: Release, params: Params = Params()) -> SimilarityResult:
    """Every pair of students that share a fingerprint, scored and sorted (steps 1 to 4)."""
    assert PIPELINE == ("normalise", "fingerprint", "exclude", "score")
    boilerplate = release_prints(release, params)
    readable = [s for s in students if not s.problem]
    prints = [fingerprint(s, release, boilerplate, params) for s in readable]
    df = Counter(h for p in prints for h in p.where)
    common = {h for h, n in df.items()
              if len(readable) >= params.common_min_students and n > params.common_share * len(readable)}
    sets = [p.hashes - common for p in prints]
    index: dict[int, list[int]] = defaultdict(list)
    for i, hs in enumerate(sets):
        for h in hs:
            index[h].append(i)
    counts: Counter[tuple[int, int]] = Counter()
    for members in index.values():
        counts.update(itertools.combinations(members, 2))
    pairs = []
    for (i, j), shared in counts.items():
        score = 2 * shared / (max(len(sets[i]), params.min_prints) + max(len(sets[j]), params.min_prints))
        a, b = (i, j) if readable[i].student < readable[j].student else (j, i)
        pairs.append(Pair(readable[a].student, readable[b].student, round(score, 6), shared / len(sets[a]),
                          shared / len(sets[b]), shared, score >= params.threshold,
                          _cell_matches(prints[a], readable[a], prints[b], readable[b], sets[a] & sets[b])))
    pairs.sort(key=lambda p: (-p.score, p.student_a, p.student_b))
    return SimilarityResult(pairs=pairs, students=list(students), params=params, common=frozenset(common),
                            prints={p.student: p for p in prints},
                            skipped=[(s.student, s.problem) for s in students if s.problem])


# --- the command ------------------------------------------------------------------------------


def write_similarity_csv(pairs: Sequence[Pair], path: str | os.PathLike[str]) -> None:
    """`similarity.csv`: one row per pair that shares anything, highest score first (atomic)."""
    write_csv_atomic(Path(path), SIMILARITY_HEADER, (p.as_csv(r) for r, p in enumerate(pairs, start=1)))


def run_similarity(submissions_dir: str | os.PathLike[str], *, out_dir: str | os.PathLike[str],
                   release: str | os.PathLike[str] | None = None, assignment: str = DEFAULT_ASSIGNMENT,
                   params: Params = Params()) -> SimilarityResult:
    """Compare every submission under `submissions_dir`; write similarity.csv, index.html, pairs/*.html.

    `release` defaults to `release/<assignment>/<assignment>.ipynb` under the current directory.

    Raises:
        BatchError: a bad submissions directory (see `find_submissions`) or release notebook.
    """
    start = time.perf_counter()
    rel = load_release(release if release is not None else Path.cwd() / "release" / assignment / f"{assignment}.ipynb")
    subs = find_submissions(submissions_dir, assignment=assignment)
    result = compare([read_student(s.student, s.path, rel) for s in subs], rel, params)
    out = Path(out_dir)
    write_similarity_csv(result.pairs, out / "similarity.csv")
    write_html_report(result, out)
    result.seconds, result.out_dir = time.perf_counter() - start, out
    return result
