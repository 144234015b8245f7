#!/usr/bin/env bash
# Rebuild src/segmint/report/static/plotly-report.min.js: a partial Plotly.js bundle with only the trace
# types the HTML report draws (bar, box, heatmap, sankey, scatter), so a report inlines ~1.4 MB instead of
# the full 4.8 MB plotly.min.js. Not part of install or test: run it by hand when the report needs another
# trace type or the pinned plotly.js version changes (keep it equal to the one the `plotly` Python package
# ships, `python -c "from plotly.offline import get_plotlyjs_version as v; print(v())"`).
# Needs Node.js and npm (packages from the npm registry only).
set -euo pipefail
PLOTLY_JS_VERSION="${PLOTLY_JS_VERSION:-4.1.1}"
ESBUILD_VERSION="${ESBUILD_VERSION:-0.28.2}"
# Keep in step with segmint.report.html.BUNDLE_TRACES.
TRACES=(bar box heatmap sankey scatter)
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$root/src/segmint/report/static/plotly-report.min.js"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
npm init -y >/dev/null
npm install --no-audit --no-fund --silent "plotly.js@$PLOTLY_JS_VERSION" "esbuild@$ESBUILD_VERSION" >/dev/null
{
  echo "var Plotly = require('plotly.js/lib/core');"
  echo "Plotly.register(["
  for t in "${TRACES[@]}"; do echo "  require('plotly.js/lib/$t'),"; done
  echo "]);"
  echo "module.exports = Plotly;"
} > entry.js
# global=window: plotly.js' CommonJS sources read `global`; CSS files (map styles) are not needed by these traces.
npx esbuild entry.js --bundle --minify --format=iife --global-name=Plotly --define:global=window \
  --loader:.css=empty --legal-comments=none --log-level=warning --outfile=bundle.js
mkdir -p "$(dirname "$out")"
{
  echo "/*! plotly.js v$PLOTLY_JS_VERSION (MIT License, Copyright (c) 2016-2024 Plotly Technologies Inc.), partial bundle for segmint"
  echo " * reports: traces ${TRACES[*]}. Built by scripts/build-report-plotly.sh with esbuild $ESBUILD_VERSION. */"
  cat bundle.js
} > "$out"
echo "wrote $out ($(wc -c < "$out") bytes)"
