"""The similarity report as HTML: `index.html` (the ranked pairs) and `pairs/<a>--<b>.html` per flagged pair.

Every page is one self-contained file (inline CSS, no scripts, nothing fetched), every student's text
is escaped, and every page says that the report is for the instructor's judgment and changes no grade.
A pair's page shows the matching cells of the two students side by side, with the code that matches
(the tokens of shared fingerprints, in the student's own spelling) marked.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..files import write_text_atomic

if TYPE_CHECKING:  # types only: similarity imports this module to write its pages
    from .similarity import Pair, Prints, SimilarityResult, StudentCode

__all__ = ["CONTEXT_ROWS", "DISCLAIMER", "marked_spans", "pair_filename", "render_index", "render_pair",
           "write_html_report"]

DISCLAIMER = ("This report is for the instructor's judgment, not a verdict. Matching code can have innocent "
              "causes (the book's code, a tutorial both students followed, collaboration the course allows) "
              "and a copy can be disguised well enough to score low. It changes no grade: grades.csv is "
              "neither read nor written.")
CONTEXT_ROWS = 20  # pairs below the threshold listed on the index, so the instructor sees where the line is
_CSS = """body{font-family:system-ui,sans-serif;margin:1.5em;max-width:1400px}
.note{background:#fff4ce;border:1px solid #e0c060;padding:.6em 1em;border-radius:4px}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}
tr.flag td{background:#fde8e8}.side{width:50%}pre{margin:0;white-space:pre-wrap;font-size:.85em}
mark{background:#ffd54f}h3{margin:.2em 0}.muted{color:#666}"""


def pair_filename(pair: Pair) -> str:
    """`pairs/<a>--<b>.html`, with anything but letters, digits, '.', '_' and '-' replaced by '_'."""
    def safe(s: str) -> str:
        return re.sub(r"[^A-Za-z0-9._-]", "_", s)

    return f"{safe(pair.student_a)}--{safe(pair.student_b)}.html"


def _page(title: str, body: str) -> str:
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{_CSS}</style></head><body>\n<h1>{html.escape(title)}</h1>\n"
            f"<p class=\"note\"><strong>{html.escape(DISCLAIMER)}</strong></p>\n{body}\n</body></html>\n")


def marked_spans(prints: Prints, cell: int, source: str, shared: Iterable[int], k: int) -> list[tuple[int, int]]:
    """Character ranges of `source` (cell number `cell` of `prints`) covered by the shared fingerprints."""
    starts = [0]
    for line in source.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    tokens = prints.tokens[cell]

    def offset(row: int, col: int) -> int:
        return min(starts[min(row - 1, len(starts) - 1)] + col, len(source))

    spans = sorted((offset(*tokens[pos].start), offset(*tokens[min(pos + k, len(tokens)) - 1].end))
                   for h in shared for ci, pos in prints.where.get(h, ()) if ci == cell)
    merged: list[tuple[int, int]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return merged


def _marked(source: str, spans: Sequence[tuple[int, int]]) -> str:
    out, last = [], 0
    for a, b in spans:
        out += [html.escape(source[last:a]), "<mark>", html.escape(source[a:b]), "</mark>"]
        last = b
    return "".join([*out, html.escape(source[last:])])


def render_pair(pair: Pair, a: StudentCode, b: StudentCode, pa: Prints, pb: Prints, shared: frozenset[int],
                k: int) -> str:
    """The page of one pair: each matching pair of cells side by side, the `shared` fingerprints marked."""
    labels_a = {c.label: i for i, c in enumerate(a.cells)}
    labels_b = {c.label: i for i, c in enumerate(b.cells)}
    rows = []
    for m in pair.matches:
        ia, ib = labels_a[m.cell_a], labels_b[m.cell_b]
        left = _marked(a.cells[ia].source, marked_spans(pa, ia, a.cells[ia].source, shared, k))
        right = _marked(b.cells[ib].source, marked_spans(pb, ib, b.cells[ib].source, shared, k))
        rows.append(f"<tr><td class=\"side\"><h3>{html.escape(m.cell_a)}</h3><pre>{left}</pre></td>"
                    f"<td class=\"side\"><h3>{html.escape(m.cell_b)}</h3><pre>{right}</pre></td></tr>"
                    f"<tr><td colspan=\"2\" class=\"muted\">{m.shared} shared fingerprint(s)</td></tr>")
    unmatched_a = sorted(set(labels_a) - {m.cell_a for m in pair.matches})
    unmatched_b = sorted(set(labels_b) - {m.cell_b for m in pair.matches})
    body = (f"<p>score {pair.score:.2f}: {pair.shared} shared fingerprints; {pair.share_a:.0%} of "
            f"{html.escape(pair.student_a)}'s and {pair.share_b:.0%} of {html.escape(pair.student_b)}'s "
            f"(after leaving out the release's code and code most of the class shares). Marked: code "
            f"whose normalised tokens match (names the students chose, comments and spacing are ignored "
            f"when matching, so marked code may read differently).</p>\n"
            f"<table><tr><th>{html.escape(pair.student_a)} <span class=\"muted\">{html.escape(a.path)}</span></th>"
            f"<th>{html.escape(pair.student_b)} <span class=\"muted\">{html.escape(b.path)}</span></th></tr>\n"
            + "\n".join(rows) + "</table>\n"
            f"<p class=\"muted\">Cells without a match: {html.escape(pair.student_a)}: "
            f"{html.escape(', '.join(unmatched_a) or 'none')}; {html.escape(pair.student_b)}: "
            f"{html.escape(', '.join(unmatched_b) or 'none')}.</p><p><a href=\"../index.html\">All pairs</a></p>")
    return _page(f"{pair.student_a} and {pair.student_b}: similarity {pair.score:.2f}", body)


def render_index(result: SimilarityResult) -> str:
    """The ranked pairs: every flagged one (linked to its page) and the next CONTEXT_ROWS below the line."""
    p = result.params
    flagged = result.flagged
    shown = flagged + [x for x in result.pairs if not x.flagged][:CONTEXT_ROWS]
    rows = []
    for rank, pair in enumerate(shown, start=1):
        who = f"{html.escape(pair.student_a)} ~ {html.escape(pair.student_b)}"
        link = f"<a href=\"pairs/{html.escape(pair_filename(pair))}\">{who}</a>" if pair.flagged else who
        cells = html.escape("; ".join(str(m) for m in pair.matches[:4]))
        rows.append(f"<tr class=\"{'flag' if pair.flagged else ''}\"><td>{rank}</td><td>{link}</td>"
                    f"<td>{pair.score:.2f}</td><td>{pair.share_a:.0%} / {pair.share_b:.0%}</td><td>{cells}</td></tr>")
    skipped = "".join(f"<li>{html.escape(s)}: {html.escape(why)}</li>" for s, why in result.skipped)
    body = (f"<p>{len(result.students)} submissions; {len(flagged)} pair(s) at or above the threshold "
            f"{p.threshold:.2f} (listed first, each with a page), then the {CONTEXT_ROWS} highest below it. "
            f"All pairs that share anything are in similarity.csv.</p>\n"
            f"<table><tr><th>#</th><th>pair</th><th>score</th><th>share of each</th><th>matched cells "
            f"(shared fingerprints)</th></tr>\n" + "\n".join(rows) + "</table>\n"
            + (f"<h2>Not compared</h2><ul>{skipped}</ul>" if skipped else "")
            + f"<p class=\"muted\">How: Python tokens of the answer cells and added cells, names the students "
            f"chose replaced by one placeholder, comments and spacing dropped, the release's lines dropped; "
            f"fingerprints of {p.k} tokens, winnowing window {p.window}; fingerprints of the release and "
            f"those more than {p.common_share:.0%} of the class has are left out ({result.excluded_common} "
            f"such); score = 2 shared / (size a + size b), a size counted as at least {p.min_prints}.</p>")
    return _page(f"Similarity report: {len(result.students)} submissions", body)


def write_html_report(result: SimilarityResult, out_dir: str | Path) -> None:
    """Write `index.html` and one page per flagged pair under `pairs/` (atomically, each)."""
    out = Path(out_dir)
    students = {s.student: s for s in result.students}
    write_text_atomic(out / "index.html", render_index(result))
    for pair in result.flagged:
        a, b = students[pair.student_a], students[pair.student_b]
        page = render_pair(pair, a, b, result.prints[pair.student_a], result.prints[pair.student_b],
                           result.shared(pair.student_a, pair.student_b), result.params.k)
        write_text_atomic(out / "pairs" / pair_filename(pair), page)
