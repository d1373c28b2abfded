# The two commands that matter: `make dev` runs Tenancy locally, `make test` runs
# everything CI runs. Both install what they need on a fresh machine.
.PHONY: dev test setup bench clean-local

dev:
	scripts/dev.sh

test:
	scripts/test.sh

setup:
	scripts/setup.sh

bench:
	scripts/bench.sh

clean-local:
	rm -rf .local .venv
