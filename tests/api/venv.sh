#!/usr/bin/env bash
# Prints the path of a virtualenv holding tests/api/requirements.txt, creating
# it first if needed. It lives outside the work tree, under
# ${LIBRIS_API_VENV_ROOT:-${XDG_CACHE_HOME:-~/.cache}/libris}, named after the
# hash of requirements.txt: a changed pin gets a fresh virtualenv, and clean
# clones on one machine share it. Progress goes to stderr, the path to stdout.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
requirements="$here/requirements.txt"
python="${PYTHON:-python3}"
command -v "$python" >/dev/null || { echo "tests/api: $python is not installed" >&2; exit 1; }
hash="$(sha256sum "$requirements" | cut -c1-12)"
root="${LIBRIS_API_VENV_ROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/libris}"
venv="$root/api-venv-$hash"
if [ ! -f "$venv/.complete" ]; then
  echo "tests/api: creating $venv (pip install -r tests/api/requirements.txt)" >&2
  rm -rf "$venv"
  mkdir -p "$root"
  "$python" -m venv "$venv" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements" >&2 \
    || { echo "tests/api: pip could not install $requirements" >&2; exit 1; }
  touch "$venv/.complete"
fi
echo "$venv"
