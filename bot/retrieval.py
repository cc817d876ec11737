"""Answering a question with verbatim quotes: hybrid retrieval over sentence windows, then an abstain decision.

Every run of 1-3 consecutive sentences in a paragraph (a window) is a candidate quote. A window's score mixes
  - its own dense similarity to the question (sentence windows carry one idea, so dense scoring is sharp),
  - the similarity of its whole paragraph and of its section heading (for an interview, the question it answers),
  - BM25 over window tokens, which catches names and terms that embeddings blur.
The question is answered only when the best window is similar enough on both dense and lexical evidence.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bot.embedding import Embedder
from bot.index import PassageIndex
from bot.text import has_words, normalize_for_match, search_tokens

MAX_QUESTION_CHARS = 1000


class QuestionError(ValueError):
    """The question cannot be answered as asked (empty, too long, no words); the message says so plainly."""


@dataclass(frozen=True)
class Weights:
    window: float = 1.0
    paragraph: float = 0.35
    section: float = 0.35
    lexical: float = 0.25
    per_sentence: float = 0.0
    candidates: int = 300
    per_paragraph: int = 1
    # abstain unless confidence (dense evidence, plus lexical) reaches this
    threshold: float = 0.42


@dataclass(frozen=True)
class Result:
    quote: str
    source: str
    section: str | None
    score: float
    speaker: str | None = None
    asked: str | None = None  # for interviews: the question this passage answers
    url: str | None = None
    document: str = ""
    paragraph: int = -1
    context: str = ""  # the whole paragraph the quote comes from

    def to_json(self) -> dict[str, object]:
        return {"quote": self.quote, "source": self.source, "section": self.section, "score": round(self.score, 4)}


@dataclass(frozen=True)
class Answer:
    question: str
    answered: bool
    results: list[Result] = field(default_factory=list)
    confidence: float = 0.0

    def to_json(self) -> dict[str, object]:
        return {
            "question": self.question,
            "answered": self.answered,
            "results": [r.to_json() for r in self.results],
        }


def check_question(question: str) -> str:
    """The question, stripped; raises QuestionError with a short message when it cannot be used."""
    text = question.strip()
    if not text:
        raise QuestionError("Please type a question.")
    if len(text) > MAX_QUESTION_CHARS:
        raise QuestionError(
            f"That question is {len(text):,} characters long; please keep it under {MAX_QUESTION_CHARS:,}."
        )
    if not has_words(text):
        raise QuestionError("Please ask your question in words (I can't search for emoji or punctuation alone).")
    return text


class Retriever:
    def __init__(self, index: PassageIndex, embedder: Embedder, weights: Weights | None = None) -> None:
        self.index = index
        self.embedder = embedder
        self.weights = weights or Weights()
        para_of = index.window_para
        # windows of one paragraph are stored contiguously: remember each paragraph's range
        starts = np.searchsorted(para_of, np.arange(len(index.paragraphs)), side="left")
        ends = np.searchsorted(para_of, np.arange(len(index.paragraphs)), side="right")
        self._para_windows = np.stack([starts, ends], axis=1)
        self._section_of_para = np.array([p.section_id for p in index.paragraphs], dtype=np.int64)
        self._bm25_vocab = set(index.bm25.vocab_dict)

    def answer(self, question: str, k: int = 3) -> Answer:
        text = check_question(question)
        query = self.embedder.encode_query(text)
        return self.answer_vector(text, query, k)

    def answer_vector(self, text: str, query: np.ndarray, k: int = 3) -> Answer:
        scored = self.score(text, query)
        if scored is None:
            return Answer(text, False)
        candidates, total, confidence = scored
        results = self._select(candidates, total, k)
        answered = confidence >= self.weights.threshold and bool(results)
        return Answer(text, answered, results if answered else [], confidence)

    def score(self, text: str, query: np.ndarray) -> tuple[np.ndarray, np.ndarray, float] | None:
        """Candidate windows with their fused scores, and the confidence that the corpus answers at all."""
        w = self.weights
        idx = self.index
        n = idx.size
        if n == 0:
            return None
        para_sim = idx.paragraph_vectors @ query
        section_sim = idx.section_vectors @ query
        context = w.paragraph * para_sim + w.section * section_sim[self._section_of_para]

        tokens = [t for t in search_tokens(text) if t in self._bm25_vocab]
        lexical = idx.bm25.get_scores(tokens) if tokens else np.zeros(n, dtype=np.float32)
        top_lex = float(lexical.max()) if n else 0.0

        k_dense = min(n, w.candidates)
        _, dense_ids = idx.window_index.search(query.reshape(1, -1).astype(np.float32), k_dense)
        pools = [dense_ids[0][dense_ids[0] >= 0]]
        if top_lex > 0:
            pools.append(np.argpartition(-lexical, min(n - 1, w.candidates))[: w.candidates])
        for p in np.argsort(-context)[:20]:
            start, end = self._para_windows[p]
            pools.append(np.arange(start, end))
        candidates = np.unique(np.concatenate(pools))

        dense = idx.window_vectors[candidates] @ query
        lex_norm = lexical[candidates] / top_lex if top_lex > 0 else np.zeros(len(candidates))
        total = (
            w.window * dense
            + context[idx.window_para[candidates]]
            + w.lexical * lex_norm
            + w.per_sentence * (idx.window_len[candidates] - 1)
        ) / (w.window + w.paragraph + w.section + w.lexical)
        confidence = float(total.max()) if len(total) else 0.0
        return candidates, total, confidence

    def _select(self, candidates: np.ndarray, total: np.ndarray, k: int) -> list[Result]:
        idx = self.index
        picked: list[Result] = []
        taken: dict[int, list[tuple[int, int]]] = {}
        seen: list[str] = []
        for j in np.argsort(-total):
            w = int(candidates[j])
            p = int(idx.window_para[w])
            first, length = int(idx.window_first[w]), int(idx.window_len[w])
            spans = taken.setdefault(p, [])
            if len(spans) >= self.weights.per_paragraph:
                continue
            if any(first < f + n and f < first + length for f, n in spans):
                continue
            quote = idx.window_text(w)
            norm = normalize_for_match(quote)
            if any(norm in s or s in norm for s in seen):
                continue
            spans.append((first, length))
            seen.append(norm)
            picked.append(self._result(w, quote, float(total[j])))
            if len(picked) >= k:
                break
        return picked

    def _result(self, w: int, quote: str, score: float) -> Result:
        idx = self.index
        para = idx.paragraphs[int(idx.window_para[w])]
        doc = idx.documents[para.doc]
        section = para.section[-1] if para.section else None
        return Result(
            quote=quote,
            source=doc["title"],
            section=section,
            score=score,
            speaker=para.speaker,
            asked=section if doc["is_interview"] and para.section else None,
            url=doc.get("url"),
            document=doc["name"],
            paragraph=int(idx.window_para[w]),
            context=para.text,
        )
