#!/usr/bin/env bash
# Rebuild the studio's editor bundle (only when upgrading CodeMirror): the result is committed.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund
npx esbuild editor.mjs --bundle --minify --format=iife --global-name=TelcoflowEditor \
    --legal-comments=eof --outfile=../../src/telcoflow/studio/static/editor.js
