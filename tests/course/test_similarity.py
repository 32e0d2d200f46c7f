"""The similarity report on synthetic courses written by scripts/synthetic_course.py (run as a script)."""

from __future__ import annotations

import copy
import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest

from autograder.course.fingerprints import normalised_tokens, winnow
from autograder.course.similarity import (
    FLAG_THRESHOLD,
    PIPELINE,
    SIMILARITY_HEADER,
    CellCode,
    Params,
    SimilarityResult,
    StudentCode,
    compare,
    load_release,
    normalise,
    read_student,
    run_similarity,
)
from autograder.course.similarity_html import DISCLAIMER, pair_filename

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "synthetic_course.py"
RELEASE = ROOT / "release" / "mlp" / "mlp.ipynb"
SEED = 11


def build(out: Path, *args: str) -> dict[str, Any]:
    """Run the course script; returns its manifest."""
    subprocess.run([sys.executable, str(SCRIPT), str(out), "--seed", str(SEED), *args], check=True,
                   capture_output=True, text=True)
    return json.loads((out / "manifest.json").read_text(encoding="utf-8"))


def scores(result: SimilarityResult) -> dict[tuple[str, str], float]:
    return {(p.student_a, p.student_b): p.score for p in result.pairs}


def copy_and_independent(manifest: dict[str, Any], result: SimilarityResult) -> tuple[float, float]:
    """(lowest score of a copy pair, highest score of any other pair); a pair sharing nothing scores 0."""
    copies = {tuple(p) for p in manifest["copy_pairs"]}
    got = scores(result)
    others = [v for k, v in got.items() if k not in copies]
    return min(got.get(c, 0.0) for c in copies), max(others, default=0.0)


@pytest.fixture(scope="module")
def release():
    return load_release(RELEASE)


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> tuple[Path, dict[str, Any], SimilarityResult]:
    """60 independent students, 5 groups of 3 copies (every transform), 3 untouched, 3 partial."""
    root = tmp_path_factory.mktemp("course")
    manifest = build(root / "subs", "--independent", "60", "--copy-groups", "5", "--group-size", "3",
                     "--untouched", "3", "--partial", "3")
    result = run_similarity(root / "subs", out_dir=root / "report", release=RELEASE)
    return root, manifest, result


def test_pipeline_steps_run_in_order():
    """Is the order the module docstring describes the order `compare` asserts?"""
    assert PIPELINE == ("normalise", "fingerprint", "exclude", "score")


def test_every_copy_ranks_above_every_independent_pair(course):
    """Do copies with renamed variables, reordered cells, comments and small edits outrank all others?"""
    _, manifest, result = course
    lowest_copy, highest_other = copy_and_independent(manifest, result)
    assert lowest_copy > highest_other, (lowest_copy, highest_other)
    assert lowest_copy >= FLAG_THRESHOLD > highest_other, (lowest_copy, highest_other)


def test_exactly_the_copy_pairs_are_flagged(course):
    _, manifest, result = course
    assert {(p.student_a, p.student_b) for p in result.flagged} == {tuple(p) for p in manifest["copy_pairs"]}


@pytest.mark.parametrize("transform", ["rename", "comments", "whitespace"])
def test_disguises_that_change_no_code_leave_the_copy_identical(tmp_path, transform):
    """Renamed variables, new comments, respacing: does the copy still score exactly 1?"""
    manifest = build(tmp_path / "subs", "--independent", "12", "--copy-groups", "3", "--group-size", "2",
                     "--transforms", transform, "--untouched", "0", "--partial", "0")
    result = run_similarity(tmp_path / "subs", out_dir=tmp_path / "out", release=RELEASE)
    got = scores(result)
    assert [got.get(tuple(p), 0.0) for p in manifest["copy_pairs"]] == [1.0] * 3


@pytest.mark.parametrize("transform", ["reorder", "edit"])
def test_reordered_or_edited_copies_are_flagged(tmp_path, transform):
    """Swapped functions, a moved and a split cell, or two small edits: is every copy still flagged?"""
    manifest = build(tmp_path / "subs", "--independent", "12", "--copy-groups", "3", "--group-size", "2",
                     "--transforms", transform, "--untouched", "0", "--partial", "0")
    result = run_similarity(tmp_path / "subs", out_dir=tmp_path / "out", release=RELEASE)
    assert {(p.student_a, p.student_b) for p in result.flagged} == {tuple(p) for p in manifest["copy_pairs"]}
    assert all(min(p.share_a, p.share_b) < 1.0 for p in result.flagged)  # the copies did change


def test_eight_independent_solution_sets_stay_below_the_threshold(tmp_path):
    """Are the eight hand-written solution sets, as eight students, all below the flagging threshold?"""
    manifest = build(tmp_path / "subs", "--independent", "8", "--copy-groups", "0", "--untouched", "0",
                     "--partial", "0")
    sets = sorted({v for s in manifest["students"].values() for v in set(s["variants"].values())})
    assert sets == [f"set_{i}" for i in range(1, 9)]
    assert all(len(set(s["variants"].values())) == 1 for s in manifest["students"].values())
    result = run_similarity(tmp_path / "subs", out_dir=tmp_path / "out", release=RELEASE)
    assert result.pairs, "independent solutions still share some code (torch calls, the book's layers)"
    assert max(p.score for p in result.pairs) < FLAG_THRESHOLD
    assert result.flagged == []


def test_untouched_releases_flag_nothing(tmp_path, release):
    """Do twelve students who handed in the release (and the release itself) share no fingerprint?"""
    subs = tmp_path / "subs"
    subs.mkdir()
    for i in range(12):
        (subs / f"u{i:02d}.ipynb").write_bytes(RELEASE.read_bytes())
    result = run_similarity(subs, out_dir=tmp_path / "out", release=RELEASE)
    assert len(result.students) == 12
    assert result.pairs == []
    assert all(not p.where for p in result.prints.values())


def test_the_release_in_a_course_matches_nobody(course, release, tmp_path):
    """Is the release, handed in next to real submissions, in no pair at all?"""
    root, manifest, _ = course
    subs = tmp_path / "subs"
    subs.mkdir()
    for sid in list(manifest["students"])[:20]:
        (subs / f"{sid}.ipynb").write_bytes((root / "subs" / "submitted" / sid / "mlp" / "mlp.ipynb").read_bytes())
    (subs / "zz-release.ipynb").write_bytes(RELEASE.read_bytes())
    result = run_similarity(subs, out_dir=tmp_path / "out", release=RELEASE)
    assert result.pairs, "the twenty students share something"
    assert all("zz-release" not in (p.student_a, p.student_b) for p in result.pairs)


def _helper_cell() -> str:
    return (
        "def train_quickly(model, data, epochs=2, lr=0.05):\n"
        "    optimiser = torch.optim.SGD(model.parameters(), lr=lr)\n"
        "    history = []\n"
        "    for epoch in range(epochs):\n"
        "        for X, y in data.train_dataloader():\n"
        "            loss = torch.nn.functional.cross_entropy(model(X), y)\n"
        "            optimiser.zero_grad()\n"
        "            loss.backward()\n"
        "            optimiser.step()\n"
        "        history.append(float(loss))\n"
        "        print(f'epoch {epoch}: loss {history[-1]:.3f}')\n"
        "    return history\n"
    )


def test_cells_a_student_added_are_compared(course, release, tmp_path):
    """Two students with different answers add the same helper cell: is that cell their main match?"""
    root, manifest, result = course
    got = scores(result)
    independent = [s for s, m in manifest["students"].items() if m["kind"] == "independent"]
    a, b = next((x, y) for x in independent for y in independent if x < y and (x, y) not in got)

    def pair(helper: bool, out: Path):
        out.mkdir()
        for sid, at in ((a, 3), (b, -1)):  # the helper at a different place in each notebook
            nb = nbformat.read(root / "subs" / "submitted" / sid / "mlp" / "mlp.ipynb", as_version=4)
            if helper:
                nb.cells.insert(at if at >= 0 else len(nb.cells), nbformat.v4.new_code_cell(_helper_cell()))
            nbformat.write(nb, out / f"{sid}.ipynb")
        return run_similarity(out, out_dir=out / "report", release=RELEASE).pairs

    without, with_helper = pair(False, tmp_path / "without"), pair(True, tmp_path / "with")
    first = with_helper[0].matches[0]
    assert first.cell_a.startswith("added cell") and first.cell_b.startswith("added cell")
    assert with_helper[0].shared == (without[0].shared if without else 0) + first.shared


def test_a_release_cell_pasted_into_a_new_cell_is_not_the_students_code(release, tmp_path):
    nb = nbformat.read(RELEASE, as_version=4)
    grade_cell = next(c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "relu_grad")
    nb.cells.append(nbformat.v4.new_code_cell(grade_cell.source))  # a new id, the release's code
    nb.cells.append(nbformat.v4.new_code_cell("print(relu(torch.arange(-3.0, 4.0)))"))
    nbformat.write(nb, tmp_path / "x.ipynb")
    student = read_student("x", tmp_path / "x.ipynb", release)
    added = [c for c in student.cells if c.key.startswith("added:")]
    assert [c.source for c in added] == ["print(relu(torch.arange(-3.0, 4.0)))"]
    assert {c.key for c in student.cells} - {c.key for c in added} == set(release.answer_ids)


def _student(name: str, *sources: str) -> StudentCode:
    return StudentCode(name, f"{name}.ipynb", tuple(CellCode(f"added:{i}", f"added cell {i}", s)
                                                     for i, s in enumerate(sources)))


def test_code_most_of_the_class_shares_is_not_evidence(release):
    """Twelve students share one helper, two of them also share another: is only the second a match?"""
    common = ("def helper(X):\n    Z = torch.exp(torch.where(X >= 0, -X, X))\n"
              "    return torch.where(X >= 0, 1 / (1 + Z), Z / (1 + Z))\n")
    rare = ("def rare(A, B):\n    total = torch.zeros_like(A)\n    for i in range(A.shape[0]):\n"
            "        total[i] = A[i] * B[i] + torch.sin(A[i])\n    return total.sum(dim=0, keepdim=True)\n")
    others = [_student(f"s{i:02d}", common) for i in range(10)]
    result = compare([_student("x", common, rare), _student("y", rare, common), *others], release, Params())
    pair = next(p for p in result.pairs if (p.student_a, p.student_b) == ("x", "y"))
    assert result.excluded_common > 0
    assert [(m.cell_a, m.cell_b) for m in pair.matches] == [("added cell 1", "added cell 0")]
    assert all(p.shared == 0 for p in result.pairs if "x" not in (p.student_a, p.student_b))


def test_a_copy_padded_with_own_code_keeps_the_copied_share(course, release):
    """A copy with as much code again of its own: lower score, but is all of the original still found?"""
    root, manifest, _ = course
    group = manifest["copy_groups"][0]
    author, copier = group["author"], next(m for m in group["members"] if m != group["author"])
    a, b = (read_student(s, root / "subs" / "submitted" / s / "mlp" / "mlp.ipynb", release) for s in (author, copier))
    padding = tuple(CellCode(f"added:pad{i}", f"added cell pad{i}", _helper_cell().replace("train_quickly", f"t{i}")
                             .replace("0.05", str(i + 2))) for i in range(3))
    padded = StudentCode(b.student, b.path, b.cells + padding)
    plain = compare([a, b], release).pairs[0]
    more = compare([a, padded], release).pairs[0]
    assert more.score < plain.score
    share = more.share_a if more.student_a == author else more.share_b
    assert share >= 0.9, share


def test_a_few_matching_lines_cannot_score_high(release):
    """Two students who each wrote only one identical line: is the score far below the threshold?"""
    one = "def f(X):\n    return torch.clamp(X * 3.5, min=0.25) + X.sum()\n"
    result = compare([_student("a", one), _student("b", one)], release, Params())
    assert len(result.pairs) == 1 and result.pairs[0].share_a == 1.0
    assert result.pairs[0].score < FLAG_THRESHOLD / 2


def texts(source: str, release) -> list[str]:
    return [t.text for t in normalise(source, release)]


def test_renamed_variables_normalise_alike(release):
    a = "def relu(X):\n    mask = (X > 0).float()\n    return mask * X\n"
    b = "def relu(inp):\n    keep = (inp > 0).float()\n    return keep * inp\n"
    assert texts(a, release) == texts(b, release)
    assert "V" in texts(a, release) and "float" in texts(a, release)


def test_comments_docstrings_and_spacing_normalise_away(release):
    a = "def g(X):\n    Y = X@X  # square\n    return Y\n"
    b = 'def g(X):\n    """Square it."""\n    # the square\n\n    Y = X @ X\n\n    return Y   \n'
    assert texts(a, release) == texts(b, release)


def test_torch_calls_and_keyword_arguments_are_kept(release):
    """Do two programs that differ only in the torch function they call stay different?"""
    assert texts("y = torch.clamp(x, min=0)\n", release) == ["V", "=", "torch", ".", "clamp", "(", "V", ",",
                                                             "min", "=", "0", ")", ";"]
    assert texts("y = torch.where(x, min=0)\n", release) != texts("y = torch.clamp(x, min=0)\n", release)


def test_numbers_are_compared_by_value(release):
    assert texts("y = x * 1e-2\n", release) == texts("y = x * 0.01\n", release)


def test_lines_of_the_release_are_dropped_even_when_renamed(release):
    """Is the stub's `def relu(X):` gone also after the student renamed X?"""
    assert texts("def relu(inp):\n    return inp * (inp > 0)\n", release)[:2] == ["return", "V"]


def test_unparsable_code_is_still_tokenised():
    toks = [t.text for t in normalised_tokens("def f(x:\n    return torch.where(x > 0, x, 0\n", frozenset({"torch"}))]
    assert "torch" in toks and "where" in toks


def test_winnowing_picks_one_hash_in_every_window():
    hashes = [7, 3, 9, 3, 8, 1, 6, 5, 4, 2, 9, 9, 0]
    chosen = winnow(hashes, 4)
    assert all(any(s <= c < s + 4 for c in chosen) for s in range(len(hashes) - 3))
    assert chosen == sorted(set(chosen))
    assert winnow(hashes[:2], 4) == [1]


def test_similarity_csv_lists_pairs_by_score(course):
    root, _, result = course
    lines = (root / "report" / "similarity.csv").read_text(encoding="utf-8").splitlines()
    assert tuple(lines[0].split(",")) == SIMILARITY_HEADER
    rows = [line.split(",") for line in lines[1:]]
    assert len(rows) == len(result.pairs)
    listed = [float(r[3]) for r in rows]
    assert listed == sorted(listed, reverse=True)
    assert all((r[7] == "yes") == (float(r[3]) >= FLAG_THRESHOLD) for r in rows)


def test_every_flagged_pair_has_a_page_that_says_it_is_no_verdict(course):
    root, _, result = course
    pages = sorted(p.name for p in (root / "report" / "pairs").glob("*.html"))
    assert pages == sorted(pair_filename(p) for p in result.flagged)
    for page in [root / "report" / "index.html", *(root / "report" / "pairs").glob("*.html")]:
        text = page.read_text(encoding="utf-8")
        assert DISCLAIMER.replace("'", "&#x27;") in text
        assert "<script" not in text and "http" not in text  # self-contained, nothing fetched


def test_student_code_on_a_page_is_escaped_and_marked(release, tmp_path):
    code = ("def relu(X):\n    tag = '<script>alert(1)</script>'\n    out = X.clone()\n    out[X <= 0] = 0\n"
            "    print(tag, out.shape, out.sum(dim=0), out.mean(), out.std(), out.max(), out.min())\n    return out\n")
    nb = nbformat.read(RELEASE, as_version=4)
    cell = next(c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "relu_code")
    cell.source = code
    subs = tmp_path / "subs"
    subs.mkdir()
    nbformat.write(nb, subs / "a.ipynb")
    nbformat.write(copy.deepcopy(nb), subs / "b.ipynb")
    result = run_similarity(subs, out_dir=tmp_path / "out", release=RELEASE, params=Params(min_prints=1))
    page = (tmp_path / "out" / "pairs" / "a--b.html").read_text(encoding="utf-8")
    assert [p.score for p in result.flagged] == [1.0]
    assert "&lt;script&gt;" in page and "<script>" not in page
    assert page.count("<mark>") >= 2  # the match is marked on both sides


def test_the_report_changes_no_grade(tmp_path):
    """Does a similarity report written into grade-all's output folder leave grades.csv as it was?"""
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "a.ipynb").write_bytes(RELEASE.read_bytes())
    grades = tmp_path / "grades" / "grades.csv"
    grades.parent.mkdir()
    grades.write_text("student,total\na,50\n", encoding="utf-8")
    before = hashlib.sha256(grades.read_bytes()).hexdigest()
    run_similarity(subs, out_dir=tmp_path / "grades", release=RELEASE)
    assert hashlib.sha256(grades.read_bytes()).hexdigest() == before


def test_unreadable_notebooks_are_listed_not_dropped(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "good.ipynb").write_bytes(RELEASE.read_bytes())
    (subs / "bad.ipynb").write_text("{ not json", encoding="utf-8")
    result = run_similarity(subs, out_dir=tmp_path / "out", release=RELEASE)
    assert result.skipped == [("bad", "unreadable notebook: NotJSONError")]
    assert "not compared: bad" in result.summary()


def test_similarity_command_prints_the_top_pairs(course, tmp_path):
    from click.testing import CliRunner

    from autograder.cli import main

    root, _, result = course
    res = CliRunner().invoke(main, ["similarity", str(root / "subs"), "--out", str(tmp_path / "r"),
                                    "--release", str(RELEASE), "--top", "3"])
    assert res.exit_code == 0, res.output
    top = result.pairs[0]
    assert f"{top.student_a} ~ {top.student_b}" in res.output
    assert "not a verdict" in res.output and (tmp_path / "r" / "index.html").is_file()


def test_similarity_command_explains_a_missing_release(course, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from autograder.cli import main

    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(main, ["similarity", str(course[0] / "subs"), "--out", str(tmp_path / "r")])
    assert res.exit_code == 1 and "no released notebook" in res.output and "--release" in res.output


def test_grade_all_similarity_option_writes_the_report(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from autograder.cli import main

    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "a.ipynb").write_text("not a notebook", encoding="utf-8")  # graded in a second: ungraded
    monkeypatch.chdir(ROOT)  # the release is found at release/mlp/mlp.ipynb
    res = CliRunner().invoke(main, ["grade-all", str(subs), "--out", str(tmp_path / "out"), "--no-progress",
                                                 "--similarity"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "out" / "grades.csv").is_file() and (tmp_path / "out" / "similarity" / "index.html").is_file()
    assert "not compared: a" in res.output
