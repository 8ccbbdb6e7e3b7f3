#!/usr/bin/env bash
# Sets up everything the test suite needs on a fresh machine, then runs it: `bash tests/run.sh [pytest args]`.
# .ci/run calls exactly this.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
start=$SECONDS

# torch first and pinned: an unpinned or ranged torch would pull a CUDA build of several GB. The repository's
# workflow installs another supported torch first (CPU index) and names it here, so it is kept, not replaced.
python -m pip install -q --disable-pip-version-check "torch==${TEST_TORCH_VERSION:-2.13.0}"
python -m pip install -q --disable-pip-version-check -e ".[test]"

# Headless Chromium renders the HTML report in its test; the container test installs podman itself.
if ! command -v chromium >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core >/dev/null
fi
echo "tests/run.sh: set-up took $((SECONDS - start)) s"

ruff check .
python -m pytest -ra "$@"
echo "tests/run.sh: done in $((SECONDS - start)) s"
