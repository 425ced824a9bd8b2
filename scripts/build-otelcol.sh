#!/usr/bin/env bash
# Builds `otelcol-tracesieve`, the official OpenTelemetry Collector with the components that
# deploy/otelcol/builder.yaml lists (OTLP receiver, Kafka receiver and exporter, OTLP exporters,
# debug exporter, batch processor), from the Go module proxy with the collector's own builder (OCB).
#
# Run from anywhere: `bash scripts/build-otelcol.sh`. The last line printed is the binary's path;
# the line before it says how long the build (or the cache check) took. Everything else (go and
# builder logs) goes to stderr.
#
# Where things go (outside the repository, TRACESIEVE_CACHE overrides the root):
#   ${TRACESIEVE_CACHE:-$HOME/.cache/tracesieve}/otelcol-<version>/
#     otelcol-tracesieve   the binary
#     gobin/builder        the builder, `go install`ed at the same release
#     build/               the sources the builder generated (main.go, components.go, go.mod)
#     manifest.yaml        the manifest the binary was built from
# Go modules go to Go's default module cache (`go env GOMODCACHE`, ~/go/pkg/mod), shared with any
# other Go build on the machine. A rebuild is skipped when the binary exists, `--version` runs and
# the manifest is unchanged; delete the folder to force one. Concurrent runs wait on a lock.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
MANIFEST="$ROOT/deploy/otelcol/builder.yaml"
CACHE="${TRACESIEVE_CACHE:-$HOME/.cache/tracesieve}"

command -v go >/dev/null || { echo "build-otelcol: 'go' is not on PATH (Go >= 1.25 is needed)" >&2; exit 1; }

# dist.version in the manifest names the release of every collector module (strict versioning).
VERSION="$(sed -n 's/^  version: *"\{0,1\}\([0-9][0-9.]*\)"\{0,1\} *$/\1/p' "$MANIFEST" | head -n 1)"
[ -n "$VERSION" ] || { echo "build-otelcol: no dist.version in $MANIFEST" >&2; exit 1; }

DIR="$CACHE/otelcol-$VERSION"
BIN="$DIR/otelcol-tracesieve"
mkdir -p "$DIR"
START=$SECONDS

exec 9>"$DIR/.lock"
flock 9

if [ -x "$BIN" ] && "$BIN" --version >/dev/null 2>&1 && cmp -s "$MANIFEST" "$DIR/manifest.yaml"; then
  echo "otelcol-tracesieve $VERSION: cached ($((SECONDS - START)) s)"
  echo "$BIN"
  exit 0
fi

# The builder is a module of the same release; its strict-versioning check compares against the
# core version it was released with, so the two must move together.
BUILDER="$DIR/gobin/builder"
if [ ! -x "$BUILDER" ] || ! "$BUILDER" version 2>/dev/null | grep -q "v$VERSION\$"; then
  echo "== installing the collector builder v$VERSION" >&2
  GOBIN="$DIR/gobin" CGO_ENABLED=0 go install -trimpath -ldflags="-s -w" \
    "go.opentelemetry.io/collector/cmd/builder@v$VERSION" >&2
fi

echo "== building otelcol-tracesieve $VERSION into $DIR" >&2
rm -rf "$DIR/build" "$BIN" "$DIR/manifest.yaml"
# Same manifest, output_path pointed into the cache (the builder has no flag for it any more).
sed "s#^  output_path: .*#  output_path: $DIR/build#" "$MANIFEST" >"$DIR/builder.yaml"
(cd "$DIR" && "$BUILDER" --config "$DIR/builder.yaml" --skip-strict-versioning=false) >&2
mv "$DIR/build/otelcol-tracesieve" "$BIN"
"$BIN" --version >&2
cp "$MANIFEST" "$DIR/manifest.yaml"

echo "otelcol-tracesieve $VERSION: built in $((SECONDS - START)) s ($(du -h "$BIN" | cut -f1))"
echo "$BIN"
