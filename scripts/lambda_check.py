"""Runs both functions under cargo-lambda's Lambda runtime emulator and feeds them the
payloads in tests/events/: API Gateway HTTP API v2 requests (with the JWT authorizer's
claims as API Gateway passes them) to `api`, EventBridge events as the template's rules
deliver them to `lifecycle`. Asserts on the answers, on the effect in the emulator, and
on the functions' output (JSON log lines with their request, tenant and step; EMF lines).

Called by scripts/lambda-check.sh, which builds the binaries and has the AWS emulator up
and its endpoint in the environment (scripts/env.sh). Needs only the standard library
and boto3 (in .venv with moto).
"""

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "tests" / "events"
WORK = ROOT / ".local" / "lambda-check"
ACCOUNT = "123456789012"  # moto's account: the one every emulated event comes from
STARTUP_SECONDS = 300  # the runtime emulator's start (cargo checks the build first)
INVOKE_SECONDS = 240  # as the lifecycle function's Timeout in template.yaml


def fail(message):
    print(f"lambda-check: FAILED: {message}", file=sys.stderr)
    sys.exit(1)


def check(condition, message):
    if not condition:
        fail(message)


def run(args, env, timeout, what):
    try:
        done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        fail(f"{what} did not finish within {timeout} s")
    if done.returncode != 0:
        fail(f"{what} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done.stdout


class Emulator:
    """`cargo lambda watch` serving both binaries on one invoke port."""

    def __init__(self, env, port, log_path):
        self.env, self.port, self.log_path = env, port, log_path
        self.process = None

    def start(self):
        self.log = open(self.log_path, "w")
        # --ignore-changes: CI builds once, no reload. Its own process group, so that the
        # function processes it spawns are ended with it.
        self.process = subprocess.Popen(
            ["cargo", "lambda", "watch", "--ignore-changes", "--invoke-address", "127.0.0.1",
             "--invoke-port", str(self.port), "--locked"],
            cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                fail(f"cargo lambda watch exited {self.process.returncode}:\n{self.output()[-4000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.2)
        fail(f"cargo lambda watch did not listen on {self.port} within {STARTUP_SECONDS} s:\n{self.output()[-4000:]}")

    def stop(self):
        if self.process and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def output(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class Check:
    def __init__(self):
        self.port = int(os.environ.get("TENANCY_LAMBDA_PORT", "9014"))
        self.run_id = uuid.uuid4().hex[:8]
        self.values = {
            "@TENANT@": "lambda-check",
            "@INFRASTRUCTURE@": "lambda-check",
            # The per-client tenant's end (its plugin requires one), well ahead of today.
            "@EXPIRES@": time.strftime("%Y-%m-%d", time.gmtime(time.time() + 60 * 86400)),
        }
        WORK.mkdir(parents=True, exist_ok=True)
        # What both functions get in the template (Globals.Function.Environment), pointed
        # at the emulator as the local run is (scripts/env.sh). A table and bus of this
        # run's own, so that a reused emulator never answers with an earlier run's data.
        self.env = dict(os.environ)
        self.env.update({
            "TENANCY_TABLE": f"tenancy-lambda-{self.run_id}",
            "TENANCY_EVENT_BUS": f"tenancy-lambda-{self.run_id}",
            "TENANCY_DEPLOYMENT": "lambda-check",
            "TENANCY_ACCOUNT_ID": ACCOUNT,
            "TENANCY_LEASE_SECONDS": "300",
            "TENANCY_CREDENTIALS_SECONDS": "3600",
            "TENANCY_TRUSTED_PRODUCERS": "",
            "RUST_LOG": "info",
            "NO_COLOR": "1",
        })
        self.sdk = dict(endpoint_url=os.environ["TENANCY_AWS_ENDPOINT"], region_name=os.environ["AWS_REGION"])

    def tenancy(self, *args):
        binary = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "debug" / "tenancy"
        return run([str(binary), *args], self.env, 300, f"tenancy {' '.join(args)}")

    def prepare(self):
        # The table, bus, request rule (with its queue standing in for the Lambda target),
        # tenant boundary and demo VPC, as `make dev` makes them.
        prepared = json.loads(self.tenancy("setup").strip().splitlines()[-1])
        self.values["@VPC_ID@"] = prepared["demoVpcId"]
        self.queue_url = prepared["queueUrl"]
        # The tenant types packaged as for the layer, precompiled for this machine: the
        # functions have no compiler, so the scenario's per-client tenant proves that both
        # load a packaged artifact (scripts/lambda-check.sh builds the plugins).
        wasm = ROOT / "plugins" / "target" / "wasm32-wasip2" / "release"
        check(any(wasm.glob("*.wasm")), f"no plugins in {wasm}: run scripts/build-plugins.sh")
        out = WORK / "plugins"
        self.tenancy("plugin", "package", "--types", str(ROOT / "plugins" / "tenant-types.json"),
                     "--wasm-dir", str(wasm), "--out", str(out))
        self.env["TENANCY_PLUGINS"] = str(out / "manifest.json")

    def payload(self, relative):
        """A payload file with this run's values in place of its @PLACEHOLDERS@."""
        text = (EVENTS / relative).read_text()
        for key, value in self.values.items():
            quoted = f'"{key}"'
            if isinstance(value, int):
                text = text.replace(quoted, str(value))
            text = text.replace(key, str(value))
        check("@" not in text.replace("@example.com", ""), f"{relative}: a placeholder has no value")
        path = WORK / relative.replace("/", "-")
        path.write_text(text)
        return path

    def invoke(self, function, relative):
        path = self.payload(relative)
        out = run(["cargo", "lambda", "invoke", function, "--invoke-address", "127.0.0.1",
                   "--invoke-port", str(self.port), "--data-file", str(path), "--output-format", "json"],
                  self.env, INVOKE_SECONDS, f"cargo lambda invoke {function} --data-file {relative}")
        try:
            return json.loads(out)
        except json.JSONDecodeError:
            fail(f"{function} answered {relative} with no JSON: {out}")

    def api(self, relative, status):
        answer = self.invoke("api", relative)
        raw = answer.get("body") or "null"
        if answer.get("isBase64Encoded"):
            raw = base64.b64decode(raw).decode()
        body = json.loads(raw)
        check(answer.get("statusCode") == status,
              f"api {relative}: expected {status}, got {answer.get('statusCode')}: {body}")
        print(f"lambda-check: api {relative} -> {status}")
        return answer, body

    def lifecycle(self, relative, expected):
        answer = self.invoke("lifecycle", relative)
        check(isinstance(answer, str) and answer.startswith(expected),
              f"lifecycle {relative}: expected {expected}..., got {answer!r}")
        print(f"lambda-check: lifecycle {relative} -> {answer}")
        return answer

    def published_request(self, detail_type):
        """The request the API put on the bus, as the rule delivered it to its queue."""
        sqs = boto3.client("sqs", **self.sdk)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            got = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            for message in got.get("Messages", []):
                event = json.loads(message["Body"])
                if event.get("detail-type") == detail_type:
                    return event
        fail(f"the API published no '{detail_type}' on the bus")

    def run(self):
        self.prepare()
        tenant = self.values["@TENANT@"]
        # The functions see what Lambda would give them: the template's variables and, of
        # the AWS_ ones, only the region and the role's credentials (none of this machine's
        # AWS_CONFIG_FILE, AWS_CA_BUNDLE...), so that they take the configuration a
        # deployed function takes, straight from the environment.
        lambda_sets = {"AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}
        function_env = {name: value for name, value in self.env.items()
                        if not name.startswith("AWS_") or name in lambda_sets}
        emulator = Emulator(function_env, self.port, WORK / "watch.log")
        try:
            emulator.start()
            self.scenario(tenant)
        finally:
            emulator.stop()
        self.check_output(emulator.output(), tenant)
        print("lambda-check: ok")

    def scenario(self, tenant):
        self.api("api/create-infrastructure.json", 201)
        answer, created = self.api("api/create-tenant.json", 202)
        check(created["state"] == "provisioning", f"a new tenant is provisioning: {created}")
        check(answer["headers"].get("location") == f"/v1/tenants/{tenant}", f"Location: {answer['headers']}")
        _, got = self.api("api/get-tenant.json", 200)
        self.api("api/get-missing-tenant.json", 404)
        _, refused = self.api("api/list-infrastructures-as-developer.json", 403)
        check(refused["type"] == "urn:tenancy:problem:forbidden", f"403 is a problem document: {refused}")

        # The request as the API published it has the shape of the file's, which the
        # lifecycle function then receives with this tenant's id and version.
        published = self.published_request("Tenant Create Requested")
        template = json.loads((EVENTS / "bus/tenant-create-requested.json").read_text())
        check(published["source"] == template["source"], f"source: {published['source']}")
        check(sorted(published["detail"]) == sorted(template["detail"]),
              f"the published detail {published['detail']} has the keys of the file's")
        self.values["@TENANT_ID@"] = published["detail"]["tenantId"]
        self.values["@VERSION@"] = published["detail"]["version"]
        check(got["id"] == self.values["@TENANT_ID@"], "the event names the tenant the API created")

        self.lifecycle("bus/tenant-create-requested.json", 'Drove("lambda-check", Done(Active))')
        _, active = self.api("api/get-tenant.json", 200)
        check(active["state"] == "active", f"the tenant is active: {active}")
        # The effect in the cloud: the tenant's role and security group exist.
        iam = boto3.client("iam", **self.sdk)
        role = iam.get_role(RoleName=f"tenancy-{tenant}")["Role"]
        check(role["Path"].startswith("/tenancy/"), f"the role is under /tenancy/: {role['Path']}")
        ec2 = boto3.client("ec2", **self.sdk)
        groups = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [f"tenancy-{tenant}"]}])
        check(len(groups["SecurityGroups"]) == 1, f"one security group: {groups['SecurityGroups']}")

        # A producer the deployment does not trust: refused, nothing made.
        self.lifecycle("bus/untrusted-create-requested.json", "Rejected(")
        self.lifecycle("bus/scheduled-sweep.json", "Swept(0)")

        _, deleting = self.api("api/delete-tenant.json", 202)
        self.values["@VERSION@"] = deleting["version"]
        self.lifecycle("bus/tenant-delete-requested.json", 'Drove("lambda-check", Done(Deleted))')
        _, deleted = self.api("api/get-tenant.json", 200)
        check(deleted["state"] == "deleted", f"the tenant is deleted: {deleted}")
        groups = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [f"tenancy-{tenant}"]}])
        check(groups["SecurityGroups"] == [], "the security group is gone")

    def check_output(self, output, tenant):
        """The functions' own lines: JSON logs naming request, tenant and step; EMF."""
        lines = []
        for raw in output.splitlines():
            start = raw.find("{")
            if start < 0:
                continue
            try:
                lines.append(json.loads(raw[start:]))
            except json.JSONDecodeError:
                continue
        logs = [line for line in lines if "level" in line and "message" in line]
        emf = [line for line in lines if "_aws" in line]
        check(logs, f"no JSON log lines in the functions' output:\n{output[-4000:]}")
        # Both functions configured the SDK from the environment, as in Lambda, and every
        # call of the scenario above went through that configuration.
        configured = [line.get("credentials") for line in logs if line.get("message") == "AWS SDK configured"]
        check(len(configured) >= 2 and set(configured) == {"lambda environment"},
              f"the functions' SDK configuration: {configured}")
        # Both functions were built without the plugin compiler, as sam build builds them...
        registered = [line.get("compiler") for line in logs if line.get("message") == "tenant types registered"]
        check(len(registered) >= 2 and set(registered) == {False},
              f"the functions' builds have no plugin compiler: {registered}")
        # ...and loaded the per-client plugin from its precompiled artifact: the API to
        # validate the tenant, the worker to plan it.
        loaded = [line for line in logs if line.get("message") == "plugin loaded"]
        check(len(loaded) >= 2 and all(line.get("plugin") == "per-client" for line in loaded),
              f"each function loads the per-client plugin once: {loaded}")
        check(not [line for line in logs if line.get("level") in ("WARN", "ERROR") and "plugin" in line.get("message", "")],
              "no plugin warning or error in the functions' logs")
        # The API: API Gateway's request id, and the tenant of the route.
        get_id = json.loads((EVENTS / "api/get-tenant.json").read_text())["requestContext"]["requestId"]
        served = [line for line in logs if line.get("request_id") == get_id and line.get("message") == "request"]
        check(served and served[0].get("tenant") == tenant, f"the API's request line: {served}")
        # The lifecycle function: Lambda's request id, the event id, the tenant and step.
        event_id = json.loads((EVENTS / "bus/tenant-create-requested.json").read_text())["id"]
        worked = [line for line in logs if line.get("event_id") == event_id]
        check(worked, "no log line names the create request's event id")
        check(all(line.get("request_id") for line in worked), f"a lifecycle line without request_id: {worked}")
        check(any(line.get("tenant") == tenant and line.get("operation") == "create" for line in worked),
              f"no lifecycle line names the tenant and operation: {worked}")
        # EMF: a duration per step of the create, and the tenant created and deleted.
        steps = {line["Step"] for line in emf if line.get("Operation") == "create" and "StepDuration" in line}
        check(steps == {"securityGroup", "role", "instanceProfile", "key"}, f"StepDuration lines: {steps}")
        for line in emf:
            check(line["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Tenancy", f"namespace: {line}")
            check(isinstance(line["_aws"]["Timestamp"], int), f"timestamp: {line}")
        check(any(line.get("TenantsCreated") == 1 and line.get("tenant") == tenant for line in emf), "TenantsCreated")
        check(any(line.get("TenantsDeleted") == 1 and line.get("tenant") == tenant for line in emf), "TenantsDeleted")
        print(f"lambda-check: {len(logs)} JSON log lines, {len(emf)} EMF lines")


if __name__ == "__main__":
    Check().run()
