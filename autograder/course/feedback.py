"""Feedback pages for a student: points, messages, and the pictures that say more than a message.

    write_feedback(report, OUT_DIR, student="alice")
    # -> OUT_DIR/index.html (self-contained: PNGs embedded as base64),
    #    OUT_DIR/feedback.md with OUT_DIR/training.png and OUT_DIR/activations.png beside it

What a page shows, all taken from the student's report:

* points per question with the grader's message (messages are written for students and never hold
  hidden test code or hidden expected values);
* the training loss per epoch of their `MLPScratch` and `MLP` in the grader's training run, against
  the reference solution's curve under the same run (`reference_curves.json`, made by
  `scripts/make_reference_curves.py` from a real grading of the solution notebook);
* their relu, sigmoid and tanh and the gradients autograd computed through them, against the
  lecture's formulas (max(0, x) with gradient 0 at 0, 1 / (1 + exp(-x)), tanh), with the points
  where they differ marked and the places where theirs is not finite listed.

Figures are drawn with `matplotlib.figure.Figure` on the Agg canvas (no pyplot state, no display),
so pages can be written from any thread of a batch.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mlp_lab.checks import GRAD_ATOL, VALUE_ATOL, VALUE_RTOL, reference_sigmoid
from mlp_lab.questions import question

from ..files import write_json_atomic
from ..report import Report

__all__ = [
    "MODELS",
    "REFERENCE_CURVES_FILE",
    "Feedback",
    "FeedbackFiles",
    "Figure",
    "correct_activations",
    "load_reference_curves",
    "reference_curves_from_report",
    "render_feedback",
    "write_feedback",
    "write_feedback_pages",
    "write_reference_curves",
]

REFERENCE_CURVES_FILE = Path(__file__).with_name("reference_curves.json")
MODELS: tuple[str, ...] = ("MLPScratch", "MLP")
# The activation panels: (function key, gradient key, name, formula in the lecture's words).
ACTIVATIONS: tuple[tuple[str, str, str, str], ...] = (
    ("relu", "relu_grad", "relu", "ReLU(x) = max(0, x); gradient 1 for x > 0, 0 for x <= 0"),
    ("sigmoid", "sigmoid_grad", "sigmoid", "sigmoid(x) = 1 / (1 + exp(-x)); gradient sigmoid(x) (1 - sigmoid(x))"),
    ("tanh", "tanh_grad", "tanh", "tanh(x) = (1 - exp(-2x)) / (1 + exp(-2x)); gradient 1 - tanh(x)^2"),
)
# Show the activations on this window when the grid has enough points in it (the grader's grid may
# reach |x| = 100 to test overflow, where every curve is flat and nothing can be seen).
PLOT_WINDOW = 8.0
MIN_POINTS_IN_WINDOW = 20
STATUS_MARK = {"passed": "✅", "failed": "❌", "error": "⚠️", "timeout": "⏱️", "review": "🔎"}


@dataclass(frozen=True)
class Figure:
    """A picture of the page: its file name, alt text, a caption and the PNG bytes."""

    name: str
    alt: str
    caption: str
    png: bytes


@dataclass(frozen=True)
class Feedback:
    """A rendered page, before it is written: the same content as HTML and as Markdown."""

    html: str
    markdown: str
    figures: tuple[Figure, ...]


@dataclass(frozen=True)
class FeedbackFiles:
    html: Path
    markdown: Path
    images: tuple[Path, ...]


# --- the correct curves and the reference training curve ---------------------------------------


def correct_activations(x: np.ndarray) -> dict[str, np.ndarray]:
    """The lecture's activation functions and their gradients on `x` (ReLU's gradient is 0 at 0)."""
    s = reference_sigmoid(x)
    t = np.tanh(x)
    return {"relu": np.maximum(x, 0.0), "relu_grad": (x > 0).astype(float),
            "sigmoid": s, "sigmoid_grad": s * (1 - s), "tanh": t, "tanh_grad": 1 - t**2}


def reference_curves_from_report(report: Report) -> dict[str, list[float]]:
    """The per-epoch training losses of a report (grade the solution to get the reference's)."""
    curves = report.artifacts.get("curves") or {}
    out = {}
    for model in MODELS:
        loss = (curves.get(model) or {}).get("train_loss")
        if loss:
            out[model] = [float(v) for v in loss]
    return out


def write_reference_curves(report: Report, path: str | os.PathLike[str] = REFERENCE_CURVES_FILE) -> None:
    """Store the reference training curves taken from the report of grading the solution notebook."""
    curves = reference_curves_from_report(report)
    if not curves:
        raise ValueError(f"report of {report.submission} holds no training curves (artifacts['curves'])")
    write_json_atomic(path, {"source": report.submission, "device": report.device,
                             "train_loss": curves})


def load_reference_curves(source: str | os.PathLike[str] | Report | Mapping[str, Any] | None = None,
                          ) -> dict[str, list[float]]:
    """Reference curves from a file (default `REFERENCE_CURVES_FILE`), a Report or a mapping; {} if none."""
    if isinstance(source, Report):
        return reference_curves_from_report(source)
    if isinstance(source, Mapping):
        data: Any = source
    else:
        path = Path(source) if source is not None else REFERENCE_CURVES_FILE
        if not path.is_file():
            return {}
        data = json.loads(path.read_text(encoding="utf-8"))
    curves = data.get("train_loss", data)
    return {m: [float(v) for v in curves[m]] for m in MODELS if curves.get(m)}


# --- figures ----------------------------------------------------------------------------------


def _array(values: Any) -> np.ndarray | None:
    """A float array from JSON values (None -> nan); None when the values are unusable."""
    if values is None:
        return None
    try:
        arr = np.asarray([np.nan if v is None else v for v in values], dtype=float)
    except (TypeError, ValueError):
        return None
    return arr if arr.ndim == 1 and arr.size else None


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    return buf.getvalue()


def _training_figure(curves: Mapping[str, Any], reference: Mapping[str, Sequence[float]]) -> Figure | None:
    from matplotlib.figure import Figure as MplFigure
    from matplotlib.ticker import MaxNLocator

    models = [m for m in MODELS if _array((curves.get(m) or {}).get("train_loss")) is not None]
    if not models:
        return None
    fig = MplFigure(figsize=(5.0 * len(models), 3.6), layout="constrained")
    axes = fig.subplots(1, len(models), squeeze=False)[0]
    for ax, model in zip(axes, models, strict=True):
        theirs = _array(curves[model]["train_loss"])
        assert theirs is not None
        ax.plot(np.arange(1, theirs.size + 1), theirs, "o-", color="tab:blue", label="your model")
        ref = _array(reference.get(model))
        if ref is not None:
            ax.plot(np.arange(1, ref.size + 1), ref, "s--", color="tab:gray", label="reference solution")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(f"{model}: training loss per epoch")
        ax.set_xlabel("epoch")
        ax.set_ylabel("cross-entropy loss")
        ax.grid(alpha=0.3)
        ax.legend()
    caption = ("Training loss per epoch in the grader's training run (same seed, data and budget for everyone)"
               + (", against the reference solution's." if reference else "."))
    return Figure("training.png", "training loss per epoch, yours against the reference", caption, _png(fig))


def _activation_figure(acts: Mapping[str, Any]) -> tuple[Figure | None, list[str]]:
    """The activations figure and, for the page, a note per curve that is not finite somewhere."""
    from matplotlib.figure import Figure as MplFigure

    x = _array(acts.get("x"))
    if x is None:
        return None, []
    rows = [a for a in ACTIVATIONS if _array(acts.get(a[0])) is not None or _array(acts.get(a[1])) is not None]
    if not rows:
        return None, []
    order = np.argsort(x)
    x = x[order]
    window = np.abs(x) <= PLOT_WINDOW
    view = window if window.sum() >= MIN_POINTS_IN_WINDOW else np.ones_like(x, dtype=bool)
    want = correct_activations(x)
    notes: list[str] = []
    fig = MplFigure(figsize=(10.0, 3.0 * len(rows)), layout="constrained")
    axes = fig.subplots(len(rows), 2, squeeze=False)
    for (fkey, gkey, name, formula), pair in zip(rows, axes, strict=True):
        f_title, g_title = (part.strip() for part in formula.split(";"))
        for key, ax, what, title in ((fkey, pair[0], name, f_title),
                                     (gkey, pair[1], f"gradient of {name}", f"d/dx {name}: {g_title.removeprefix('gradient ')}")):
            ax.plot(x[view], want[key][view], color="tab:gray", lw=3, alpha=0.5, label="lecture's formula")
            theirs = _array(acts.get(key))
            if theirs is None or theirs.size != x.size:
                ax.set_title(f"{what}: no values from your code")
                ax.grid(alpha=0.3)
                continue
            theirs = theirs[order]
            finite = np.isfinite(theirs)
            if not finite.all():
                bad_x = x[~finite]
                notes.append(f"Your {what} is not finite (inf or nan) at {int((~finite).sum())} of {x.size} "
                             f"points, e.g. x = {', '.join(f'{v:g}' for v in bad_x[:3])}.")
            ax.plot(x[view & finite], theirs[view & finite], ".", color="tab:blue", ms=3, label="yours")
            atol = GRAD_ATOL if key.endswith("_grad") else VALUE_ATOL
            wrong = view & finite & ~np.isclose(theirs, want[key], rtol=VALUE_RTOL, atol=atol)
            if wrong.any():
                ax.plot(x[wrong], theirs[wrong], "x", color="tab:red", ms=6, label="yours, differs")
            ax.set_title(title, fontsize="medium")
            ax.set_xlabel("x")
            ax.grid(alpha=0.3)
            ax.legend(fontsize="small")
        pair[0].set_ylabel(name)
    span = f"|x| <= {PLOT_WINDOW:g}" if view is window else "the grader's grid"
    caption = (f"Your activation functions and the gradients autograd computed through them ({span}), "
               "against the lecture's formulas. Red crosses mark where yours differ.")
    return Figure("activations.png", "your activation functions and gradients against the lecture's",
                  caption, _png(fig)), notes


# --- the page ---------------------------------------------------------------------------------


def _accuracy_lines(report: Report) -> list[str]:
    acc = report.artifacts.get("accuracy") or {}
    return [f"Test accuracy of your {m} after the grader's training run: {float(acc[m]):.3f}."
            for m in MODELS if isinstance(acc.get(m), int | float)]


def _md_cell(text: str) -> str:
    """Text safe inside a Markdown table cell: one line, HTML escaped, pipes escaped."""
    return html.escape(" ".join(text.split()), quote=False).replace("|", "\\|")


def render_feedback(report: Report, *, student: str | None = None,
                    reference_curves: Mapping[str, Sequence[float]] | None = None) -> Feedback:
    """Build the page (HTML and Markdown) and its figures for one report; writes nothing."""
    who = student or Path(report.submission).stem
    reference = dict(reference_curves) if reference_curves is not None else load_reference_curves()
    figures: list[Figure] = []
    training = _training_figure(report.artifacts.get("curves") or {}, reference)
    if training is not None:
        figures.append(training)
    activation, notes = _activation_figure(report.artifacts.get("activations") or {})
    if activation is not None:
        figures.append(activation)
    accuracy = _accuracy_lines(report)
    title = f"MLP lab: feedback for {who}"
    total = f"{report.score:g} / {report.max_score:g} points"

    md = [f"# {title}", "", f"**Total: {total}**", "",
          "| question | points | status | message |", "|---|---|---|---|"]
    for q in report.questions:
        msg = _md_cell(q.message)
        md.append(f"| {q.id}: {_md_cell(question(q.id).title)} | {q.score:g} / {q.max_score:g} | "
                  f"{STATUS_MARK[q.status]} {q.status} | {msg} |")
    md.append("")
    md += [f"- {html.escape(line, quote=False)}" for line in accuracy + notes]
    if accuracy or notes:
        md.append("")
    for fig in figures:
        md += [f"![{fig.alt}]({fig.name})", "", f"*{fig.caption}*", ""]
    if not figures:
        md += ["*No pictures: the grader got no training curve or activation values from your notebook "
               "(see the messages above).*", ""]

    e = html.escape
    rows = "\n".join(
        f"<tr class='{q.status}'><td><b>{e(q.id)}</b><br><small>{e(question(q.id).title)}</small></td>"
        f"<td>{q.score:g} / {q.max_score:g}</td><td>{STATUS_MARK[q.status]} {e(q.status)}</td>"
        f"<td>{e(q.message)}</td></tr>" for q in report.questions)
    items = "".join(f"<li>{e(line)}</li>" for line in accuracy + notes)
    pics = "\n".join(
        f"<figure><img alt='{e(f.alt)}' src='data:image/png;base64,{base64.b64encode(f.png).decode()}'>"
        f"<figcaption>{e(f.caption)}</figcaption></figure>" for f in figures)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 70em; margin: 2em auto; padding: 0 1em; }}
table {{ border-collapse: collapse; width: 100%; }}
td, th {{ border: 1px solid #ccc; padding: .4em .6em; vertical-align: top; text-align: left; }}
tr.passed td:nth-child(2) {{ color: #176317; }} tr.failed td:nth-child(2) {{ color: #a31515; }}
tr.error td:nth-child(2), tr.timeout td:nth-child(2) {{ color: #8a5a00; }}
td:last-child {{ white-space: pre-wrap; }}
img {{ max-width: 100%; }} figcaption {{ color: #555; font-style: italic; }}
</style></head>
<body>
<h1>{e(title)}</h1>
<p><b>Total: {e(total)}</b></p>
<table><tr><th>question</th><th>points</th><th>status</th><th>message</th></tr>
{rows}
</table>
{f"<ul>{items}</ul>" if items else ""}
{pics or "<p><i>No pictures: the grader got no training curve or activation values from your notebook (see the messages above).</i></p>"}
</body></html>
"""
    return Feedback(html=page, markdown="\n".join(md), figures=tuple(figures))


def write_feedback(report: Report, out_dir: str | os.PathLike[str], *, student: str | None = None,
                   reference_curves: Mapping[str, Sequence[float]] | None = None) -> FeedbackFiles:
    """Write `index.html`, `feedback.md` and the PNGs the Markdown links to into `out_dir`."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fb = render_feedback(report, student=student, reference_curves=reference_curves)
    images = []
    for fig in fb.figures:
        (out / fig.name).write_bytes(fig.png)
        images.append(out / fig.name)
    for stale in ("training.png", "activations.png"):  # a regrade that lost a picture must not keep it
        if stale not in {f.name for f in fb.figures}:
            (out / stale).unlink(missing_ok=True)
    (out / "index.html").write_text(fb.html, encoding="utf-8")
    (out / "feedback.md").write_text(fb.markdown, encoding="utf-8")
    return FeedbackFiles(html=out / "index.html", markdown=out / "feedback.md", images=tuple(images))


def write_feedback_pages(reports: Sequence[Path], out: Path, reference: Path | None = None) -> list[Path]:
    """Feedback pages for report files (or folders of them, e.g. OUT/reports) into OUT/<student>/.

    `reference` is a reference-curves JSON or the solution's report (default: the packaged curves).
    Raises ValueError naming a file that is not a grader report.
    """
    files = [p for r in reports for p in (sorted(r.glob("*.json")) if r.is_dir() else [r])]
    if reference is not None:
        data = json.loads(reference.read_text(encoding="utf-8"))
        curves = load_reference_curves(Report.from_dict(data) if "questions" in data else data)
    else:
        curves = load_reference_curves()
    written = []
    for file in files:
        try:
            report = Report.load(file)
        except Exception as err:
            raise ValueError(f"{file} is not a grader report: {type(err).__name__}: {err}") from err
        student = str((report.artifacts.get("batch") or {}).get("student") or file.stem)
        written.append(write_feedback(report, out / student, student=student, reference_curves=curves).html)
    return written
