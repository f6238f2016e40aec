#!/usr/bin/env bash
# Install steadygan with its test extras (CPU torch) and run the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q torch==2.13.0 -e '.[test]'
python -m pytest "$@"
