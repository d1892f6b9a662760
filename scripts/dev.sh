#!/usr/bin/env bash
# The two commands of the README: `bash scripts/dev.sh demo` and `bash scripts/dev.sh test`.
# Each sets up what it needs first, so they work on a fresh machine with only Python 3.11:
# - a virtual environment, .venv/ beside the code (made on first use; a system Python that
#   refuses `pip install`, such as Debian's, is never touched);
# - `demo`: the core package only (and, as root, tesseract, the demo's OCR engine);
# - `test`: every extra, the test tools, the trainers' loaders, and (as root) the Debian
#   packages in .ci/apt-packages.txt.
# Versions come from requirements.txt. An install is redone only when pyproject.toml or a
# requirements file changed. PYTHON picks the interpreter (default python3), DATAMAKR_VENV the folder.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${DATAMAKR_VENV:-.venv}

install_system() {  # the Debian packages named, or all of .ci/apt-packages.txt
  local wanted missing=()
  wanted=${*:-$(grep -v '^\s*#' .ci/apt-packages.txt | tr -s ' \n' ' ')}
  for pkg in $wanted; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
    return 1
  fi
  echo "==> apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

make_venv() {
  [ -x "$VENV/bin/python" ] && return 0
  echo "==> making a virtual environment in $VENV with $("$PY" --version 2>&1) ($(command -v "$PY"))"
  if ! "$PY" -m venv "$VENV" 2>/dev/null; then  # Debian ships venv's pip separately
    rm -rf "$VENV"
    install_system python3-venv || { echo "error: $PY cannot make a virtual environment" >&2; exit 1; }
    "$PY" -m venv "$VENV"
  fi
}

install_python() {  # $1: what to pip install (e.g. ".[all,test]"); $2: a name for the record of it
  local stamp="$VENV/.datamakr-installed-$2" digest
  digest=$(cat pyproject.toml requirements*.txt | sha256sum | cut -c1-16)
  [ "$(cat "$stamp" 2>/dev/null)" = "$digest" ] && return 0
  echo "==> installing $1 into $VENV (versions from requirements.txt; this takes a while the first time)"
  "$VENV/bin/python" -m pip install --disable-pip-version-check --root-user-action=ignore \
    -c requirements.txt -e "$1"
  if [ "$2" = test ]; then
    echo "==> installing the trainers' data loaders (requirements-trainers.txt, without their dependencies)"
    "$VENV/bin/python" -m pip install --disable-pip-version-check --root-user-action=ignore \
      --no-deps -r requirements-trainers.txt
  fi
  echo "$digest" >"$stamp"
}

case "${1:-}" in
  demo)
    install_system tesseract-ocr tesseract-ocr-eng ||   # the demo's OCR engine
      echo "(the demo still runs; its episodes will have no screen text)" >&2
    make_venv
    install_python . demo
    shift
    exec "$VENV/bin/datamakr" build --config configs/demo.yaml "$@"
    ;;
  test)
    install_system
    make_venv
    install_python ".[all,test]" test
    shift
    exec "$VENV/bin/python" -m pytest -q "$@"
    ;;
  *)
    echo "usage: bash scripts/dev.sh demo|test [extra args]" >&2
    exit 2
    ;;
esac
