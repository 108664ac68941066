"""infra/sdk_imports.py: the provider SDKs imported on demand give the same plans, and every name still resolves."""

from __future__ import annotations

import filecmp
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from infra import sdk_imports

ROOT = Path(__file__).resolve().parents[2]


def _python(code: str, full: bool = False) -> str:
    env = {**os.environ, sdk_imports.FULL_IMPORTS_ENV: "1" if full else "0"}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _differences(a: Path, b: Path) -> list[str]:
    cmp = filecmp.dircmp(a, b)
    out = [*cmp.left_only, *cmp.right_only, *cmp.diff_files, *cmp.funny_files]
    for sub in cmp.common_dirs:
        out += [f"{sub}/{d}" for d in _differences(a / sub, b / sub)]
    return out


@pytest.mark.slow
@pytest.mark.parametrize("stack", ["dev", "prod", "local"])
def test_plans_are_byte_identical_with_the_sdks_imported_whole(stack: str, tmp_path: Path) -> None:
    plan = "from infra.plan import main; raise SystemExit(main([{stack!r}, '--out', {out!r}, '--quiet']))"
    _python(plan.format(stack=stack, out=str(tmp_path / "on-demand")))
    _python(plan.format(stack=stack, out=str(tmp_path / "whole")), full=True)
    assert not _differences(tmp_path / "on-demand", tmp_path / "whole")


def test_the_plan_imports_only_the_resources_it_uses(tmp_path: Path) -> None:
    counts = _python(
        "import io, sys, contextlib\n"
        "from infra.plan import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    assert main(['prod', '--out', {str(tmp_path)!r}, '--quiet']) == 0\n"
        "print(sum(m.startswith('pulumi_gcp.compute.') for m in sys.modules),"
        " sum(m.startswith('pulumi_kubernetes.core.v1.') for m in sys.modules))"
    )
    compute, core = map(int, counts.split())
    assert 0 < compute < 20  # of 287 modules in pulumi_gcp.compute
    assert 0 < core < 20  # of 50 in pulumi_kubernetes.core.v1


def test_names_resolve_to_the_objects_a_star_import_binds() -> None:
    out = _python(
        "from infra import sdk_imports\n"
        "sdk_imports.install()\n"
        "import pulumi_gcp as gcp, pulumi_kubernetes as k8s, pulumi_aws as aws\n"
        "from pulumi_gcp.compute import network, _inputs\n"
        "assert gcp.compute.Network is network.Network\n"
        "assert gcp.compute.NetworkArgs is network.NetworkArgs\n"
        "assert gcp.compute.RouterNatLogConfigArgs is _inputs.RouterNatLogConfigArgs\n"
        "assert gcp.compute.outputs.__name__ == 'pulumi_gcp.compute.outputs'\n"
        "assert k8s.core.v1.Service.__module__ == 'pulumi_kubernetes.core.v1.Service'\n"
        "assert k8s.core.v1.ServiceSpecArgs.__module__ == 'pulumi_kubernetes.core.v1._inputs'\n"
        "assert aws.ec2.Vpc.__module__ == 'pulumi_aws.ec2.vpc'\n"
        "import sys\n"
        "loaded = sum(m.startswith('pulumi_gcp.compute.') for m in sys.modules)\n"
        "assert gcp.compute._utilities is gcp._utilities\n"  # not exported by a module: the real __init__ runs
        "assert sum(m.startswith('pulumi_gcp.compute.') for m in sys.modules) > loaded + 200\n"
        "try:\n"
        "    gcp.compute.NoSuchResource\n"
        "except AttributeError as e:\n"
        "    print('AttributeError', e)\n"
    )
    assert "AttributeError" in out and "NoSuchResource" in out


def _aggregating_packages() -> list[Path]:
    found = []
    for top in sdk_imports.SDK_PACKAGES:
        spec = importlib.util.find_spec(top)
        assert spec and spec.origin
        for init in sorted(Path(spec.origin).parent.rglob("__init__.py")):
            source = init.read_text(encoding="utf-8")
            if init.parent.name != top and sdk_imports._STAR_IMPORT.search(source):
                found.append(init.parent)
    return found


@pytest.mark.slow
def test_each_name_is_exported_by_one_module_of_its_package() -> None:
    """What makes binding the first module found equal to a star import (where the last one wins)."""
    packages = _aggregating_packages()
    assert len(packages) > 100
    clashes = []
    for folder in packages:
        source = (folder / "__init__.py").read_text(encoding="utf-8")
        owner: dict[str, str] = {}
        for star in sdk_imports._STAR_IMPORT.findall(source):
            for name in sdk_imports._exports(folder / f"{star}.py"):
                if name in owner:
                    clashes.append(f"{folder.name}: {name} in {owner[name]} and {star}")
                owner[name] = star
    assert not clashes
