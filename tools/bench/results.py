"""What a bench run found, as plain data: written to a JSON file by the run, read back by the report
(`python -m tools.bench --report-only FILE` redraws BENCHMARKS.md and the plot without measuring anything)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RESULTS_FORMAT = 1


@dataclass
class Serving:
    """A process that loads an index and answers questions, as the bot does (`scenarios.serve`)."""

    passages: int
    load_s: float  # process start to the retriever ready, imports included
    p50_ms: float
    p95_ms: float
    rss_mb: float  # resident memory after answering
    peak_mb: float
    file_mb: float = 0.0  # of which pages of memory-mapped files (the index's vectors and texts: shared, reclaimable)
    phases_ms: dict[str, float] = field(default_factory=dict)  # mean milliseconds of each phase of a warm question


@dataclass
class Size:
    label: str
    corpus: str
    files: int
    megabytes: float
    synthetic: bool = False
    windows: int = 0
    build_s: float = 0.0
    build_mb: float = 0.0
    build_phases_s: dict[str, float] = field(default_factory=dict)  # seconds of each phase of the full build
    embedded_texts: int = 0  # texts the full build embedded
    peer_build_s: float | None = None
    peer_build_mb: float | None = None
    naive_build_s: float | None = None
    serving: Serving | None = None
    query: dict[str, tuple[float, float]] = field(default_factory=dict)  # system -> (p50, p95) ms
    notes: dict[str, int] = field(default_factory=dict)  # the synthetic build's counts

    @property
    def corpus_dir(self) -> Path:
        return Path(self.corpus)

    @property
    def index_dir(self) -> Path:
        return self.corpus_dir.with_name(f"index-{self.corpus_dir.name}")

    @property
    def peer_dir(self) -> Path:
        return self.corpus_dir.with_name(f"peer-{self.corpus_dir.name}")

    @property
    def texts_per_s(self) -> float | None:
        """How fast the full build embedded, in texts a second of its embedding phase."""
        seconds = self.build_phases_s.get("embedding", 0.0)
        return self.embedded_texts / seconds if seconds > 0 and self.embedded_texts else None


@dataclass
class Exactness:
    """The served pipeline against the exact one, on the evaluation questions."""

    recall: float  # mean share of the exact top 10 that the served top 10 holds
    compared: int  # questions the exact pipeline answered (recall is over these)
    disagree: int  # questions one pipeline answered and the other declined


@dataclass
class ColdStart:
    seconds: float  # best of 3, process start to the answer printed
    memory_mb: float  # peak resident memory of that process
    naive_seconds: float | None = None
    naive_memory_mb: float | None = None
    peer_seconds: float | None = None
    peer_memory_mb: float | None = None


@dataclass
class Results:
    sizes: list[Size]  # the real sizes, smallest first, then the synthetic one when it ran
    hits: dict[str, dict[str, tuple[float, float]]]  # corpus label -> system -> (hit@1, hit@3)
    exactness: Exactness | None
    cold: dict[str, ColdStart]
    inc: dict[str, tuple[float, float, int]]  # change -> (CLI s, /reindex s, documents embedded by /reindex)
    discord: dict[str, dict[str, float]]
    total_s: float
    skipped: list[str]
    questions: int  # evaluation questions timed
    all_questions: int = 0  # evaluation questions there are
    date: str = ""
    machine: str = ""
    encoder: str = ""  # the runtime that embedded passages and questions (onnxruntime, onnxruntime-int8)
    encoders: dict[str, dict[str, float]] = field(default_factory=dict)  # runtime -> speeds (`encoder_speeds`)
    command: str = ""

    @property
    def real(self) -> list[Size]:
        return [s for s in self.sizes if not s.synthetic]

    @property
    def largest(self) -> Size:
        return self.real[-1]

    @property
    def synthetic(self) -> Size | None:
        return next((s for s in self.sizes if s.synthetic), None)

    def to_json(self) -> dict[str, Any]:
        return {"format": RESULTS_FORMAT, **dataclasses.asdict(self)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Results:
        if data.get("format") != RESULTS_FORMAT:
            raise ValueError(f"not a bench results file of format {RESULTS_FORMAT}")
        fields = {k: v for k, v in data.items() if k != "format"}
        sizes = []
        for item in fields.pop("sizes"):
            serving = item.pop("serving")
            query = {k: (v[0], v[1]) for k, v in item.pop("query").items()}
            sizes.append(Size(**item, serving=Serving(**serving) if serving else None, query=query))
        exactness = fields.pop("exactness")
        return cls(
            sizes=sizes,
            hits={c: {s: (v[0], v[1]) for s, v in by.items()} for c, by in fields.pop("hits").items()},
            exactness=Exactness(**exactness) if exactness else None,
            cold={label: ColdStart(**c) for label, c in fields.pop("cold").items()},
            inc={change: (v[0], v[1], int(v[2])) for change, v in fields.pop("inc").items()},
            **fields,
        )


def save(results: Results, path: Path) -> None:
    path.write_text(json.dumps(results.to_json(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def load(path: Path) -> Results:
    return Results.from_json(json.loads(path.read_text(encoding="utf-8")))
