"""Pulumi.yaml's config declarations and docs/config.md are generated from the schema (stacks/reference.py)."""

import yaml

from stacks.reference import main as reference_main
from tests.renderkit import ROOT


def test_pulumi_yaml_and_config_reference_are_generated_from_the_schema():
    assert reference_main([]) == 0, "run: python -m stacks.reference --write"


def test_pulumi_yaml_declares_only_types_pulumi_accepts():
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    assert project["runtime"]["name"] == "python" and project["main"] == "infra/"
    for key, decl in project["config"].items():
        assert key.startswith("leanrag:")
        assert decl["type"] in ("string", "integer", "boolean", "array"), key
        assert decl["description"], key


def test_nested_defaults_are_the_enclosing_fields_defaults_not_the_class_defaults() -> None:
    from stacks.reference import render_reference

    rows = {
        line.split("|")[1].strip(" `"): line.split("|")[3].strip()
        for line in render_reference().splitlines()
        if line.startswith("| `")
    }
    assert rows["jobs.ingest.resources.cpu"] == '`"2"`'  # Resources(cpu="2", ...) on the field, "500m" on the class
    assert rows["platform.milvus.coordinatorResources.memory"] == '`"512Mi"`'
    assert rows["cluster.systemPool.name"] == '`"system"`'  # required on the class, defaulted on the field
    assert rows["cluster.gpuPools[].name"] == "`required`"  # list items take no enclosing default
