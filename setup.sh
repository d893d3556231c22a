#!/usr/bin/env bash
# Sets up .venv with tfmnistcodec (editable) and its pinned dependencies.
# Idempotent: does nothing when .venv already matches setup.cfg and setup.py.
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(not ((3, 10) <= sys.version_info[:2] < (3, 12)))'; then
  echo "setup.sh: tensorflow 2.14 needs Python 3.10 or 3.11; $PYTHON is $("$PYTHON" --version 2>&1)." >&2
  echo "setup.sh: set PYTHON=/path/to/python3.11 and run it again." >&2
  exit 1
fi

stamp=.venv/.tfmnistcodec-setup
want=$(cat setup.cfg setup.py | sha256sum | cut -d' ' -f1)
if [[ -f $stamp && $(cat "$stamp") == "$want" ]]; then
  exit 0
fi

echo "setup.sh: creating .venv and installing tfmnistcodec with its dependencies" >&2
rm -f "$stamp"
[[ -x .venv/bin/python ]] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet --progress-bar off -e '.[test]'
echo "$want" > "$stamp"
echo "setup.sh: done" >&2
