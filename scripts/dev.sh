#!/usr/bin/env bash
# Runs Tenancy locally: installs what is missing, starts the emulator, creates the table,
# bus, rule, queue and a demo VPC on it, packages the tenant types (plugins/dist), and
# serves the API on http://127.0.0.1:8080 with the lifecycle worker beside it.
# Ctrl-C stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
source scripts/env.sh
scripts/emulator.sh start "$port"
trap 'scripts/emulator.sh stop "$port"' EXIT
scripts/package-plugins.sh
export TENANCY_PLUGINS=${TENANCY_PLUGINS:-plugins/dist/manifest.json}
target/debug/tenancy dev --port "${TENANCY_PORT:-8080}"
