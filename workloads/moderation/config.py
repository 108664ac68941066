"""Settings from environment variables, overridden by flags. Secrets come from the environment only: a key's
variable (MODERATION_API_KEY), else the file its `_FILE` twin names (MODERATION_API_KEY_FILE: how the cluster
Deployment passes it, a Secret mounted as a file).

Every problem is reported at once, one line each, naming the variable (and flag) and the fix.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit


class ConfigError(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Settings:
    api_key: str
    """MODERATION_API_KEY: the Bearer key every caller of /v1/moderations must send."""
    safety_base_url: str
    """SAFETY_BASE_URL: the safety model's OpenAI base URL, ending in /v1 (no trailing slash)."""
    safety_model: str
    """SAFETY_MODEL: the served model name of Llama Guard (vLLM's --served-model-name)."""
    safety_api_key: str | None = None
    """SAFETY_API_KEY: the safety model's key (vLLM --api-key), if it has one."""
    timeout_s: float = 20.0
    max_concurrency: int = 8
    max_inputs: int = 16
    host: str = "127.0.0.1"
    port: int = 8080

    def __repr__(self) -> str:  # never print the keys
        return (
            f"Settings(safety_base_url={self.safety_base_url!r}, safety_model={self.safety_model!r}, "
            f"timeout_s={self.timeout_s}, max_concurrency={self.max_concurrency}, max_inputs={self.max_inputs}, "
            f"host={self.host!r}, port={self.port})"
        )


def secret_from(env: Mapping[str, str], name: str, problems: list[str]) -> str:
    """The secret in variable `name`, else in the file `<name>_FILE` names (stripped), else ""; an unreadable or
    empty file is a problem naming the variable and the path."""
    if env.get(name):
        return env[name]
    path = env.get(f"{name}_FILE", "")
    if not path:
        return ""
    try:
        value = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as err:
        reason = getattr(err, "strerror", None) or "not UTF-8 text"
        problems.append(f"{name}_FILE {path}: cannot read it ({reason}); mount the key there or unset {name}_FILE")
        return ""
    if not value:
        problems.append(f"{name}_FILE {path}: the file is empty; it must hold the key")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m workloads.moderation",
        description="OpenAI-compatible POST /v1/moderations backed by a Llama Guard 3 chat model. Flags override "
        "the environment variables named in brackets; keys are read from the environment only "
        "(MODERATION_API_KEY, SAFETY_API_KEY, or the files MODERATION_API_KEY_FILE, SAFETY_API_KEY_FILE name).",
    )
    p.add_argument(
        "--safety-base-url",
        help="[SAFETY_BASE_URL] the safety model's OpenAI base URL, e.g. http://llama-guard:8000/v1",
    )
    p.add_argument("--safety-model", help="[SAFETY_MODEL] the safety model's served name")
    p.add_argument("--timeout-s", help="[SAFETY_TIMEOUT_S] seconds per safety model call (default 20)")
    p.add_argument("--max-concurrency", help="[SAFETY_MAX_CONCURRENCY] safety model calls in flight (default 8)")
    p.add_argument("--max-inputs", help="[MODERATION_MAX_INPUTS] most texts in one request (default 16)")
    p.add_argument("--host", help="[MODERATION_HOST] address to listen on (default 127.0.0.1)")
    p.add_argument("--port", help="[MODERATION_PORT] port to listen on (default 8080)")
    return p


def load_settings(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    args = build_parser().parse_args(argv)
    problems: list[str] = []

    def pick(flag_value: str | None, name: str) -> str:
        return (flag_value if flag_value is not None else env.get(name, "")).strip()

    def number(flag_value: str | None, name: str, flag: str, default: float, kind: type, low: float, high: float):
        raw = pick(flag_value, name)
        if not raw:
            return default
        try:
            value = kind(raw)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:  # also refuses nan
            problems.append(f"{name} ({flag}) must be {kind.__name__} from {low:g} to {high:g}, got {raw!r}")
            return default
        return value

    key_file_problems: list[str] = []
    api_key = secret_from(env, "MODERATION_API_KEY", key_file_problems)
    safety_api_key = secret_from(env, "SAFETY_API_KEY", key_file_problems)
    problems += key_file_problems
    if not api_key and not env.get("MODERATION_API_KEY_FILE"):
        problems.append("MODERATION_API_KEY is not set: the Bearer key callers must send (from a Secret)")
    base_url = pick(args.safety_base_url, "SAFETY_BASE_URL").rstrip("/")
    parts = urlsplit(base_url)
    if not base_url:
        problems.append(
            "SAFETY_BASE_URL (--safety-base-url) is not set: the safety model's OpenAI base URL, "
            "e.g. http://llama-guard:8000/v1"
        )
    elif parts.scheme not in ("http", "https") or not parts.hostname:
        problems.append(f"SAFETY_BASE_URL (--safety-base-url) must be an http(s) URL, got {base_url!r}")
    elif parts.username or parts.password:
        problems.append("SAFETY_BASE_URL (--safety-base-url) must not hold credentials: put the key in SAFETY_API_KEY")
    model = pick(args.safety_model, "SAFETY_MODEL")
    if not model:
        problems.append(
            "SAFETY_MODEL (--safety-model) is not set: the safety model's served name, e.g. meta-llama/Llama-Guard-3-8B"
        )
    timeout_s = number(args.timeout_s, "SAFETY_TIMEOUT_S", "--timeout-s", 20.0, float, 0.1, 600)
    concurrency = number(args.max_concurrency, "SAFETY_MAX_CONCURRENCY", "--max-concurrency", 8, int, 1, 1024)
    max_inputs = number(args.max_inputs, "MODERATION_MAX_INPUTS", "--max-inputs", 16, int, 1, 1024)
    port = number(args.port, "MODERATION_PORT", "--port", 8080, int, 1, 65535)
    if problems:
        raise ConfigError(problems)
    return Settings(
        api_key=api_key,
        safety_base_url=base_url,
        safety_model=model,
        safety_api_key=safety_api_key or None,
        timeout_s=float(timeout_s),
        max_concurrency=int(concurrency),
        max_inputs=int(max_inputs),
        host=pick(args.host, "MODERATION_HOST") or "127.0.0.1",
        port=int(port),
    )
