#!/usr/bin/env bash
# The two commands of the README: `bash scripts/dev.sh demo` and `bash scripts/dev.sh test`.
# Each installs what it needs first (Python packages; for tests also Debian packages when run
# as root), so they work on a fresh machine with only Python 3.11.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

install_python() {
  "$PY" -m pip install -q --disable-pip-version-check --root-user-action=ignore -r requirements.txt
}

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
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

case "${1:-}" in
  demo)
    install_system tesseract-ocr tesseract-ocr-eng ||   # the demo's OCR engine
      echo "(the demo still runs; its episodes will have no screen text)" >&2
    install_python
    shift
    exec "$PY" build_data.py --config configs/demo.yaml "$@"
    ;;
  test)
    install_system
    install_python
    # LLaMA-Factory's dataset converters, which tests/test_trainer_loading.py loads our rows with:
    # pure Python; its trainer stack (torch, peft, transformers) is not needed, so no dependencies
    "$PY" -m pip install -q --disable-pip-version-check --root-user-action=ignore --no-deps llamafactory==0.9.5
    shift
    exec "$PY" -m pytest -q "$@"
    ;;
  *)
    echo "usage: bash scripts/dev.sh demo|test [extra args]" >&2
    exit 2
    ;;
esac
