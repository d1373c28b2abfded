#!/usr/bin/env bash
# Runs Tenancy locally: installs what is missing, starts the emulator, creates the table,
# bus, rule, queue and a demo VPC on it, and serves the API on http://127.0.0.1:8080 with
# the lifecycle worker beside it. Ctrl-C stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
source scripts/env.sh
scripts/emulator.sh start "$port"
trap 'scripts/emulator.sh stop "$port"' EXIT
cargo build --bin tenancy
target/debug/tenancy dev --port "${TENANCY_PORT:-8080}"
