"""How a question's candidate windows are scored: one column per signal, one weight per column, on one scale.

`features` turns a question and its candidates into a matrix (a row per candidate window, a column per signal in
`FEATURES`), and `Weights.vector` is the weight of each column, divided by the sum of the similarity weights so a
score stays near the scale of a cosine. A window's score is its row times that vector; `python -m bot ask --explain`
prints each column's share. The columns:
  - the window's own dense similarity to the question, and its BM25 match (normalised by the best BM25 match);
  - evidence for its paragraph: the paragraph's embedding, the heading above it (for an interview, the question the
    passage answers; a paragraph with no heading is judged by its own text), its best window, dense and BM25;
  - evidence for its document: its paragraphs' centroid, BM25 over its title, description and headings;
  - the document's standing: its front-matter authority above or below normal, records (minutes, notes, archives,
    elections) and translations count against it; authority 0 is a filter (never quoted), not a column;
  - the quote's shape: each extra sentence, a window ending on a lead-in, first-person story when the question asks
    how to do something;
  - the question names an interview's speaker and the passage is in their words; or it asks who they are or what a
    document is about, and the passage is the document's introduction (the words before its first heading).
The weights were tuned on tests/eval/dev.jsonl only.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from bot.index import PassageIndex, import_bm25s
from bot.rerank import TUNED_DIR
from bot.text import search_tokens

# The columns of the feature matrix, in order. Penalties are columns with a negative weight.
FEATURES = (
    "window",
    "paragraph",
    "section",
    "para_best",
    "lexical",
    "para_lexical",
    "doc_dense",
    "doc_lexical",
    "authority",
    "record",
    "translation",
    "speaker",
    "introduction",
    "per_sentence",
    "lead_in",
    "narrative",
)


@dataclass(frozen=True)
class Weights:
    window: float = 1.5
    paragraph: float = 0.25
    section: float = 0.2
    lexical: float = 0.05
    para_best: float = 0.5  # the best window anywhere in the paragraph (dense)
    para_lexical: float = 0.4  # the best window anywhere in the paragraph (BM25)
    per_sentence: float = 0.03
    narrative: float = 0.2  # penalty for first-person story ("so I did") when the question asks how to do something
    lead_in: float = 0.15  # penalty for a quote ending on a sentence that leads into the next ("And you know what?")
    # where the answer lives: the document's closeness to the question (its paragraphs' centroid, dense) and its
    # title, description and headings (BM25)
    doc_dense: float = 0.3
    doc_lexical: float = 0.4
    record: float = 0.3  # penalty for records (minutes, notes, archives, elections, reports): they rarely answer
    authority: float = 0.6  # per unit of a document's front-matter authority above or below normal
    translation: float = 1.0  # penalty for documents not in English (translated copies of a page)
    per_paragraph: int = 2  # at most this many results from one paragraph
    whole_paragraph: int = 450  # a paragraph this short (in characters) is quoted whole, not just its best window
    # the question names an interview's speaker: it is about their words. Raised from 0.05 (on the dev set) for
    # large corpora, where many documents use the same words; `make bench` reports hit rates with and without one
    speaker_boost: float = 1.0  # the `speaker` column's weight
    # the question asks who a speaker is or what a document is about, and the passage is the document's own
    # introduction (before its first heading)
    introduction: float = 0.6
    candidates: int = 300
    # confidence = best window similarity + coverage * share of the question's words the corpus knows
    coverage: float = 0.3
    threshold: float = 0.5
    # ...and above what unrelated questions reach in this corpus: the larger the corpus, the closer its best passage
    # comes to any question, so the line is raised to `null_margin` above the `null_quantile` of unrelated questions
    null_quantile: float = 0.9
    null_margin: float = 0.15
    record_confidence: float = 0.3  # how much of a document's prior penalty counts against the confidence too
    named_confidence: float = 0.1  # a question that names an interview's speaker is about the corpus

    @classmethod
    def shipped(cls) -> Weights:
        """The weights `make tune` fitted (bot/tuned/first_stage.json); these defaults are where it starts."""
        try:
            tuned = json.loads((TUNED_DIR / "first_stage.json").read_text(encoding="utf-8"))["weights"]
        except (OSError, ValueError, KeyError):
            return cls()
        base = cls()
        kinds = {f.name: type(getattr(base, f.name)) for f in fields(cls)}
        return base.replace(**{k: kinds[k](v) for k, v in tuned.items() if k in kinds})

    def vector(self) -> np.ndarray:
        """The weight of each column of `FEATURES`, penalties negative, on the scale of a cosine."""
        signed = {name: getattr(self, "speaker_boost" if name == "speaker" else name) for name in FEATURES}
        for penalty in ("record", "translation", "lead_in", "narrative"):
            signed[penalty] = -signed[penalty]
        scale = self.window + self.paragraph + self.section + self.para_best + self.lexical + self.para_lexical
        return np.array([signed[name] for name in FEATURES], dtype=np.float32) / scale

    def replace(self, **changes: float) -> Weights:
        """A copy with some weights changed (names checked)."""
        names = {f.name for f in fields(self)}
        unknown = set(changes) - names
        if unknown:
            raise ValueError(f"unknown weights: {', '.join(sorted(unknown))}")
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return Weights(**values)


# Documents that record what happened rather than explain how things work: minutes, notes, archives, elections,
# reports, retrospectives. Named so in their path or title; they rarely answer a newcomer's question.
_RECORD = re.compile(
    r"(minutes|meeting[-_ ]?notes|notes|agenda|archive|election|candidate|nomination|voters?\b|annual[-_ ]report|"
    r"retro(spective)?s?\b|summit|survey[-_ ]results|\b(19|20)\d\d[-_]\d\d)",
    re.IGNORECASE,
)
_TRANSLATION = 0.06  # below this share of English function words a document is not in English


@dataclass(frozen=True)
class Standing:
    """Each document's standing before any question, one array per column, and which are never quoted."""

    authority: np.ndarray  # front-matter authority minus normal (1)
    record: np.ndarray  # 1 for a record at normal authority
    translation: np.ndarray  # 1 for a document not in English
    excluded: np.ndarray  # authority 0: kept in the index, never quoted

    def prior(self, weights: Weights) -> np.ndarray:
        """Each document's standing as one number (before the score's scale): above 0 for a document a moderator
        ranks above normal, below 0 for records and translations."""
        return (
            weights.authority * self.authority - weights.record * self.record - weights.translation * self.translation
        ).astype(np.float32)


def document_standing(documents: list[dict[str, Any]]) -> Standing:
    """The authority, record and translation columns of every document."""
    authority = np.array([float(doc.get("authority", 1.0)) for doc in documents], dtype=np.float32)
    record = np.array(
        [
            a == 1.0 and bool(_RECORD.search(f"{doc['name']} {doc['title']}"))
            for a, doc in zip(authority, documents, strict=True)
        ],
        dtype=np.float32,
    )
    translation = np.array([doc.get("english", 1.0) < _TRANSLATION for doc in documents], dtype=np.float32)
    return Standing(authority - 1.0, record, translation, authority == 0)


@dataclass(frozen=True)
class Columns:
    """What a question's candidates are scored on: a row per candidate window, a column per name in `FEATURES`."""

    matrix: np.ndarray

    def column(self, name: str) -> np.ndarray:
        return self.matrix[:, FEATURES.index(name)]

    def contributions(self, row: int, weights: Weights) -> list[tuple[str, float, float]]:
        """Each column of one candidate: its name, its value and its share of the score."""
        values = self.matrix[row]
        return [(name, float(v), float(v * c)) for name, v, c in zip(FEATURES, values, weights.vector(), strict=True)]


def score(columns: Columns, weights: Weights) -> np.ndarray:
    """Every candidate's score: its row times the weight vector."""
    return columns.matrix @ weights.vector()


def about_index(index: PassageIndex) -> tuple[Any, frozenset[str]]:
    """BM25 over each document's title, description and headings."""
    bm25 = import_bm25s().BM25()
    tokens = [search_tokens(doc.get("about") or doc["title"]) or ["\x00"] for doc in index.documents]
    bm25.index(tokens, show_progress=False)
    return bm25, frozenset(bm25.vocab_dict)
