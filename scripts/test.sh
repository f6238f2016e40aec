#!/usr/bin/env bash
# Install steadygan with its test and docs extras (CPU torch), and Debian's chromium for the report and
# documentation tests when it is missing, then run the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q torch==2.13.0 -e '.[test,docs]'
if ! command -v chromium >/dev/null && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    apt-get install -y -q chromium >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }
fi
python -m pytest "$@"
