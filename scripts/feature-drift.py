#!/usr/bin/env python3
"""Fails when building the Lambda functions alone (the workspace's default members, as
`sam build` and `cargo lambda watch` build them) would resolve a shared dependency with
other features than the whole workspace's test build does: cargo would then compile that
dependency, and every crate above it, a second time. The fix is an entry in
crates/workspace-hack/Cargo.toml. The plugin compiler's crates differ on purpose (the
functions carry no compiler) and are listed below.

    scripts/feature-drift.py        (run by scripts/test.sh; uses `cargo tree` only)
"""

import subprocess
import sys

# Built twice on purpose: the `compiler` feature and what it turns on in wasmtime, and the
# test-only features tests enable on our own crates (cheap to build twice).
EXPECTED = {
    "tenancy-plugin-host",  # compiler, cross-compile
    "tenancy-domain",  # test-support (dev-dependencies of the tests)
    "wasmtime",  # cranelift, wat
    "wasmtime-environ",  # compile, gc, threads...: Cranelift's needs
    "wasmtime-internal-unwinder",  # cranelift
    "gimli",  # write: Cranelift's debug info
    "object",  # write: Cranelift's object files
    "pulley-interpreter",  # disas: Cranelift's Pulley backend
    "bumpalo",  # allocator-api2: Cranelift
    "wasm-encoder",  # default: wat
}


def features(*args: str) -> dict[str, set[str]]:
    out = subprocess.run(
        ["cargo", "tree", "--locked", "-f", "{p}|{f}", "--prefix", "none", *args],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    resolved: dict[str, set[str]] = {}
    for line in out.splitlines():
        if "|" not in line:
            continue
        package, names = line.replace(" (*)", "").split("|", 1)
        resolved.setdefault(package.strip(), set()).update(f for f in names.split(",") if f)
    return resolved


def main() -> int:
    functions = features("-e", "normal,build")
    workspace = features("--workspace", "-e", "normal,build,dev")
    drift = []
    for package, own in sorted(functions.items()):
        theirs = workspace.get(package)
        if theirs is None or theirs == own or package.split(" ")[0] in EXPECTED:
            continue
        drift.append(f"  {package}: the workspace adds {sorted(theirs - own)}" + (f", lacks {sorted(own - theirs)}" if own - theirs else ""))
    if drift:
        print("Building the functions alone would compile these (and all above them) a second time:", file=sys.stderr)
        print("\n".join(drift), file=sys.stderr)
        print("Add the features to crates/workspace-hack/Cargo.toml (unless they belong to the plugin compiler).", file=sys.stderr)
        return 1
    print("the functions' dependencies share the workspace's features (compiler crates aside)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
