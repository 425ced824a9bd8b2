#!/usr/bin/env bash
# Sets up a fresh machine for tracesieve and its tests: the Python virtualenv (.venv) with the
# package and its dev extra, Debian's chromium (the review page's browser tests), promptfoo from
# npm (the promptfoo export's test loads it), and the jars of a Kafka 4.x broker from Maven (the
# Kafka transport's tests run a real broker on the machine's Java 17). Idempotent: what is there
# is kept.
# Run from anywhere: `bash scripts/setup.sh`. README.md's first command; `.ci/run` calls it.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
"$PYTHON" -c 'import sys; assert sys.version_info[:2] >= (3, 11), sys.version'

echo "== system packages"
# The review page's tests drive Debian's headless chromium with Playwright (no browser download).
# The Kafka broker of the tests runs on Java 17 from jars that Maven fetches.
PACKAGES=()
[ -x /usr/bin/chromium ] || PACKAGES+=(chromium)
command -v java >/dev/null || PACKAGES+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || PACKAGES+=(maven)
# The TLS tests make their certificates with openssl; the store-outage tests make the embedded
# store's folder immutable with chattr (root ignores permission bits).
command -v openssl >/dev/null || PACKAGES+=(openssl)
command -v chattr >/dev/null || PACKAGES+=(e2fsprogs)
if [ ${#PACKAGES[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${PACKAGES[@]}"
fi

echo "== python environment"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[dev]'

echo "== node packages"
# tests/evals/regressions check the promptfoo export with promptfoo's own validator (npm, into
# the git-ignored .cache/node). 0.121.x is the last promptfoo line that runs on Node 20.
PROMPTFOO_VERSION=0.121.20
if [ "$(node -p "require('./.cache/node/node_modules/promptfoo/package.json').version" 2>/dev/null)" \
     != "$PROMPTFOO_VERSION" ]; then
  npm install --prefix .cache/node --no-audit --no-fund --loglevel=error "promptfoo@$PROMPTFOO_VERSION"
fi

echo "== Kafka broker jars"
# Cached under ${TRACESIEVE_CACHE:-$HOME/.cache/tracesieve}; scripts/kafka.sh start runs one.
bash scripts/kafka.sh install
