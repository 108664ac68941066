"""Llama Guard output parsing, the OpenAI moderation result, and configuration errors (in process)."""

from __future__ import annotations

import pytest

from workloads.moderation.config import ConfigError, load_settings
from workloads.moderation.taxonomy import CATEGORIES
from workloads.moderation.verdict import UnparseableOutput, Verdict, moderation_result, parse_llama_guard


@pytest.mark.parametrize(
    ("text", "verdict"),
    [
        ("safe", Verdict(flagged=False)),
        ("\n\nsafe\n", Verdict(flagged=False)),
        ("unsafe\nS2", Verdict(flagged=True, codes=("S2",))),
        ("\n\nunsafe\nS1,S10", Verdict(flagged=True, codes=("S1", "S10"))),
        ("unsafe\ns9, S1 ,S9", Verdict(flagged=True, codes=("S9", "S1"))),
        ("UNSAFE\nS14", Verdict(flagged=True, codes=("S14",))),
        ("unsafe\nS15", Verdict(flagged=True, codes=("S15",))),
        ("unsafe", Verdict(flagged=True)),
    ],
)
def test_llama_guard_verdicts_parse(text: str, verdict: Verdict) -> None:
    assert parse_llama_guard(text) == verdict


@pytest.mark.parametrize(
    "text",
    ["", "  \n ", "I cannot help with that.", "safe\nS1", "unsafe\nviolence", "unsafe\nS1,", "unsafe\nS1\nS2", "Safe."],
)
def test_anything_else_is_unparseable(text: str) -> None:
    with pytest.raises(UnparseableOutput):
        parse_llama_guard(text)


def test_result_names_every_category_and_keeps_the_codes() -> None:
    result = moderation_result(Verdict(flagged=True, codes=("S1", "S10")))
    assert result["flagged"] is True
    assert set(result["categories"]) == set(CATEGORIES.values())
    assert {k for k, v in result["categories"].items() if v} == {"violent_crimes", "hate"}
    assert {k for k, v in result["category_scores"].items() if v == 1.0} == {"violent_crimes", "hate"}
    assert set(result["category_scores"].values()) == {0.0, 1.0}
    assert result["category_applied_input_types"] == {name: ["text"] for name in CATEGORIES.values()}
    assert result["llama_guard_codes"] == ["S1", "S10"]


def test_safe_result_flags_nothing() -> None:
    result = moderation_result(Verdict(flagged=False))
    assert result["flagged"] is False
    assert not any(result["categories"].values())
    assert result["llama_guard_codes"] == []


def test_unknown_code_is_reported_under_its_own_name() -> None:
    result = moderation_result(Verdict(flagged=True, codes=("S15",)))
    assert result["categories"]["S15"] is True
    assert [k for k, v in result["categories"].items() if v] == ["S15"]


def test_taxonomy_is_llama_guard_3() -> None:
    assert list(CATEGORIES) == [f"S{i}" for i in range(1, 15)]
    assert CATEGORIES["S1"] == "violent_crimes" and CATEGORIES["S14"] == "code_interpreter_abuse"


def test_settings_from_env_and_flags() -> None:
    env = {
        "MODERATION_API_KEY": "k-client",
        "SAFETY_BASE_URL": "http://llama-guard:8000/v1/",
        "SAFETY_MODEL": "meta-llama/Llama-Guard-3-8B",
        "SAFETY_API_KEY": "k-upstream",
        "SAFETY_TIMEOUT_S": "5",
    }
    settings = load_settings(["--port", "9000", "--safety-model", "guard"], env)
    assert settings.safety_base_url == "http://llama-guard:8000/v1"
    assert (settings.safety_model, settings.port, settings.timeout_s) == ("guard", 9000, 5.0)
    assert settings.safety_api_key == "k-upstream"
    assert "k-client" not in repr(settings) and "k-upstream" not in repr(settings)


def test_the_keys_can_come_from_the_files_their_file_variables_name(tmp_path) -> None:
    """As the cluster Deployment passes them: Secret files named by MODERATION_API_KEY_FILE, SAFETY_API_KEY_FILE."""
    (tmp_path / "client").write_text("k-client-file\n")
    (tmp_path / "upstream").write_text("k-upstream-file")
    env = {
        "MODERATION_API_KEY_FILE": str(tmp_path / "client"),
        "SAFETY_API_KEY_FILE": str(tmp_path / "upstream"),
        "SAFETY_BASE_URL": "http://llama-guard:8000/v1",
        "SAFETY_MODEL": "guard",
    }
    settings = load_settings([], env)
    assert (settings.api_key, settings.safety_api_key) == ("k-client-file", "k-upstream-file")
    assert "k-client-file" not in repr(settings)
    assert load_settings([], {**env, "MODERATION_API_KEY": "k-var"}).api_key == "k-var"  # the variable wins


def test_unreadable_or_empty_key_files_are_reported_with_the_other_problems(tmp_path) -> None:
    (tmp_path / "empty").write_text("\n")
    env = {"MODERATION_API_KEY_FILE": str(tmp_path / "missing"), "SAFETY_API_KEY_FILE": str(tmp_path / "empty")}
    with pytest.raises(ConfigError) as err:
        load_settings([], env)
    problems = err.value.problems
    assert any(p.startswith(f"MODERATION_API_KEY_FILE {tmp_path / 'missing'}: cannot read it") for p in problems)
    assert any(p.startswith(f"SAFETY_API_KEY_FILE {tmp_path / 'empty'}: the file is empty") for p in problems)
    assert any(p.startswith("SAFETY_BASE_URL") for p in problems) and len(problems) == 4, problems


def test_every_config_error_at_once() -> None:
    env = {"SAFETY_TIMEOUT_S": "soon", "MODERATION_PORT": "70000", "SAFETY_MAX_CONCURRENCY": "0"}
    with pytest.raises(ConfigError) as err:
        load_settings([], env)
    problems = err.value.problems
    assert len(problems) == 6, problems
    for name in ("MODERATION_API_KEY", "SAFETY_BASE_URL", "SAFETY_MODEL", "SAFETY_TIMEOUT_S", "MODERATION_PORT"):
        assert any(p.startswith(name) for p in problems), (name, problems)
    assert any(p.startswith("SAFETY_MAX_CONCURRENCY (--max-concurrency)") for p in problems)


def test_credentials_in_the_base_url_are_refused() -> None:
    env = {"MODERATION_API_KEY": "k", "SAFETY_MODEL": "m", "SAFETY_BASE_URL": "http://user:secret@guard:8000/v1"}
    with pytest.raises(ConfigError) as err:
        load_settings([], env)
    assert err.value.problems == [
        "SAFETY_BASE_URL (--safety-base-url) must not hold credentials: put the key in SAFETY_API_KEY"
    ]
