# The two commands that matter: `make dev` runs Tenancy locally, `make test` runs
# everything CI runs. Both install what they need on a fresh machine.
.PHONY: dev test setup bench package-plugins package lambda-check coldstart clean-local

dev:
	scripts/dev.sh

test:
	scripts/test.sh

setup:
	scripts/setup.sh

bench:
	scripts/bench.sh

# plugins/dist: the tenant types for `sam build` (template.yaml ships it as a layer).
package-plugins:
	scripts/package-plugins.sh

# Cold-start figures (release build, ~30 min on 2 cores): not part of `make test`.
coldstart:
	scripts/coldstart.sh

# Both functions under cargo-lambda's runtime emulator, fed tests/events/ (part of `make test`).
lambda-check:
	scripts/lambda-check.sh

# The deployable build: the plugins' layer, then `sam build` (template.yaml's
# rust-cargolambda build method: a release build of each function for arm64, linked by
# zig; cargo-lambda and zig from .venv, Rust's arm64 standard library from rustup).
# About 30 minutes on 2 cores. Then `sam deploy`.
package: package-plugins
	rustup target list --installed | grep -qx aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu
	PATH="$(CURDIR)/.venv/bin:$$PATH" SAM_CLI_TELEMETRY=0 \
	  .venv/bin/sam build --template template.yaml

clean-local:
	rm -rf .local .venv
