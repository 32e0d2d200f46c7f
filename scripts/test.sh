#!/usr/bin/env bash
# Run the test suite: set up what is missing, then pytest with any arguments given
# (e.g. `bash scripts/test.sh -m "not slow"`, `bash scripts/test.sh tests/test_data.py -x`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest "$@"
