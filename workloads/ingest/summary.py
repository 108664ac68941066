"""The run summary: printed at the end of a run and optionally written as JSON (fields: README.md)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class Summary:
    corpus: str
    sink: str
    pdf_pipeline: str
    vector_store: str = ""  # the store's name
    vector_store_id: str = ""  # its id after the run (changes when a new generation replaced it)
    generation: int = 0
    replaced_vector_store_id: str | None = None  # the previous generation, deleted by this run
    documents: int = 0  # files found under the corpus root
    ingested: list[str] = field(default_factory=list)  # new or changed, converted and written
    unchanged: list[str] = field(default_factory=list)  # same content and pipeline: nothing done
    skipped: list[dict[str, str]] = field(default_factory=list)  # {"source", "reason"}: not ingested
    warnings: list[dict[str, str]] = field(default_factory=list)  # {"source", "warning"}: ingested, but check
    duplicates: list[dict[str, str]] = field(default_factory=list)  # {"source", "same_as"}
    pruned: list[str] = field(default_factory=list)  # removed from the store (--prune)
    not_in_corpus: list[str] = field(default_factory=list)  # stored but gone from disk, not pruned
    chunks_written: int = 0
    chunks_total: int = 0
    seconds: float = 0.0
    error: str | None = None  # why the run stopped early (nothing was changed in the store)

    @property
    def failed(self) -> bool:
        return bool(self.skipped) or self.error is not None

    def skip(self, source: str, reason: str) -> None:
        self.skipped.append({"source": source, "reason": reason})

    def warn(self, source: str, warning: str) -> None:
        self.warnings.append({"source": source, "warning": warning})

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "failed": self.failed}

    def write_json(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")

    def render(self) -> str:
        lines = [
            f"ingest summary: {self.corpus} -> {self.sink}",
            f"  documents found   {self.documents}",
            f"  ingested          {len(self.ingested)} ({self.chunks_written} chunks embedded and written)",
            f"  unchanged         {len(self.unchanged)} (same content hash: skipped)",
            f"  skipped (failed)  {len(self.skipped)}",
        ]
        lines += [f"    - {s['source']}: {s['reason']}" for s in self.skipped]
        if self.warnings:
            lines.append(f"  warnings          {len(self.warnings)}")
            lines += [f"    - {w['source']}: {w['warning']}" for w in self.warnings]
        if self.duplicates:
            lines.append(f"  duplicates        {len(self.duplicates)} (same content as another file)")
            lines += [f"    - {d['source']} = {d['same_as']}" for d in self.duplicates]
        if self.pruned:
            lines.append(f"  pruned            {len(self.pruned)}: {', '.join(self.pruned)}")
        if self.not_in_corpus:
            lines.append(
                f"  not in corpus     {len(self.not_in_corpus)} still stored (run with --prune to remove): "
                + ", ".join(self.not_in_corpus)
            )
        store = f"{self.vector_store} = {self.vector_store_id} (generation {self.generation})"
        if self.replaced_vector_store_id:
            store += f", replacing {self.replaced_vector_store_id}"
        lines += [
            f"  chunks stored     {self.chunks_total}",
            f"  vector store      {store}",
            f"  PDF pipeline      {self.pdf_pipeline}",
            f"  seconds           {self.seconds:.1f}",
        ]
        if self.error:
            lines.append(f"  result            STOPPED: {self.error}")
        else:
            lines.append("  result            " + ("FAILED (see skipped)" if self.failed else "ok"))
        return "\n".join(lines)
