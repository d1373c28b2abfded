#!/usr/bin/env bash
# Packages the tenant types for a deployment or a local run: builds the plugins, then
# writes plugins/dist/ from plugins/tenant-types.json: each declared plugin's .wasm, the
# same plugin precompiled by this machine's engine (.cwasm), and manifest.json with each
# file's SHA-256 and the engine's compatibility key. A deployment uses an artifact only if
# its engine has the same key (same wasmtime, configuration and target), after checking
# its SHA-256; otherwise it compiles the .wasm. template.yaml ships plugins/dist/ as a
# Lambda layer, read-only: nothing is written at load time.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build-plugins.sh
cargo build --locked --bin tenancy
rm -rf plugins/dist
"${CARGO_TARGET_DIR:-target}/debug/tenancy" plugin package --types plugins/tenant-types.json \
  --wasm-dir plugins/target/wasm32-wasip2/release --out plugins/dist
