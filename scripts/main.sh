#!/usr/bin/env bash
# The main job: set up what is missing, then a smoke run (load and verify Fashion-MNIST, train the
# lecture's scratch MLP for one epoch, print the test accuracy).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m autograder._smoke "$@"
