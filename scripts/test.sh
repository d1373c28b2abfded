#!/usr/bin/env bash
# Everything CI runs, in order: formatting, the plugins' build, lints, the template check,
# then every test (unit tests, the plugin host against the built plugins, and the
# integration tests against the emulator, which it starts and stops).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check
cargo fmt --all --manifest-path plugins/Cargo.toml -- --check

echo "== plugins (wasm32-wasip2)"
scripts/build-plugins.sh

echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo clippy --manifest-path plugins/Cargo.toml --target wasm32-wasip2 --locked -- -D warnings

echo "== the domain depends on no adapter's crate"
# The hexagon's centre: no AWS SDK, wasmtime, HTTP server or Lambda runtime in its
# normal dependencies (dev-dependencies may have test tools).
if cargo tree --locked -e normal -p tenancy-domain --prefix none | grep -E '^(aws-|wasmtime|axum|hyper|lambda_|tower)'; then
  echo "tenancy-domain depends on an adapter's crate (above); move that code to an adapter" >&2
  exit 1
fi

echo "== tenantctl is a client of the HTTP API only"
# Its start-up time and size are measured: no app wiring, AWS SDK or wasmtime in it.
if cargo tree --locked -e normal -p tenantctl --prefix none | grep -E '^(tenancy-(app|aws|plugin-host|policy) |aws-(sdk|config|smithy)|wasmtime|axum|lambda_)'; then
  echo "tenantctl depends on a crate of the server side (above); it must speak HTTP only" >&2
  exit 1
fi

echo "== the functions carry no plugin compiler and one HTTP stack"
# They deserialize the plugins their package precompiled (see crates/plugin-host, feature
# `compiler`); and the SDK's clients use its default HTTPS client (hyper 1, rustls 0.23),
# not the legacy hyper 0.14 connector its crates' default `rustls` feature adds: both are
# binary the loader relocates at every cold start. Selected as `sam build` selects them,
# by the workspace's default members.
if cargo tree --locked -e normal --prefix none | grep -E '^(cranelift-(codegen|frontend|native) |wasmtime-internal-(cranelift|winch) |wat |wast |hyper v0\.|h2 v0\.3|rustls v0\.2[01]\.)'; then
  echo "a function depends on a compiler's crate or a second HTTP stack (above): keep the 'compiler' feature and the SDK crates' default features out of them" >&2
  exit 1
fi

echo "== the functions, built alone, share the workspace's compiled dependencies"
# Else lambda-check's build of the functions (as `sam build` builds them) compiles the SDK,
# hyper and Cedar a second time: see crates/workspace-hack.
.venv/bin/python scripts/feature-drift.py

echo "== cfn-lint template.yaml"
.venv/bin/cfn-lint template.yaml

echo "== sam validate --lint"
# Offline and without an account: SAM's transform and cfn-lint run locally; it only needs
# a region and some credentials to be configured, so it gets dummies, and never ~/.aws.
env -u AWS_PROFILE -u AWS_SESSION_TOKEN AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
  AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
  SAM_CLI_TELEMETRY=0 .venv/bin/sam validate --lint --template template.yaml
.venv/bin/python scripts/iam-catalogue.py --check

# The tests get an emulator of their own, on its own port, so a running `make dev` is untouched.
export TENANCY_EMULATOR_PORT=${TENANCY_TEST_EMULATOR_PORT:-5006}
source scripts/env.sh
scripts/emulator.sh start "$port"
trap 'scripts/emulator.sh stop "$port"' EXIT

echo "== cargo test"
cargo test --workspace --locked

echo "== the API against its OpenAPI document (schemathesis)"
scripts/contract.sh

# Both functions under cargo-lambda's runtime emulator, on the same AWS emulator.
echo "== both functions under the Lambda runtime emulator (cargo-lambda)"
TENANCY_LAMBDA_PORT=${TENANCY_TEST_LAMBDA_PORT:-9006} scripts/lambda-check.sh
