#!/usr/bin/env bash
# The main job: set up what is missing, then release the assignment with nbgrader, grade the bundled
# example submissions with the hardened grader and print a grade table (autograder demo).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m autograder demo "$@"
