"""`python -m infra.plan STACK --diff BASE`: added, removed and changed resources and objects with their changed
fields, the monthly cost before and after, and the pull-request comment (--markdown)."""

import json
import re
from pathlib import Path

import pytest
import yaml

from infra import diff
from infra.mocks import REDACTED
from infra.plan import main
from stacks import catalog, memory
from stacks.catalog import ModelSpec
from tests.renderkit import ROOT

MODEL = "llama-3-1-8b"


def _stack_file(folder: Path, precision: str) -> Path:
    """dev with its model quantized by the stack's Job (so its artifact lands in the model bucket)."""
    raw = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    model = raw["config"]["leanrag:serving"]["models"][0]
    model.update(id=f"{MODEL}-quantized", quantizeFrom="meta-llama/Llama-3.1-8B-Instruct", precision=precision)
    model.pop("shape")
    raw["config"]["leanrag:hfToken"] = {"secure": "v1:offline"}
    folder.mkdir(parents=True)
    path = folder / "Pulumi.review.yaml"  # the same stack name on both sides: only the precision differs
    path.write_text(yaml.safe_dump(raw))
    return path


def test_a_precision_change_reports_exactly_that_change_and_the_cost_delta(tmp_path, capsys):
    base = _stack_file(tmp_path / "base", "w4a16")
    head = _stack_file(tmp_path / "head", "fp8")
    assert main([str(base), "--out", str(tmp_path / "base-plan"), "--quiet"]) == 0
    comment = tmp_path / "comment.md"
    capsys.readouterr()
    code = main(
        [
            str(head),
            "--out",
            str(tmp_path / "head-plan"),
            "--quiet",
            "--diff",
            str(tmp_path / "base-plan"),
            "--markdown",
            str(comment),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0

    bucket = "s3://leanrag-review-models-"
    changes = re.findall(r"^  ([+~-]) (.+)$", out, flags=re.M)
    assert changes == [
        ("~", f"Deployment.apps serving/{MODEL}"),
        ("~", f"Job.batch jobs/leanrag-review-benchmark-{MODEL}"),  # the report names the precision it measured
        ("~", f"Job.batch jobs/leanrag-review-quantize-{MODEL}"),
    ]
    fields = re.findall(r"^      (\S+): (.+) -> (.+)$", out, flags=re.M)
    assert [(path, old.split("/")[-1], new.split("/")[-1]) for path, old, new in fields] == [
        ("spec.template.spec.containers[vllm].args[0]", 'w4a16"', 'fp8"'),  # the artifact the server streams
        ("spec.template.spec.containers[benchmark].args[16]", '"w4a16"', '"fp8"'),  # the report's precision
        ("spec.template.spec.containers[quantize].args[3]", '"w4a16"', '"fp8"'),  # the scheme the Job applies
        ("spec.template.spec.containers[quantize].args[5]", 'w4a16"', 'fp8"'),  # where the Job writes it
    ]
    assert all(bucket in old and bucket in new for path, old, new in fields if "args[0]" in path or "args[5]" in path)
    assert "resources: 0 added, 0 removed, 0 changed" in out

    # the cost: the bucket holds the quantized artifact, whose size follows the precision
    shape = ModelSpec.model_validate(catalog.models()["meta-llama/Llama-3.1-8B-Instruct"].model_dump())
    grown_gb = memory.weights_gb(shape, "fp8") - memory.weights_gb(shape, "w4a16")  # 8.555 - 4.920 GB
    delta = grown_gb * catalog.cloud("aws").price("object_storage_gb_month").usd  # x $0.023 = $0.08
    assert f"{delta:.2f}" == "0.08"
    assert "monthly cost: $449..$1,114 -> $449..$1,114/month (min +$0.08, max +$0.08)" in out
    before = json.loads((tmp_path / "base-plan" / "plan.json").read_text())["cost"]["monthly"]["max"]
    after = json.loads((tmp_path / "head-plan" / "plan.json").read_text())["cost"]["monthly"]["max"]
    assert after - before == pytest.approx(delta, abs=1e-3)

    text = comment.read_text()
    assert text.startswith("### Offline plan `review` against ")
    assert "**3 changed · 0 added · 0 removed**" in text
    assert "| change | +$0.08 | +$0.08 |" in text and "model bucket $1.29 → $1.37" in text
    assert "<details><summary>Changed (3)</summary>" in text and "Added" not in text


def test_field_changes_name_the_path_match_named_items_and_keep_secrets_redacted():
    old = {"spec": {"containers": [{"name": "a", "image": "x:1"}, {"name": "b", "args": ["--p", "1"]}]}, "n": 1}
    new = {"spec": {"containers": [{"name": "b", "args": ["--p", "2", "--q"]}, {"name": "a", "image": "x:2"}]}}
    assert diff.field_changes(old, new) == [
        diff.FieldChange("n", 1, diff.MISSING),
        diff.FieldChange("spec.containers[a].image", "x:1", "x:2"),
        diff.FieldChange("spec.containers[b].args[1]", "1", "2"),
        diff.FieldChange("spec.containers[b].args[2]", diff.MISSING, "--q"),
    ]
    secret = {"kind": "Secret", "metadata": {"name": "s"}, "stringData": {"token": "plain-by-mistake"}}
    changed = {**secret, "stringData": {"token": "other"}}
    result = diff.compare(diff.Plan("a", objects={"Secret s": secret}), diff.Plan("b", objects={"Secret s": changed}))
    assert result.changes[0].fields == (diff.FieldChange("stringData.token", REDACTED, REDACTED),)
    assert "plain-by-mistake" not in "\n".join(result.text()) + result.markdown("x")


def test_a_git_ref_is_planned_in_a_temporary_copy_of_that_commit():
    with diff.base_plan("HEAD", ROOT / "Pulumi.local.yaml", ROOT) as base:
        assert re.fullmatch(r"HEAD \([0-9a-f]{10}\)", base.label)
        assert not base.path.is_relative_to(ROOT)
        plan = diff.read_plan(base.path, base.label)
        assert plan.objects and plan.resources
        # the copy is no checkout, yet its Helm releases are rendered from the same chart sources as this tree's
        releases = json.loads((base.path / "plan.json").read_text())["helmReleases"]
        assert [(r["name"], r["rendered"]) for r in releases] == [("leanrag-local-milvus", True)]
        assert any(key.endswith("(Helm release leanrag-local-milvus)") for key in plan.objects)
        folder = base.path
    assert not folder.exists()  # removed afterwards


def test_a_base_that_cannot_be_read_is_a_clear_error(tmp_path, capsys):
    assert main(["local", "--out", str(tmp_path / "p"), "--quiet", "--diff", "no-such-ref-or-folder"]) == 2
    assert "error: --diff no-such-ref-or-folder: neither a plan directory nor a git ref" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["local", "--out", str(tmp_path / "p"), "--quiet", "--diff", str(tmp_path / "empty")]) == 2
    assert "a folder without plan.json" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["local", "--markdown", str(tmp_path / "c.md")])
    assert "--markdown needs --diff BASE" in capsys.readouterr().err


def test_an_older_plan_with_numbered_files_compares_by_object_identity(tmp_path, capsys):
    assert main(["local", "--out", str(tmp_path / "old"), "--quiet"]) == 0
    old = tmp_path / "old"
    for i, path in enumerate(sorted((old / "k8s").glob("*.yaml")), 1):  # as plans were named before
        path.rename(path.with_name(f"{i:03d}-{path.name}"))
    index = json.loads((old / "plan.json").read_text())
    for r in index["resources"]:
        r.pop("inputs", None)
        r.pop("file", None)
    index.pop("cost")
    (old / "plan.json").write_text(json.dumps(index))
    capsys.readouterr()
    assert main(["local", "--out", str(tmp_path / "new"), "--quiet", "--diff", str(old)]) == 0
    out = capsys.readouterr().out
    assert "Kubernetes objects: 0 added, 0 removed, 0 changed" in out
    assert "resources: 0 added, 0 removed, 0 changed" in out and "compare by presence" in out


def test_the_comment_stays_within_what_github_accepts():
    big = {f"ConfigMap ns/c{i}": {"data": {f"k{j}": "x" * 90 for j in range(30)}} for i in range(300)}
    changed = {k: {"data": {f"k{j}": "y" * 90 for j in range(30)}} for k in big}
    text = diff.compare(diff.Plan("a", objects=big), diff.Plan("b", objects=changed)).markdown("prod")
    assert len(text) < 65_536 and "more (see the plan artifact)" in text and "**300 changed" in text


def test_a_chart_value_change_shows_in_the_objects_the_chart_renders(tmp_path, capsys):
    raw = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    for side, gb in (("base", 50), ("head", 80)):
        raw["config"]["leanrag:platform"]["milvus"]["storageGb"] = gb
        (tmp_path / side).mkdir()
        (tmp_path / side / "Pulumi.review.yaml").write_text(yaml.safe_dump(raw))
    assert main([str(tmp_path / "base" / "Pulumi.review.yaml"), "--out", str(tmp_path / "bp"), "--quiet"]) == 0
    capsys.readouterr()
    head = [str(tmp_path / "head" / "Pulumi.review.yaml"), "--out", str(tmp_path / "hp"), "--quiet"]
    assert main([*head, "--diff", str(tmp_path / "bp")]) == 0
    out = capsys.readouterr().out
    assert re.findall(r"^  ([+~-]) (.+)$", out, flags=re.M) == [
        ("~", "kubernetes:helm.sh/v3:Release leanrag-review-milvus"),  # the values passed
        ("~", "PersistentVolumeClaim milvus/milvus-minio (Helm release leanrag-review-milvus)"),  # what Helm makes
    ]
    assert '      spec.resources.requests.storage: "50Gi" -> "80Gi"' in out
    assert "persistent volumes: $7.04 -> $9.44 at maxNodes (+$2.40)" in out  # 30 GB more gp3 at $0.08
