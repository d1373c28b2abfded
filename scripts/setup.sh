#!/usr/bin/env bash
# Installs what Tenancy's build, local run and tests need, and nothing system-wide except
# Rust targets: a project-local Python virtualenv (.venv) with the pinned AWS emulator
# (moto) and template linter (cfn-lint), and the wasm target for plugins. Idempotent:
# a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
requirements=scripts/requirements-dev.txt
stamp=.venv/.installed-$(sha256sum "$requirements" | cut -c1-16)

if [ ! -f "$stamp" ]; then
  echo "setup: creating .venv with $(grep -v '^#' "$requirements" | tr '\n' ' ')"
  "$python" -m venv .venv
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$requirements"
  rm -f .venv/.installed-*
  touch "$stamp"
fi

# Plugins (plugins/) are built for this target.
if ! rustup target list --installed | grep -qx wasm32-wasip2; then
  rustup target add wasm32-wasip2
fi

# Components the checks use; present in most toolchains, added where missing.
for component in rustfmt clippy; do
  if ! rustup component list --installed | grep -q "^$component"; then
    rustup component add "$component"
  fi
done
