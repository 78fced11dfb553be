#!/bin/sh
# Install statusadmin's runtime dependencies into a virtualenv, exactly as pinned.
# Used by the Dockerfile and by scripts/docker-smoke, so the two can't drift apart.
#   docker/install.sh /path/to/venv [python]
set -eu
venv="$1"
python="${2:-python3}"
here="$(cd "$(dirname "$0")/.." && pwd)"
"$python" -m venv "$venv"
"$venv/bin/pip" install --no-cache-dir --quiet --upgrade "pip>=25.1"
# Hashes pin every package, including those pulled in by others.
"$venv/bin/pip" install --no-cache-dir --quiet --require-hashes -r "$here/requirements.lock"
