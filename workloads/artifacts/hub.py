"""Fast, clear failure when the Hugging Face Hub is needed but out of reach.

Without this, the hub clients retry for half a minute or more before failing with a connection error.
Set HF_HUB_OFFLINE=1 to use only the local Hugging Face cache; the token (HF_TOKEN) is read by the hub
client itself and never logged here.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import urlparse

from workloads.artifacts.errors import UserError

PROBE_TIMEOUT_S = 5.0


def offline_mode() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def hub_endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


def hub_unreachable_reason() -> str | None:
    """None if a TCP connection to the hub endpoint opens (or a proxy is configured), else why not."""
    if os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy"):
        return None
    url = urlparse(hub_endpoint())
    host = url.hostname or "huggingface.co"
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=PROBE_TIMEOUT_S):
            return None
    except OSError as exc:
        return f"{host}:{port} is unreachable ({exc.strerror or exc})"


def require_hub(what: str, alternative: str) -> None:
    """Raise UserError naming `what` unless the hub can be used (reachable, or offline cache mode)."""
    if offline_mode():
        return
    reason = hub_unreachable_reason()
    if reason:
        raise UserError(
            f"{what} must be downloaded from the Hugging Face Hub, but {reason}. "
            f"{alternative}, or set HF_HUB_OFFLINE=1 to use the local Hugging Face cache"
        )


def _token() -> str:
    """HF_TOKEN, else the token in the file HF_TOKEN_PATH names (how the cluster Jobs pass it: a Secret mounted as a
    file, which huggingface_hub reads itself)."""
    token = os.environ.get("HF_TOKEN", "")
    path = os.environ.get("HF_TOKEN_PATH", "")
    if not token and path:
        try:
            token = Path(path).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError):
            token = ""
    return token


def redact(text: str) -> str:
    """`text` with the Hugging Face token (HF_TOKEN or the HF_TOKEN_PATH file, if set) masked, for messages that
    might echo a request."""
    token = _token()
    return text.replace(token, "***") if len(token) >= 8 else text
