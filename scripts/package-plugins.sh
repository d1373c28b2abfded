#!/usr/bin/env bash
# Packages the tenant types for a deployment or a local run: builds the plugins, then
# writes plugins/dist/ (each declared plugin's .wasm and manifest.json with its SHA-256)
# from plugins/tenant-types.json. template.yaml ships plugins/dist/ as a Lambda layer.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build-plugins.sh
cargo build --locked --bin tenancy
rm -rf plugins/dist
target/debug/tenancy plugin package --types plugins/tenant-types.json \
  --wasm-dir plugins/target/wasm32-wasip2/release --out plugins/dist
