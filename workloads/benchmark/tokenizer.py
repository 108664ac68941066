"""A local tokenizer directory for offline GuideLLM runs, made from a GGUF file if need be.

GuideLLM counts prompt tokens with a Hugging Face tokenizer; offline it must be a local directory.
A GGUF file carries its tokenizer, which transformers can load (with the `gguf` package) and save.
"""

from __future__ import annotations

from pathlib import Path


class TokenizerError(RuntimeError):
    """The tokenizer could not be found or converted."""


def check_dir(path: Path) -> Path:
    if not path.is_dir():
        raise TokenizerError(
            f"--tokenizer {path} is not a directory; pass a folder with tokenizer.json, "
            "or --tokenizer-gguf FILE to extract one from a GGUF model"
        )
    if not any((path / name).exists() for name in ("tokenizer.json", "tokenizer_config.json", "vocab.json")):
        raise TokenizerError(
            f"--tokenizer {path} holds no tokenizer files (tokenizer.json, "
            "tokenizer_config.json); point it at the model's folder"
        )
    return path


def from_gguf(gguf: Path, out_dir: Path) -> Path:
    """Save the tokenizer stored in `gguf` to `out_dir` (reused if already there)."""
    if (out_dir / "tokenizer.json").exists():
        return out_dir
    if not gguf.is_file():
        raise TokenizerError(f"--tokenizer-gguf {gguf} does not exist")
    from transformers import AutoTokenizer  # heavy: imported only when converting

    try:
        tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    except Exception as err:  # transformers raises many types for unreadable files
        raise TokenizerError(f"cannot read a tokenizer from --tokenizer-gguf {gguf}: {err}") from err
    out_dir.mkdir(parents=True, exist_ok=True)
    tok.save_pretrained(str(out_dir))
    return out_dir
