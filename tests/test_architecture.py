"""Dependencies flow one way (docs/architecture.md), checked on the source's import statements (AST):

- `stacks/` (pure configuration) imports nothing from `components/` or `infra/`, and no Pulumi SDK;
- `components/` and `policy/` never import `infra/`; `policy/` imports no component either;
- a component layer (cluster, namespaces, serving, data, app, jobs) imports another layer only through its
  public API (the package, i.e. its `__init__`), along the allowed edges below, plus the shared modules
  (`components.kube`, `components.cluster.base`, `components.versions`); `components.kube` imports no layer;
- the composition root (`infra/`) imports layers through their public API too;
- no program module imports another program module inside a function (a "late" import that dodges a cycle).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.renderkit import ROOT

PROGRAM = ("stacks", "components", "infra", "policy")
LAYER_DEPS: dict[str, set[str]] = {
    "cluster": set(),
    "namespaces": set(),
    "serving": set(),
    "data": set(),
    "app": {"serving", "data"},
    "jobs": {"serving", "data"},
    "monitoring": set(),
}
"""Layer -> the layers whose public API it may import (besides the shared modules). Keeps the layers a DAG."""
SHARED = {"components.kube", "components.cluster.base", "components.versions"}
"""Modules every layer may import: the Kubernetes helper library, the cluster contract, the pinned versions."""
INFRA_EXTRA_PUBLIC = {"components.app.layer", "components.app.leanrag_keys"}
"""components.app's package keeps the Pulumi-free config generators (the local harness imports them where no
Pulumi is installed), so its ComponentResource is imported from components.app.layer. components.app.leanrag_keys
is the key check the gateway and the app run (standard library, mounted into their containers): `leanrag keys`
(infra/keys.py) uses its listing and patches, so that what a revocation is stays defined in one place."""


@dataclass(frozen=True)
class Import:
    importer: str
    """Dotted name of the importing module."""
    target: str
    """Dotted name of the imported module (a name imported from a module counts as the module)."""
    line: int
    in_function: bool


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def program_modules(root: Path) -> dict[str, Path]:
    return {
        module_name(root, p): p
        for package in PROGRAM
        if (root / package).is_dir()
        for p in sorted((root / package).rglob("*.py"))
    }


def _function_nodes(tree: ast.Module) -> set[int]:
    """ids of the import nodes inside a function body."""
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            inside |= {id(n) for n in ast.walk(node) if isinstance(n, ast.Import | ast.ImportFrom)}
    return inside


def imports_of(module: str, path: Path, known: set[str]) -> list[Import]:
    tree = ast.parse(path.read_text(), filename=str(path))
    in_function = _function_nodes(tree)
    is_package = path.name == "__init__.py"
    out = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Import | ast.ImportFrom):
            continue
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                anchor = module.split(".") if is_package else module.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        for target in dict.fromkeys(targets):
            out.append(Import(module, target, node.lineno, id(node) in in_function))
    return out


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "components" and len(parts) > 1 and parts[1] in LAYER_DEPS else None


def _layer_violation(imp: Import) -> str | None:
    """Why a components module may not import `imp.target` (None when it may)."""
    source, target = layer_of(imp.importer), layer_of(imp.target)
    if imp.importer.startswith("components.kube") and target is not None:
        return "the Kubernetes helper library imports no layer"
    if target is None or target == source or imp.target in SHARED:
        return None
    if imp.target != f"components.{target}":
        return f"imports the internals of layer {target}; import its public API `components.{target}`"
    if source is not None and target not in LAYER_DEPS[source]:
        return f"layer {source} may not depend on layer {target} (allowed: {sorted(LAYER_DEPS[source]) or 'none'})"
    return None


def violations(root: Path) -> list[str]:
    """Every import of the program under `root` that breaks the direction rules, as `file:line: why`."""
    modules = program_modules(root)
    found = []
    for module, path in modules.items():
        source = module.split(".")[0]
        for imp in imports_of(module, path, set(modules)):
            target = imp.target.split(".")[0]
            why: str | None = None
            if target not in PROGRAM:
                if source == "stacks" and target.startswith("pulumi"):
                    why = "stacks/ is pure configuration: no Pulumi SDK"
            elif imp.in_function:
                why = "a function-level import of the program (import at module level; fix the cycle instead)"
            elif source == "stacks" and target in ("components", "infra"):
                why = f"stacks/ imports nothing from {target}/"
            elif source in ("components", "policy") and target == "infra":
                why = f"{source}/ never imports the composition root (infra/)"
            elif source == "policy" and target == "components":
                why = "policy/ rules are plain functions over resource properties: no components"
            elif source == "components":
                why = _layer_violation(imp)
            elif source == "infra" and layer_of(imp.target) and imp.target not in INFRA_EXTRA_PUBLIC | SHARED:
                layer = layer_of(imp.target)
                if imp.target != f"components.{layer}":
                    why = f"imports the internals of layer {layer}; import its public API `components.{layer}`"
            if why:
                found.append(f"{path.relative_to(root)}:{imp.line}: imports {imp.target}: {why}")
    return found


def test_the_program_imports_flow_one_way():
    assert violations(ROOT) == []


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


@pytest.mark.parametrize(
    ("rel", "text", "why"),
    [
        ("stacks/bad.py", "from components import kube\n", "stacks/ imports nothing from components/"),
        ("stacks/bad.py", "import infra.assemble\n", "stacks/ imports nothing from infra/"),
        ("stacks/bad.py", "import pulumi\n", "no Pulumi SDK"),
        ("components/data/bad.py", "from infra.config import StackSecrets\n", "never imports the composition root"),
        ("components/app/bad.py", "from components.serving.pod import TIER\n", "internals of layer serving"),
        ("components/app/bad.py", "from components.serving import pod\n", "internals of layer serving"),
        ("components/serving/bad.py", "from components.jobs import QuantizeJobs\n", "may not depend on layer jobs"),
        ("components/kube/bad.py", "from components.serving import ServingOutputs\n", "imports no layer"),
        ("infra/bad.py", "from components.data.milvus import VectorStore\n", "internals of layer data"),
        ("policy/bad.py", "from components import kube\n", "policy/ rules are plain functions"),
        ("stacks/late.py", "def f():\n    from stacks import catalog\n", "function-level import"),
    ],
)
def test_each_forbidden_import_is_found(tmp_path, rel, text, why):
    root = _tree(
        tmp_path,
        {
            "components/__init__.py": "",
            "components/serving/__init__.py": "",
            "components/serving/pod.py": "TIER = 'x'\n",
            "components/kube/__init__.py": "",
            rel: text,
        },
    )
    (found,) = violations(root)
    assert found.startswith(f"{rel}:") and why in found


def test_public_api_shared_modules_and_own_internals_are_allowed(tmp_path):
    root = _tree(
        tmp_path,
        {
            "components/__init__.py": "",
            "components/serving/__init__.py": "from components.serving.layer import ServingOutputs\n",
            "components/serving/layer.py": "from components import kube, versions\nfrom . import pod\n",
            "components/serving/pod.py": "from components.cluster.base import Placement\n",
            "components/app/layer.py": "from components.serving import ServingOutputs\nfrom stacks import catalog\n",
            "infra/assemble.py": (
                "from components.app.layer import AppLayer\nfrom components.serving import ModelServing\n"
            ),
            "stacks/models.py": "import yaml\nfrom stacks.uris import parse_artifact_uri\n",
        },
    )
    assert violations(root) == []


def test_the_app_config_generators_import_no_pulumi():
    """The local harness runs them in environments without Pulumi (the LiteLLM and OGX venvs)."""
    code = (
        "import sys; import components.app, components.app.gateway_config, components.app.ogx_config; "
        "print(sorted(m for m in sys.modules if m.split('.')[0].startswith('pulumi')))"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]"
