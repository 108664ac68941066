"""The offline plan reads stack files itself: a broken file is one clear line, never a traceback; duplicate keys
and keys outside `config:` are refused with their lines, together with the program's own problems."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra import plan
from infra.mocks import stack_config
from infra.stack_file import OFFLINE_SECRET, StackFileError, read
from stacks.preflight import Problem

VALID = """\
config:
  aws:region: us-east-1
  leanrag:cloud: aws
  leanrag:region: us-east-1
  leanrag:cluster:
    gpuPools:
      - {name: gpu, instanceType: g6.xlarge, maxNodes: 1}
  leanrag:serving:
    models:
      - name: chat
        id: Qwen/Qwen2.5-7B-Instruct
        precision: w4a16
        pool: gpu
  leanrag:hfToken:
    secure: v1:abc
"""


def stack(tmp_path: Path, text: str, name: str = "t") -> Path:
    path = tmp_path / f"Pulumi.{name}.yaml"
    path.write_text(text)
    return path


def run_plan(path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = plan.main([str(path), "--out", str(tmp_path / "out"), "--quiet"])
    captured = capsys.readouterr()
    return code, captured.err


def test_a_valid_file_reads_as_the_engine_passes_it(tmp_path: Path):
    parsed = read(stack(tmp_path, VALID))
    config, secret_keys = parsed.engine_config()
    assert parsed.problems == []
    assert config["leanrag:cloud"] == "aws" and config["aws:region"] == "us-east-1"
    assert config["leanrag:cluster"].startswith('{"gpuPools"')
    assert config["leanrag:hfToken"] == OFFLINE_SECRET and secret_keys == ["leanrag:hfToken"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("config:\n  leanrag:cloud: aws\n   leanrag:region: x: y\n", r"Pulumi\.t\.yaml:3:\d+: not valid YAML: "),
        ("config:\n  leanrag:cloud: [aws\n", r"Pulumi\.t\.yaml:\d+:\d+: not valid YAML: "),
        ("config:\n  - leanrag:cloud\n  - aws\n", r"Pulumi\.t\.yaml:2: `config` must be a mapping .* not a list"),
        ("config: aws\n", r"Pulumi\.t\.yaml:1: `config` must be a mapping .* not a str"),
        ("- config\n", r"Pulumi\.t\.yaml:1: a stack file is a mapping with a `config:` key, not a list"),
        ("config: {}\n---\nconfig: {}\n", r"Pulumi\.t\.yaml:\d+:\d+: not valid YAML: .*single document"),
    ],
)
def test_a_file_that_cannot_be_read_is_one_line_with_its_place(tmp_path: Path, text: str, expected: str):
    with pytest.raises(StackFileError, match=expected):
        read(stack(tmp_path, text))


def test_a_file_that_is_not_utf8_or_not_readable_is_one_line(tmp_path: Path):
    path = tmp_path / "Pulumi.t.yaml"
    path.write_bytes(b"config:\n  leanrag:region: \xff\n")
    with pytest.raises(StackFileError, match=r"not UTF-8 text"):
        read(path)
    with pytest.raises(StackFileError, match=r"cannot be read"):
        read(tmp_path / "Pulumi.missing.yaml")


def test_duplicate_keys_are_refused_with_both_lines(tmp_path: Path):
    text = VALID + "  leanrag:region: eu-west-1\n  region: us-west-2\n"
    found = [(p.key, p.message, p.location) for p in read(stack(tmp_path, text)).problems]
    assert found == [
        ("leanrag:region", "written twice, on lines 4 and 16 (the last would win silently)", "Pulumi.t.yaml:16"),
        # `region` is the same key (the project's namespace), written a third time
        ("leanrag:region", "written twice, on lines 16 and 17 (the last would win silently)", "Pulumi.t.yaml:17"),
    ]
    (config_twice,) = read(stack(tmp_path, VALID + "config: {}\n")).problems
    assert (config_twice.key, config_twice.location) == ("config", "Pulumi.t.yaml:16")


def test_duplicate_keys_inside_a_section_name_the_key_path(tmp_path: Path):
    text = VALID.replace("maxNodes: 1}", "maxNodes: 1, maxNodes: 3}")
    (problem,) = read(stack(tmp_path, text)).problems
    assert problem.key == "leanrag:cluster.gpuPools[0].maxNodes" and problem.location == "Pulumi.t.yaml:7"


def test_keys_outside_config_bad_keys_and_empty_values_are_problems(tmp_path: Path):
    text = VALID + "  leanrag:zones:\n  a:b:c: 1\nconfg:\n  leanrag:cloud: gcp\n"
    found = {p.key: str(p) for p in read(stack(tmp_path, text)).problems}
    assert "has no value" in found["leanrag:zones"]
    assert "a config key is `namespace:key`" in found["config:a:b:c"]
    assert found["confg"].startswith("Pulumi.t.yaml:18: confg: not a key of Pulumi stack files")


def test_problems_of_the_program_get_the_line_of_their_key(tmp_path: Path):
    parsed = read(stack(tmp_path, VALID))
    located = parsed.locate(Problem("serving.models[0].precision", "m", "f"))
    assert located.location == "Pulumi.t.yaml:12"
    assert parsed.locate(Problem("serving.models[0].maxContext", "missing", "f")).location == "Pulumi.t.yaml:10"
    assert parsed.locate(Problem("region", "m", "f", namespace="aws")).location == "Pulumi.t.yaml:2"
    assert parsed.locate(Problem("labels", "m", "f")).location == ""


def test_the_renderkit_reader_refuses_a_file_with_problems(tmp_path: Path):
    with pytest.raises(StackFileError, match=r"written twice"):
        stack_config(stack(tmp_path, VALID + "  leanrag:cloud: gcp\n"))


def test_plan_of_a_broken_file_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    code, err = run_plan(stack(tmp_path, "config:\n  leanrag:cloud: aws\n   x: 1\n"), tmp_path, capsys)
    assert code == 2 and err.startswith("plan t: Pulumi.t.yaml:3:") and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_plan_reports_file_provider_schema_and_preflight_problems_together(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    text = (
        VALID.replace("aws:region: us-east-1", "aws:region: us-west-2\n  aws:regoin: us-east-1")
        .replace("maxNodes: 1}", "maxNodes: 1, maxNodes: 2}")
        .replace("pool: gpu", "pool: gpu\n        maxContext: lots")
        + "  leanrag:zones: [us-west-2a]\n"
    )
    code, err = run_plan(stack(tmp_path, text), tmp_path, capsys)
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.startswith("  - ")]
    expected = [
        "Pulumi.t.yaml:8: leanrag:cluster.gpuPools[0].maxNodes: written twice, on line 8",
        "Pulumi.t.yaml:3: aws:regoin: the aws provider has no setting 'regoin'",
        "Pulumi.t.yaml:15: leanrag:serving.models[0].maxContext: Input should be a valid integer",
        "Pulumi.t.yaml:18: leanrag:zones[0]: zone 'us-west-2a' is not in region us-east-1",
        "Pulumi.t.yaml:2: aws:region: aws:region is 'us-west-2' but leanrag:region is 'us-east-1'",
    ]
    for want in expected:
        assert any(line.startswith(f"  - {want}") for line in lines), (want, err)
    assert "Traceback" not in err


def test_an_encrypted_value_for_a_key_that_is_not_a_secret_says_to_keep_it_plain(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    text = VALID.replace("config:\n", "config:\n  leanrag:monthlyBudgetUsd:\n    secure: v1:xyz\n", 1)
    code, err = run_plan(stack(tmp_path, text), tmp_path, capsys)
    assert code == 2 and "Traceback" not in err
    assert "Pulumi.t.yaml:2: leanrag:monthlyBudgetUsd: Input should be a valid integer" in err
    assert "encrypted, `secure:`" in err
    assert "fix: leanrag:monthlyBudgetUsd is not a secret: keep it in plain text" in err
