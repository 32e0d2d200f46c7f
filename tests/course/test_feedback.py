"""Feedback pages: points, messages and pictures, self-contained HTML and Markdown with PNGs beside it."""

from __future__ import annotations

import base64
import re

import numpy as np
import pytest

from autograder.course.feedback import (
    correct_activations,
    load_reference_curves,
    render_feedback,
    write_feedback,
    write_reference_curves,
)
from autograder.report import QuestionResult, Report
from mlp_lab.questions import QUESTIONS

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
REFERENCE = {"MLPScratch": [1.05, 0.62, 0.53, 0.48], "MLP": [0.98, 0.58, 0.50, 0.46]}


def make_report(*, artifacts: dict | None = None, message: str = "ok") -> Report:
    questions = [QuestionResult(q.id, 0.0 if i == 1 else float(q.points), float(q.points),
                                "failed" if i == 1 else "passed", f"{message} ({q.id})")
                 for i, q in enumerate(QUESTIONS)]
    return Report("alice.ipynb", "cpu", 12.5, questions, artifacts=artifacts or {})


def full_artifacts(relu_grad_at_zero: float = 0.0) -> dict:
    x = np.linspace(-8.0, 8.0, 161)
    want = correct_activations(x)
    acts = {"x": x.tolist(), **{k: v.tolist() for k, v in want.items()}}
    acts["relu_grad"] = np.where(x == 0, relu_grad_at_zero, want["relu_grad"]).tolist()
    return {"curves": {"MLPScratch": {"train_loss": [1.0, 0.6, 0.5, 0.45]},
                       "MLP": {"train_loss": [0.9, 0.55, 0.49, 0.44]}},
            "activations": acts, "accuracy": {"MLPScratch": 0.8412, "MLP": 0.8523}}


def test_relu_grad_is_zero_at_zero_in_the_correct_curves():
    """Is the plotted 'correct' ReLU gradient the lecture's (0 at exactly 0), not d2l's 0.5?"""
    got = correct_activations(np.array([-1.0, 0.0, 2.0]))
    assert got["relu_grad"].tolist() == [0.0, 0.0, 1.0]
    assert got["relu"].tolist() == [0.0, 0.0, 2.0]


def test_correct_sigmoid_is_finite_at_large_inputs():
    got = correct_activations(np.array([-100.0, 0.0, 100.0]))
    assert np.isfinite(got["sigmoid"]).all() and np.isfinite(got["sigmoid_grad"]).all()
    assert got["sigmoid"][1] == pytest.approx(0.5)


def test_page_lists_every_question_with_points_and_message():
    fb = render_feedback(make_report(artifacts=full_artifacts()), student="alice", reference_curves=REFERENCE)
    for q in QUESTIONS:
        assert f"ok ({q.id})" in fb.markdown and f"ok ({q.id})" in fb.html
    failed = QUESTIONS[1]
    assert f"| 0 / {failed.points:g} |" in fb.markdown
    assert f"Total: {100 - failed.points:g} / 100 points" in fb.markdown


def test_page_states_the_students_accuracy():
    fb = render_feedback(make_report(artifacts=full_artifacts()), reference_curves=REFERENCE)
    assert "Test accuracy of your MLPScratch after the grader's training run: 0.841." in fb.markdown
    assert "0.852" in fb.html


def test_html_is_self_contained_with_embedded_pngs():
    """Does the HTML page carry its pictures inline, so it can be mailed as one file?"""
    fb = render_feedback(make_report(artifacts=full_artifacts()), reference_curves=REFERENCE)
    sources = re.findall(r"src='([^']*)'", fb.html)
    assert len(sources) == 2
    for src in sources:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]).startswith(PNG_MAGIC)
    assert "href=" not in fb.html and "<script" not in fb.html


def test_markdown_links_pngs_written_beside_it(tmp_path):
    files = write_feedback(make_report(artifacts=full_artifacts()), tmp_path / "alice",
                           reference_curves=REFERENCE)
    assert [p.name for p in files.images] == ["training.png", "activations.png"]
    md = files.markdown.read_text(encoding="utf-8")
    for image in files.images:
        assert f"]({image.name})" in md
        assert image.read_bytes().startswith(PNG_MAGIC)
    assert files.html.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_messages_are_escaped_in_html_and_markdown():
    """Can a message (which may quote student code) inject markup into the page?"""
    fb = render_feedback(make_report(message="<script>alert(1)</script> a | b"), reference_curves=REFERENCE)
    assert "<script>alert" not in fb.html and "&lt;script&gt;" in fb.html
    assert "<script>alert" not in fb.markdown
    assert "a \\| b" in fb.markdown  # a pipe would split the Markdown table cell


def test_no_pictures_when_the_grader_got_no_values(tmp_path):
    """A notebook that never ran gets the table and a note, and no stale pictures from an earlier run."""
    out = tmp_path / "bob"
    write_feedback(make_report(artifacts=full_artifacts()), out, reference_curves=REFERENCE)
    files = write_feedback(make_report(), out, reference_curves=REFERENCE)
    assert files.images == ()
    assert not (out / "training.png").exists() and not (out / "activations.png").exists()
    assert "No pictures" in files.markdown.read_text(encoding="utf-8")


def test_partial_activations_still_draw_what_exists():
    arts = full_artifacts()
    for key in ("sigmoid", "sigmoid_grad", "tanh", "tanh_grad"):
        del arts["activations"][key]
    del arts["curves"]
    fb = render_feedback(make_report(artifacts=arts), reference_curves=REFERENCE)
    assert [f.name for f in fb.figures] == ["activations.png"]


def test_non_finite_student_values_are_named_on_the_page():
    arts = full_artifacts()
    x = arts["activations"]["x"]
    arts["activations"]["sigmoid_grad"] = [None if v < -7.5 else 0.1 for v in x]  # JSON null = nan
    fb = render_feedback(make_report(artifacts=arts), reference_curves=REFERENCE)
    assert "Your gradient of sigmoid is not finite (inf or nan) at 5 of 161 points, e.g. x = -8" in fb.markdown
    assert "relu is not finite" not in fb.markdown


def test_page_shows_no_artifact_it_does_not_draw():
    """Does the page stay clear of anything else the grader may keep in artifacts (hashes, raw data)?"""
    arts = full_artifacts()
    arts["batch"] = {"sha256": "deadbeefcafe", "source": "/secret/path/alice.ipynb"}
    arts["grader_internal"] = {"expected": "HIDDEN-EXPECTED-VALUE"}
    fb = render_feedback(make_report(artifacts=arts), reference_curves=REFERENCE)
    for text in (fb.html, fb.markdown):
        assert "deadbeefcafe" not in text and "HIDDEN-EXPECTED-VALUE" not in text and "/secret/" not in text


def test_reference_curves_round_trip_through_a_file(tmp_path):
    path = tmp_path / "reference_curves.json"
    write_reference_curves(make_report(artifacts=full_artifacts()), path)
    assert load_reference_curves(path) == {"MLPScratch": [1.0, 0.6, 0.5, 0.45], "MLP": [0.9, 0.55, 0.49, 0.44]}
    assert load_reference_curves(tmp_path / "absent.json") == {}


def test_reference_curves_need_curves():
    with pytest.raises(ValueError, match="no training curves"):
        write_reference_curves(make_report(), "unused.json")


def test_training_figure_is_drawn_without_a_reference():
    fb = render_feedback(make_report(artifacts=full_artifacts()), reference_curves={})
    assert fb.figures[0].name == "training.png"
    assert "against the reference" not in fb.figures[0].caption


def test_packaged_reference_curves_hold_both_models():
    """Is the stored reference (scripts/make_reference_curves.py) there and shaped like a report's curves?"""
    curves = load_reference_curves()
    assert set(curves) == {"MLPScratch", "MLP"}
    for loss in curves.values():
        assert len(loss) >= 2 and loss[-1] < loss[0]  # a training curve goes down
