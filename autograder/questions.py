"""The assignment's questions: ids (also nbgrader grade ids), points and titles.

The ids are a contract with the notebook (`source/mlp/mlp.ipynb`), with course CI
(one workflow step per id) and with every report the grader writes.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MAX_SCORE", "QUESTIONS", "QUESTION_IDS", "Question", "question"]


@dataclass(frozen=True)
class Question:
    id: str
    points: float
    title: str


QUESTIONS: tuple[Question, ...] = (
    Question("relu_values", 8, "ReLU values: relu(x) = max(0, x), elementwise"),
    Question("relu_grad", 10, "ReLU gradient: 1 for x > 0, 0 for x < 0, 0 at exactly 0"),
    Question("sigmoid_tanh", 10, "sigmoid and tanh: values and gradients, finite for |x| <= 100"),
    Question("affine_collapse", 10, "collapse_affine: the single affine map W, b of a linear two-layer net"),
    Question("param_shapes", 10, "MLPScratch parameters: W1 d x h, b1 1 x h, W2 h x q, b2 1 x q"),
    Question("forward_shapes", 8, "MLPScratch.forward: H = sigma(X W1 + b1) is n x h, O = H W2 + b2 is n x q"),
    Question("nonlinear", 10, "MLPScratch is non-linear: not one affine map in disguise"),
    Question("from_scratch", 10, "From scratch: no torch.nn layers or built-in activations"),
    Question("concise_mlp", 8, "MLP with nn.Sequential: Flatten, Linear(784 -> 256), ReLU, Linear(256 -> 10)"),
    Question("accuracy", 16, "Fashion-MNIST test accuracy after the grader's training run"),
)

QUESTION_IDS: tuple[str, ...] = tuple(q.id for q in QUESTIONS)
MAX_SCORE: float = float(sum(q.points for q in QUESTIONS))


def question(qid: str) -> Question:
    """The question with id `qid`; KeyError names the valid ids."""
    for q in QUESTIONS:
        if q.id == qid:
            return q
    raise KeyError(f"unknown question id {qid!r}; valid ids: {', '.join(QUESTION_IDS)}")
