# The two commands that matter: `make dev` runs Tenancy locally, `make test` runs
# everything CI runs. Both install what they need on a fresh machine.
.PHONY: dev test setup bench package-plugins coldstart clean-local

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

clean-local:
	rm -rf .local .venv
