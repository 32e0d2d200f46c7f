"""nbgrader configuration for the MLP lab.  The course directory is the repository root.

    source/mlp/mlp.ipynb   the instructor notebook (solutions, hidden tests): the one source of truth
    release/mlp/mlp.ipynb  generated from it, committed; regenerate with
                           .venv/bin/nbgrader generate_assignment mlp --force --no-db
                           (tests/test_release.py fails when the two disagree)

Autograding runs each submission in the kernel named by the *source* notebook's kernelspec
("python3"; nbgrader's OverwriteKernelspec replaces whatever the student's file says).  That
kernelspec must start this repository's virtual environment: scripts/setup.sh installs it with
`.venv/bin/python -m ipykernel install --sys-prefix`; check with `.venv/bin/jupyter kernelspec list`.
"""

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import GetGrades

from autograder.nbgrader.preprocessors import HideHiddenTests

c = get_config()  # noqa: F821  (nbgrader injects get_config)

# --- Generating the release ------------------------------------------------------------------
c.CourseDirectory.source_directory = "source"
c.CourseDirectory.release_directory = "release"
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# --- Executing submissions (autograde) -------------------------------------------------------
# The two training cells take 15-45 s each on the shared 2-core machine, depending on how busy
# it is; a cell that runs longer than `timeout` is interrupted and scored as an error.
c.Execute.timeout = 300
c.Execute.startup_timeout = 120
c.Execute.interrupt_on_timeout = True

# nbgrader 0.9.6 scores a grade cell 0 when its output holds *any* stderr stream, even when every
# check in it passed (nbgrader.utils.determine_grade treats stderr like an error).  A student's
# warnings.warn, print(..., file=sys.stderr) or os.write(2, ...) inside relu would then cost every
# grade cell that calls relu, and so would a library warning.  Whether a cell passed is decided by
# its error output alone (our checks raise CheckFailed, an AssertionError), so drop every stderr
# stream after execution and before grading.  IgnorePattern runs right after Execute in
# Autograde.autograde_preprocessors; it is disabled by default and ignores an empty pattern, hence
# a pattern that matches any text.
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = r"[\s\S]*"

# --- Feedback --------------------------------------------------------------------------------
# nbgrader 0.9.6 renders the autograded notebook as is, hidden tests included (and IPython's
# tracebacks quote them); HideHiddenTests removes both before the HTML is written.
c.GenerateFeedback.preprocessors = [GetGrades, CSSHTMLHeaderPreprocessor, HideHiddenTests]
