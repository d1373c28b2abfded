#!/usr/bin/env bash
# Builds the plugins in plugins/ as WebAssembly components (wasm32-wasip2), and prints
# each one's size and SHA-256: the digest the host checks before it loads a plugin.
set -euo pipefail
cd "$(dirname "$0")/.."
rustup target list --installed | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2
cargo build --release --locked --target wasm32-wasip2 --manifest-path plugins/Cargo.toml
for wasm in plugins/target/wasm32-wasip2/release/*.wasm; do
  printf '%8d  %s  %s\n' "$(stat -c %s "$wasm")" "$(sha256sum "$wasm" | cut -c1-64)" "$wasm"
done
