#!/usr/bin/env bash
# Runs both functions as Lambda runs them: their binaries (dev profile: the same code path
# as the release build, at a fraction of its build time) under cargo-lambda's runtime
# emulator (`cargo lambda watch`), fed the payloads in tests/events/ with
# `cargo lambda invoke --data-file`, against the AWS emulator. See scripts/lambda_check.py
# for what it asserts. Uses the emulator already answering on $TENANCY_EMULATOR_PORT, or
# starts one there and stops it after; the runtime emulator listens on
# $TENANCY_LAMBDA_PORT (default 9014).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
# cargo-lambda (and the zig it links with) come from the project's virtualenv.
export PATH="$PWD/.venv/bin:$PATH"
export TENANCY_LAMBDA_PORT=${TENANCY_LAMBDA_PORT:-9014}

if ! curl -fsS -o /dev/null "$TENANCY_AWS_ENDPOINT/moto-api/" 2>/dev/null; then
  scripts/emulator.sh start "$port"
  trap 'scripts/emulator.sh stop "$port"' EXIT
fi

echo "== functions under cargo lambda watch (port $TENANCY_LAMBDA_PORT)"
# The functions as `cargo lambda watch` runs them (`cargo run --bin NAME`) and `sam build`
# builds them: the workspace's default members, with their own features, so without the
# plugin compiler; built here first, so that the watch's first invocation finds them built.
# The plugins are packaged (precompiled) by the tenancy tool, built with the workspace's
# features as the tests built it.
# Their build is the only one without the compiler: `make test`'s clippy and tests have it,
# so a warning in code the feature leaves out shows here (cargo replays a fresh crate's).
mkdir -p .local
build_log=.local/lambda-check-build.log
cargo build --locked 2>&1 | tee "$build_log"
if grep -E '^(warning|error)' "$build_log" >/dev/null; then
  echo "lambda-check: the functions' build (without the plugin compiler) has warnings, above" >&2
  exit 1
fi
cargo build --locked --workspace --bin tenancy
scripts/build-plugins.sh
.venv/bin/python scripts/lambda_check.py
