#!/usr/bin/env bash
# Cold start, measured: from process start to the function's first answer under a minimal
# Lambda Runtime API (scripts/coldstart.py), median of $RUNS (10), for the API function
# (`GET /healthz`: with plugins packaged for another architecture only (the function, which
# has no compiler, could load none of them); with plugins precompiled for this machine;
# with no plugins; and with
# the SDK's default credentials chain, as a function given an AWS_ setting takes it), the
# lifecycle function (an event it ignores without calling AWS) and a hello-world
# lambda_runtime function (as documented, `#[tokio::main]`: the floor "x hello-world" is
# measured against; and on a current-thread runtime, as the functions run), all built here
# with the same (release) profile. Also
# prints each binary's size and its `zip -9` as Lambda takes it (bootstrap). Not part of
# `make test`: a release build of both functions takes about half an hour on 2 cores.
#   COLDSTART_TARGET_DIR  where the release build goes (default: $CARGO_TARGET_DIR or target)
#   RUNS                  runs per case (default 10)
#   STARTUP_PHASES=1      also prints the API function's start-up phases (debug log)
#   TENANCY_API_URL       the local run tenantctl's start-up is timed against (default
#                         http://127.0.0.1:8080: run `make dev` first; skipped if it is down)
set -euo pipefail
cd "$(dirname "$0")/.."
release_dir=${COLDSTART_TARGET_DIR:-${CARGO_TARGET_DIR:-target}}
runs=${RUNS:-10}

# Niced: the machine is shared, and the figures are taken after the build.
CARGO_TARGET_DIR=$release_dir nice -n 19 cargo build --locked --release -p api -p lifecycle -p hello-lambda
bin=$release_dir/release

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "## Binaries (release)"
echo "| binary | size (bytes) | zip -9 of bootstrap (bytes) |"
echo "|---|---:|---:|"
for name in hello-lambda api lifecycle; do
  mkdir -p "$work/zip-$name" && cp "$bin/$name" "$work/zip-$name/bootstrap"
  (cd "$work/zip-$name" && zip -q -9 bootstrap.zip bootstrap)
  echo "| $name | $(stat -c %s "$bin/$name") | $(stat -c %s "$work/zip-$name/bootstrap.zip") |"
done
echo

# The plugins: precompiled for this machine, and for the other architecture only (what a
# function deployed on the wrong architecture sees: it opens the manifest, loads nothing).
scripts/build-plugins.sh >/dev/null
# The whole workspace, as `make test` builds it: one feature set, nothing rebuilt.
cargo build --locked --workspace
tenancy=${CARGO_TARGET_DIR:-target}/debug/tenancy
case "$(uname -m)" in
  aarch64 | arm64) other=x86_64-unknown-linux-gnu ;;
  *) other=aarch64-unknown-linux-gnu ;;
esac
"$tenancy" plugin package --out "$work/host" >/dev/null
"$tenancy" plugin package --out "$work/other" --target "$other" >/dev/null

# No AWS call is made by either first event; the endpoint is a closed port all the same,
# so that a stray call fails fast instead of leaving the machine.
aws="AWS_REGION=eu-west-1|AWS_ACCESS_KEY_ID=coldstart|AWS_SECRET_ACCESS_KEY=coldstart|TENANCY_AWS_ENDPOINT=http://127.0.0.1:9|TENANCY_ACCOUNT_ID=123456789012"
echo "## Cold start: process start to first response"
python3 scripts/coldstart.py --runs "$runs" \
  "hello-world|$bin/hello-lambda|hello" \
  "hello-world, current-thread runtime (as the functions)|$bin/hello-lambda-current-thread|hello" \
  "api, plugins for $other only (none loaded by healthz)|$bin/api|healthz|$aws|TENANCY_PLUGINS=$work/other/manifest.json" \
  "api, plugins precompiled for this host|$bin/api|healthz|$aws|TENANCY_PLUGINS=$work/host/manifest.json" \
  "api, no plugins|$bin/api|healthz|$aws" \
  "api, no plugins, SDK default chain (an AWS_ variable Lambda does not set)|$bin/api|healthz|$aws|AWS_CA_BUNDLE=/dev/null" \
  "lifecycle, plugins precompiled for this host|$bin/lifecycle|probe|$aws|TENANCY_PLUGINS=$work/host/manifest.json"

if [[ -n "${STARTUP_PHASES:-}" ]]; then
  echo
  echo "## API function start-up phases (one run, debug log)"
  python3 scripts/coldstart.py --runs 1 --show-log \
    "api|$bin/api|healthz|$aws|TENANCY_PLUGINS=$work/host/manifest.json|RUST_LOG=info,tenancy_startup=debug" \
    2>&1 >/dev/null | grep -o '"phase":"[^"]*","micros":[0-9]*' || true
fi

# tenantctl's own start-up: `tenant list` against the local run (`make dev`, which must be
# serving), release build, median of $runs; `--version` (no network) beside it.
api_url=${TENANCY_API_URL:-http://127.0.0.1:8080}
echo
echo "## tenantctl start-up (release), against $api_url"
if curl -fsS -o /dev/null "$api_url/healthz" 2>/dev/null; then
  CARGO_TARGET_DIR=$release_dir nice -n 19 cargo build --locked --release -p tenantctl 2>/dev/null
  tenantctl=$release_dir/release/tenantctl
  echo "binary: $(stat -c %s "$tenantctl") bytes"
  source scripts/env.sh
  TENANCY_TOKEN=$("$tenantctl" dev token --admin) TENANCY_API_URL=$api_url python3 - "$tenantctl" "$runs" <<'PY'
import os, statistics, subprocess, sys, time
binary, runs = sys.argv[1], int(sys.argv[2])
print("| command | median of %d (ms) | min | max |" % runs)
print("|---|---:|---:|---:|")
for args in (["--version"], ["tenant", "list"], ["tenant", "list", "-o", "json"]):
    subprocess.run([binary, *args], check=True, capture_output=True)  # into the page cache
    times = []
    for _ in range(runs):
        started = time.perf_counter_ns()
        subprocess.run([binary, *args], check=True, capture_output=True)
        times.append((time.perf_counter_ns() - started) / 1e6)
    print("| tenantctl %s | %.1f | %.1f | %.1f |" % (" ".join(args), statistics.median(times), min(times), max(times)))
# The same request by curl: what the local run itself takes, to tell tenantctl's own part.
curl = ["curl", "-fsS", "-o", "/dev/null", "-H", "authorization: Bearer " + os.environ["TENANCY_TOKEN"],
        os.environ["TENANCY_API_URL"] + "/v1/tenants?limit=100"]
subprocess.run(curl, check=True)
times = []
for _ in range(runs):
    started = time.perf_counter_ns()
    subprocess.run(curl, check=True)
    times.append((time.perf_counter_ns() - started) / 1e6)
print("| curl, the same GET /v1/tenants | %.1f | %.1f | %.1f |" % (statistics.median(times), min(times), max(times)))
PY
else
  echo "(skipped: nothing answers $api_url/healthz; start \`make dev\` first)"
fi
echo
echo "Reproduce: make coldstart   (or COLDSTART_TARGET_DIR=... RUNS=10 scripts/coldstart.sh)"
