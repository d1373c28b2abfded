#!/usr/bin/env bash
# Packages the tenant types for a deployment or a local run: builds the plugins, then
# writes plugins/dist/ from plugins/tenant-types.json: each declared plugin's .wasm, the
# same plugin precompiled for each target (<plugin>-<version>.<triple>.cwasm), and
# manifest.json with each file's SHA-256 and, per artifact, its target and the compatibility
# key of the engine a deployment on that target runs. The targets: the architecture
# template.yaml deploys the functions on (arm64: cross-compiled here when this machine is
# x86_64), and this machine's, for the local run. A function uses the artifact for its
# target, after checking its SHA-256, if wasmtime accepts it for its engine; it has no
# compiler, so without one the type is unavailable. template.yaml ships plugins/dist/ as a
# Lambda layer, read-only: nothing is written at load time.
#   PLUGIN_TARGETS="aarch64-unknown-linux-gnu ..."  overrides the targets.
set -euo pipefail
cd "$(dirname "$0")/.."

triple() {
  case "$1" in
    arm64 | aarch64) echo aarch64-unknown-linux-gnu ;;
    x86_64 | amd64) echo x86_64-unknown-linux-gnu ;;
    *) echo "package-plugins: unknown architecture '$1'" >&2; return 1 ;;
  esac
}

if [[ -z "${PLUGIN_TARGETS:-}" ]]; then
  # The functions' `Architectures: [arm64]` in template.yaml's Globals.
  deployed=$(sed -n 's/^ *Architectures: *\[ *\([a-z0-9_]*\) *\].*/\1/p' template.yaml | head -1)
  PLUGIN_TARGETS="$(triple "${deployed:-arm64}")"
  if [[ "$(uname -s)" == Linux ]]; then
    host=$(triple "$(uname -m)")
    [[ "$host" == "$PLUGIN_TARGETS" ]] || PLUGIN_TARGETS="$PLUGIN_TARGETS $host"
  fi
fi
target_flags=()
for target in $PLUGIN_TARGETS; do target_flags+=(--target "$target"); done

scripts/build-plugins.sh
cargo build --locked --workspace --bin tenancy
rm -rf plugins/dist
"${CARGO_TARGET_DIR:-target}/debug/tenancy" plugin package --types plugins/tenant-types.json \
  --wasm-dir plugins/target/wasm32-wasip2/release --out plugins/dist "${target_flags[@]}"
