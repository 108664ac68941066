"""Retrieval quality on a labelled question set: recall@k and MRR@k.

A question is answered by a retrieved chunk when the chunk comes from the expected source document
and contains the expected phrase, or sits under the expected heading (either may be given; with
neither, any chunk of the source counts). Matching ignores case and whitespace.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from workloads.ingest.records import SearchHit
from workloads.ingest.search import Searcher, search

_KEYS = {"question", "source", "phrase", "heading"}


@dataclass(frozen=True)
class Question:
    question: str
    source: str
    phrase: str | None = None
    heading: str | None = None


def _norm(text: str) -> str:
    return " ".join(text.replace("¶", " ").split()).casefold()


def answers(hit: SearchHit, q: Question) -> bool:
    if hit.source != q.source:
        return False
    if q.phrase is None and q.heading is None:
        return True
    if q.phrase is not None and _norm(q.phrase) in _norm(hit.text):
        return True
    return q.heading is not None and any(_norm(q.heading) in _norm(h) for h in hit.headings)


def load_questions(path: Path, corpus: Path | None = None) -> list[Question]:
    """Read and check a question file; every problem is reported at once."""
    if not path.is_file():
        raise SystemExit(f"error: --questions {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        detail = " ".join(str(err).split())[:200]
        raise SystemExit(f"error: --questions {path} is not valid YAML ({detail})") from None
    items = data.get("questions") if isinstance(data, dict) else None
    if not isinstance(items, list) or not items:
        raise SystemExit(f"error: {path} must hold a non-empty list under 'questions:'")
    questions, problems = [], []
    for n, item in enumerate(items, start=1):
        where = f"{path}: question {n}"
        if not isinstance(item, dict):
            problems.append(f"{where}: expected a mapping with question/source/phrase/heading")
            continue
        if unknown := set(item) - _KEYS:
            problems.append(f"{where}: unknown keys {sorted(unknown)} (allowed: {sorted(_KEYS)})")
        if not all(isinstance(item.get(k), str) and item.get(k) for k in ("question", "source")):
            problems.append(f"{where}: 'question' and 'source' are required strings")
            continue
        if corpus is not None and not (corpus / item["source"]).is_file():
            problems.append(f"{where}: source {item['source']!r} is not a file under {corpus}")
        questions.append(Question(item["question"], item["source"], item.get("phrase"), item.get("heading")))
    if problems:
        raise SystemExit("error: " + "\n       ".join(problems))
    return questions


@dataclass
class QuestionResult:
    question: str
    source: str
    rank: int | None  # rank of the first answering chunk within k, None when missed
    retrieved: list[str]  # source of each retrieved chunk, in rank order


@dataclass
class Evaluation:
    k: int
    results: list[QuestionResult]

    @property
    def recall(self) -> float:
        return sum(r.rank is not None for r in self.results) / len(self.results)

    @property
    def mrr(self) -> float:
        return sum(1.0 / r.rank for r in self.results if r.rank) / len(self.results)

    def to_dict(self) -> dict[str, object]:
        return {
            "k": self.k,
            "questions": len(self.results),
            f"recall@{self.k}": round(self.recall, 4),
            f"mrr@{self.k}": round(self.mrr, 4),
            "results": [asdict(r) for r in self.results],
        }

    def write_json(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")

    def render(self) -> str:
        lines = [f"{'rank':>4}  question (expected source)"]
        for r in self.results:
            rank = str(r.rank) if r.rank else "miss"
            lines.append(f"{rank:>4}  {r.question} ({r.source})")
        lines.append(
            f"recall@{self.k} = {self.recall:.3f}   MRR@{self.k} = {self.mrr:.3f}   "
            f"({sum(r.rank is not None for r in self.results)}/{len(self.results)} answered)"
        )
        return "\n".join(lines)


def evaluate(questions: list[Question], store: Searcher, k: int) -> Evaluation:
    """Ask every question through the store's search (the RAG app's own search: what the app serves)."""
    results = []
    for q in questions:
        hits = search(q.question, store, k)
        rank = next((h.rank for h in hits if answers(h, q)), None)
        results.append(QuestionResult(q.question, q.source, rank, [h.source for h in hits]))
    return Evaluation(k=k, results=results)
