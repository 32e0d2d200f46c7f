#!/usr/bin/env bash
# Set up what is missing, and nothing else (safe to run again; a second run takes about a second):
#   1. Fashion-MNIST from Debian's package dataset-fashion-mnist (skipped when the files are there);
#   2. a Python 3.11 virtual environment in .venv;
#   3. torch and torchvision first, then this package with its pinned dependencies (`-e '.[dev]'`),
#      and a "python3" kernelspec inside the venv that points at the venv's interpreter.
# Step 3 is skipped while .venv/.setup-stamp holds the sha256 of pyproject.toml.
#
# Environment: PYTHON (default python3.11) creates the venv; TORCH_INDEX_URL, when set, is the
# index torch and torchvision come from (e.g. https://download.pytorch.org/whl/cpu for the small
# CPU-only build; the default PyPI wheel on Linux is the CUDA build, which also runs on CPU).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf 'setup: %s\n' "$*" >&2; }

# --- 1. Fashion-MNIST ------------------------------------------------------------------------
DATASET_DIR=/usr/share/datasets/fashion-mnist
have_dataset() {
    local f
    for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
        [ -f "$DATASET_DIR/$f.gz" ] || return 1
    done
}
if have_dataset; then
    log "Fashion-MNIST: found in $DATASET_DIR"
elif command -v apt-get >/dev/null 2>&1; then
    SUDO=()
    if [ "$(id -u)" != 0 ]; then SUDO=(sudo); fi
    log "Fashion-MNIST: installing Debian's dataset-fashion-mnist"
    if "${SUDO[@]}" apt-get update -qq && "${SUDO[@]}" apt-get install -y -qq dataset-fashion-mnist; then
        have_dataset || log "WARNING: dataset-fashion-mnist installed but $DATASET_DIR is incomplete"
    else
        log "WARNING: could not install dataset-fashion-mnist; set FASHION_MNIST_DIR or go online once" \
            "so torchvision can download it (see README, Fashion-MNIST)"
    fi
else
    log "WARNING: no apt-get; set FASHION_MNIST_DIR to a directory with the four *-ubyte.gz files"
fi

# --- 2. virtual environment ------------------------------------------------------------------
PYTHON=${PYTHON:-python3.11}
if [ ! -x .venv/bin/python ]; then
    log "creating .venv with $PYTHON"
    "$PYTHON" -m venv .venv
fi
if ! .venv/bin/python -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
    log "ERROR: .venv is not Python 3.11 ($(.venv/bin/python --version)); remove .venv and run again"
    exit 1
fi

# --- 3. packages ---------------------------------------------------------------------------
STAMP=.venv/.setup-stamp
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
    log "packages: up to date (pyproject.toml unchanged)"
    exit 0
fi
# torch and torchvision first, at the versions pyproject.toml pins (one source of truth).
torch_pins=$(grep -oE '"torch(vision)?==[^"]+"' pyproject.toml | tr -d '"' | tr '\n' ' ')
case "$torch_pins" in
    *torch==*torchvision==*) ;;
    *) log "ERROR: cannot find the torch and torchvision pins in pyproject.toml"; exit 1 ;;
esac
index_args=()
if [ -n "${TORCH_INDEX_URL:-}" ]; then index_args=(--index-url "$TORCH_INDEX_URL"); fi
log "installing $torch_pins"
# shellcheck disable=SC2086  # the pins are two words on purpose
.venv/bin/python -m pip install -q "${index_args[@]}" $torch_pins
log "installing -e '.[dev]'"
.venv/bin/python -m pip install -q -e '.[dev]'
# Kernels started by nbclient/nbgrader from this venv must run this venv's interpreter.
.venv/bin/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (mlp-autograder)" >/dev/null
printf '%s\n' "$want" > "$STAMP"
log "packages: installed"
