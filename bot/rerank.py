"""The second stage: the first stage's best candidates reordered with evidence it lacks.

The first stage (bot/scoring.py) scores hundreds of windows with one small model's similarity and word matches. The
second stage looks again at its first `depth` showable candidates, with the question embedded a second time through
a query adapter: a low-rank linear map, trained on questions newcomers ask of these kinds of documents, that moves a
question's vector toward the passages that answer such questions (the passages' vectors stay as built, so nothing is
re-embedded and an index needs no rebuild). Its columns, for each of those candidates:
  - the first stage's score, as the gap to the best candidate, and the candidate's rank;
  - the window's, paragraph's and heading's similarity to the question, plain and through the adapter;
  - whether the quote is a short paragraph shown whole.
A candidate's second-stage score is that row times `weights`. Everything here is fitted by `make tune`
(tools/tune.py) from tests/eval/train.jsonl, and chosen on tests/eval/dev.jsonl; the files it writes are in
bot/tuned/.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

TUNED_DIR = Path(__file__).resolve().parent / "tuned"

SECOND_FEATURES = (
    "first_stage",
    "rank",
    "window",
    "paragraph",
    "section",
    "window_adapted",
    "paragraph_adapted",
    "section_adapted",
    "whole",
)


@dataclass(frozen=True)
class Reranker:
    weights: np.ndarray  # one per name in SECOND_FEATURES
    down: np.ndarray  # the adapter: a question vector q becomes q + (q @ down) @ up, then unit length
    up: np.ndarray
    depth: int = 10

    def adapt(self, query: np.ndarray) -> np.ndarray:
        """The question's vector through the adapter (unit length)."""
        moved = query + (query @ self.down) @ self.up
        return (moved / max(float(np.linalg.norm(moved)), 1e-9)).astype(np.float32)

    def order(self, columns: np.ndarray) -> np.ndarray:
        """The order of the rows of `columns` (one per candidate, best first stage first), best first."""
        return np.argsort(-(columns @ self.weights), kind="stable")

    def rescore(self, columns: np.ndarray, best_first_stage: float) -> np.ndarray:
        """The rows' second-stage scores on the first stage's scale: the best first-stage score plus the second-stage
        score over the weight of the first-stage column (so a row's score is its first-stage score moved by the
        rest of the evidence). They fall in the order `order` gives."""
        scale = float(self.weights[SECOND_FEATURES.index("first_stage")])
        return best_first_stage + (columns @ self.weights) / (scale if scale > 0 else 1.0)

    def save(self, folder: Path, meta: dict[str, Any]) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        np.savez(folder / "adapter.npz", down=self.down.astype(np.float32), up=self.up.astype(np.float32))
        record = {
            "depth": self.depth,
            "features": list(SECOND_FEATURES),
            "weights": [round(float(w), 6) for w in self.weights],
            **meta,
        }
        (folder / "second_stage.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, folder: Path = TUNED_DIR) -> Reranker | None:
        """The shipped second stage, or None when none is in `folder` (or it was fitted for other columns)."""
        try:
            record = json.loads((folder / "second_stage.json").read_text(encoding="utf-8"))
            with np.load(folder / "adapter.npz") as arrays:
                down, up = arrays["down"].astype(np.float32), arrays["up"].astype(np.float32)
        except (OSError, ValueError, KeyError):
            return None
        if tuple(record.get("features", ())) != SECOND_FEATURES:
            return None
        return cls(np.asarray(record["weights"], dtype=np.float32), down, up, int(record.get("depth", 10)))
