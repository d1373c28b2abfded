#!/usr/bin/env bash
# Fuzzes the running API against its own OpenAPI document with schemathesis: every
# operation, with generated valid and invalid requests, as a platform admin. Fails on any
# 5xx, any response that does not match the document (status, headers, body schema), and
# any error that is not application/problem+json.
#
# Needs the emulator running (scripts/test.sh starts it; source scripts/env.sh first) and
# the plugins packaged. Starts its own local run of Tenancy on a free port, and stops it.
# Tunables: CONTRACT_MAX_EXAMPLES (per operation, default 30), CONTRACT_SEED.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/package-plugins.sh > /dev/null
port=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
report=target/contract
mkdir -p "$report"
export TENANCY_PLUGINS=${TENANCY_PLUGINS:-plugins/dist/manifest.json}
target/debug/tenancy setup > "$report/setup.json"
target/debug/tenancy dev --port "$port" > "$report/tenancy.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT

base=http://127.0.0.1:$port
for _ in $(seq 1 100); do
  curl -fsS "$base/healthz" > /dev/null 2>&1 && break
  sleep 0.2
done
curl -fsS "$base/v1/openapi.json" -o "$report/openapi.json"
cmp -s "$report/openapi.json" openapi.json || { echo "contract: the served document is not openapi.json" >&2; exit 1; }

# Something to find: an infrastructure on the emulator's demo VPC and a tenant in it, so
# that generated requests reach real records as well as missing ones.
token=$(target/debug/tenancy token --ttl 3600)
vpc=$(.venv/bin/python -c 'import json,sys; print(json.load(open(sys.argv[1]))["demoVpcId"])' "$report/setup.json")
curl -fsS -X POST "$base/v1/infrastructures" -H "authorization: Bearer $token" -H 'content-type: application/json' \
  -d "{\"name\":\"contract\",\"region\":\"$AWS_REGION\",\"vpcId\":\"$vpc\",\"environment\":\"nonprod\"}" > /dev/null || true
curl -fsS -X POST "$base/v1/tenants" -H "authorization: Bearer $token" -H 'content-type: application/json' \
  -d '{"name":"contract-tenant","infrastructure":"contract"}' > /dev/null || true

echo "contract: schemathesis against $base (log: $report/tenancy.log)"
.venv/bin/st run "$base/v1/openapi.json" \
  --header "Authorization: Bearer $token" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
  --phases examples,coverage,fuzzing \
  --max-examples "${CONTRACT_MAX_EXAMPLES:-30}" \
  ${CONTRACT_SEED:+--seed "$CONTRACT_SEED"} \
  --workers 2 \
  --request-timeout 20 \
  --generation-database none \
  --no-color \
  --report junit --report-dir "$report"
