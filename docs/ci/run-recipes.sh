#!/usr/bin/env bash
# Runs the CI recipes of docs/ci.md — Python (pytest), Node (node --test) and Go (go test) —
# each with its own run.sh, exactly as the page shows, against a mock-server built once
# from this checkout and put on PATH as `cargo install --path mock-server` would.
# Fails when any recipe fails or a tool it needs (python3, node, go) is missing: never skips.
set -euo pipefail
cd "$(dirname "$0")/../.."

missing=()
for tool in python3 node go; do
  command -v "$tool" > /dev/null || missing+=("$tool")
done
if (( ${#missing[@]} )); then
  echo "ci recipes: not installed: ${missing[*]}; install them (.ci/run installs go with apt-get) and run again"
  exit 1
fi

cargo build --quiet -p mock-server
export PATH=$PWD/target/debug:$PATH

# The Python recipe's packages, in a virtualenv of its own under target/.
venv=target/ci-recipes/python
[[ -x $venv/bin/python ]] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r docs/ci/python/requirements.txt

failed=()
for recipe in python node go; do
  echo "== ci recipe: $recipe"
  path=$PATH
  [[ $recipe == python ]] && path=$PWD/$venv/bin:$PATH
  if (cd "docs/ci/$recipe" && PATH=$path timeout 300 ./run.sh); then
    echo "ci recipe $recipe: ok"
  else
    echo "ci recipe $recipe: FAILED"
    failed+=("$recipe")
  fi
done
if (( ${#failed[@]} )); then
  echo "ci recipes failed: ${failed[*]}"
  exit 1
fi
echo "ci recipes: python, node and go passed"
