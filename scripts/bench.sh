#!/usr/bin/env bash
# Prints Tenancy's figures against the emulator: AWS calls per tenant create and delete,
# and the time from POST /v1/tenants to active over 20 tenants.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export TENANCY_EMULATOR_PORT=${TENANCY_BENCH_EMULATOR_PORT:-5007}
source scripts/env.sh
scripts/emulator.sh start "$port"
trap 'scripts/emulator.sh stop "$port"' EXIT
scripts/build-plugins.sh >/dev/null
# The dev profile: the time goes to the emulator, not to our code, and it reuses the test build.
cargo bench -p tenancy-tests --bench lifecycle --profile dev

# The plugin host, in the bench profile: instantiation is host code, and only optimised
# host code gives figures that mean anything.
cargo bench -p tenancy-plugin-host --bench host
