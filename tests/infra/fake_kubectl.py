"""A stand-in for `kubectl` in tests (no cluster exists here): tests copy it onto PATH as `kubectl`.

It keeps ConfigMaps as JSON files, `$FAKE_KUBECTL_STATE/<context>/<namespace>/<name>.json` (the context is
`--context`, else `default`), and implements exactly what `leanrag keys` calls:

    kubectl [--context C] [--kubeconfig K] get configmap NAME -n NS -o json
    kubectl [--context C] [--kubeconfig K] patch configmap NAME -n NS --type merge -p PATCH

`patch` applies PATCH as a JSON merge patch (RFC 7386: objects merge, null deletes a key), as the API server does
for `--type merge`. Failures answer as kubectl does, on stderr with exit code 1: a missing ConfigMap
(`Error from server (NotFound)`), an unknown context, and, when the namespace folder holds a file `forbidden`, the
API server's RBAC refusal. Every call is appended to `$FAKE_KUBECTL_STATE/calls` (one JSON list a line). Anything
else is refused loudly (exit 64), so a test fails if the CLI calls something this does not stand in for.
Standard library only: it runs with the test's Python through its shebang.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def fail(message: str, code: int = 1) -> int:
    print(message, file=sys.stderr)
    return code


def main(argv: list[str]) -> int:
    state = Path(os.environ["FAKE_KUBECTL_STATE"])
    with (state / "calls").open("a") as calls:
        calls.write(json.dumps(argv) + "\n")
    args, context = list(argv), "default"
    while args[:1] in (["--context"], ["--kubeconfig"]):
        if args[0] == "--context":
            context = args[1]
        args = args[2:]
    cluster = state / context
    if not cluster.is_dir():
        return fail(f'error: context "{context}" does not exist')
    if len(args) < 5 or args[1] != "configmap" or args[3] != "-n":
        return fail(f"fake kubectl: not implemented: {argv}", 64)
    verb, name, namespace, rest = args[0], args[2], args[4], args[5:]
    path = cluster / namespace / f"{name}.json"
    if (cluster / namespace / "forbidden").exists():
        return fail(
            f'Error from server (Forbidden): configmaps "{name}" is forbidden: User "dev" cannot {verb} resource '
            f'"configmaps" in API group "" in the namespace "{namespace}"'
        )
    if verb == "get" and rest == ["-o", "json"]:
        if not path.exists():
            return fail(f'Error from server (NotFound): configmaps "{name}" not found')
        print(path.read_text())
        return 0
    if verb == "patch" and len(rest) == 4 and rest[:3] == ["--type", "merge", "-p"]:
        if not path.exists():
            return fail(f'Error from server (NotFound): configmaps "{name}" not found')
        before = json.loads(path.read_text())
        after = merge_patch(before, json.loads(rest[3]))
        path.write_text(json.dumps(after, indent=1))
        print(f"configmap/{name} patched" + (" (no change)" if after == before else ""))
        return 0
    return fail(f"fake kubectl: not implemented: {argv}", 64)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
