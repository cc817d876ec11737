"""Answering a question with verbatim quotes: hybrid retrieval over sentence windows, then an abstain decision.

Every run of 1-3 consecutive sentences in a paragraph (a window) is a candidate quote. A window's score mixes
  - its own dense similarity to the question (short windows carry one idea, so dense scoring is sharp),
  - evidence for its paragraph: the paragraph's embedding, its best window, its best BM25 match, and the similarity
    of its section heading (for an interview, the question the passage answers),
  - evidence for its document: its paragraphs' centroid, BM25 over its title, description and headings, and its
    standing (front-matter authority; records count for less, translations are not quoted),
  - BM25 over window tokens, which catches names and terms that embeddings blur,
  - a small bonus per extra sentence, since a quote with its neighbouring sentence reads better on its own.
Pointers and fragments are never shown (bot/passages.py says what each passage is). The weights were tuned on
tests/eval/dev.jsonl only; tests/eval/holdout.jsonl was written separately and run once at the end.
The bot declines when the closest showable passage is not close enough, given how much of the question the corpus
knows, and no closer than unrelated questions come in this corpus (see `_confidence` and `_calibrate`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from bot.documents import Span
from bot.embedding import TextEncoder
from bot.index import PassageIndex
from bot.passages import (
    ASKS_HOW,
    UNRELATED_QUESTIONS,
    about_index,
    comparable,
    document_centroids,
    document_prior,
    ends_on_lead_in,
    pointer_windows,
    quote_with_follow,
    speaker_patterns,
    suggestion_headings,
)
from bot.text import has_words, search_tokens

MAX_QUESTION_CHARS = 1000


class QuestionError(ValueError):
    """The question cannot be answered as asked (empty, too long, no words); the message says so plainly."""


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
    per_paragraph: int = 2  # at most this many results from one paragraph
    # the question names an interview's speaker: it is about their words. Raised from 0.05 (on the dev set) for
    # large corpora, where many documents use the same words; `make bench` reports hit rates with and without one
    speaker_boost: float = 1.0
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
    key_sentence: tuple[int, int] | None = None  # offsets in `quote` of its sentence closest to the question
    code: tuple[tuple[int, int], ...] = ()  # offsets in `quote` of commands and code, to show as code

    def to_json(self) -> dict[str, object]:
        return {"quote": self.quote, "source": self.source, "section": self.section, "score": round(self.score, 4)}


@dataclass(frozen=True)
class Answer:
    question: str
    answered: bool
    results: list[Result] = field(default_factory=list)
    confidence: float = 0.0
    suggestions: list[str] = field(default_factory=list)  # when declined: questions the documents do answer

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


@dataclass(frozen=True)
class _Scored:
    candidates: np.ndarray
    total: np.ndarray
    confidence: float
    dense: np.ndarray  # every window's similarity to the question


@dataclass(frozen=True)
class Dense:
    """A question's similarity to every window, and to every paragraph that is more than one window."""

    windows: np.ndarray
    rest: np.ndarray


class Retriever:
    def __init__(self, index: PassageIndex, embedder: TextEncoder, weights: Weights | None = None) -> None:
        self.index = index
        self.embedder = embedder
        self.weights = weights or Weights()
        paragraphs = np.arange(len(index.paragraphs))
        # windows of one paragraph are stored contiguously: remember where each paragraph's run starts and ends
        self._para_start = np.searchsorted(index.window_para, paragraphs, side="left")
        self._para_end = np.searchsorted(index.window_para, paragraphs, side="right")
        self._section_of_para = np.array([p.section_id for p in index.paragraphs], dtype=np.int64)
        self._has_section = np.array([bool(p.section) for p in index.paragraphs], dtype=bool)
        self._para_doc = np.array([p.doc for p in index.paragraphs], dtype=np.int64)
        # an interview's speaker's own words (not the editor's introduction)
        self._para_spoken = np.array(
            [bool(p.speaker) and p.speaker == index.documents[p.doc].get("speaker") for p in index.paragraphs],
            dtype=bool,
        )
        # A one-sentence paragraph is its own only window: the same text, embedded once, so the same vector. Its
        # similarity is read from the window scores, and only the other paragraphs are scanned again (on large
        # corpora most paragraphs are one sentence, and the scan is bound by memory bandwidth).
        single = (self._para_end - self._para_start) == 1
        if index.size:
            single &= np.all(index.paragraph_vectors == index.window_vectors[self._para_start], axis=1)
        self._para_single = np.flatnonzero(single)
        self._para_rest = np.flatnonzero(~single)
        self._rest_vectors = np.ascontiguousarray(index.paragraph_vectors[self._para_rest])
        self._bm25_vocab = frozenset(index.bm25.vocab_dict)
        self._ends_on_lead_in = ends_on_lead_in(index)
        self._pointer, self._first_person = pointer_windows(index)
        self._speakers = speaker_patterns(index)
        self._doc_vectors = document_centroids(index, self._para_doc)
        self._about = about_index(index)
        self._suggestions = suggestion_headings(index)
        doc_discount = np.array(
            [max(-document_prior(doc, self.weights.authority, self.weights.record), 0.0) for doc in index.documents],
            dtype=np.float32,
        )
        self._window_discount = np.where(
            self._pointer, 1.0, self.weights.record_confidence * doc_discount[self._para_doc[index.window_para]]
        )
        self._doc_prior = np.array(
            [document_prior(doc, self.weights.authority, self.weights.record) for doc in index.documents],
            dtype=np.float32,
        )
        self.threshold = self._calibrate()

    def rewrite(self, question: str) -> tuple[str, set[int]]:
        """Put an interview's speaker in the second person, as the interviewer asked ("how did Jaice start?" becomes
        "how did you start?"), and note which documents' speakers the question names."""
        named: set[int] = set()
        text = question
        for pattern, docs in self._speakers:
            text, count = pattern.subn(lambda m: "your" if m.group(2) else "you", text)
            if count:
                named |= docs
        return _K8S.sub("Kubernetes", text), named

    def answer(self, question: str, k: int = 3) -> Answer:
        """Answer one question; raises QuestionError for unusable input."""
        text = check_question(question)
        query = self.embedder.encode_query(self.rewrite(text)[0])
        return self.answer_vector(text, query, k)

    def dense(self, queries: np.ndarray) -> list[Dense]:
        """Similarities of several questions at once, in one pass over the vectors."""
        windows = queries @ self.index.window_vectors.T
        rest = queries @ self._rest_vectors.T
        return [Dense(windows[i], rest[i]) for i in range(len(queries))]

    def answer_vector(self, text: str, query: np.ndarray, k: int = 3, dense: Dense | None = None) -> Answer:
        """Answer with a precomputed embedding of `self.rewrite(text)[0]` (and its similarities, from `dense`)."""
        if self.index.size == 0:
            return Answer(text, False)
        scored = self._score(text, query, dense or self.dense(query[None, :])[0])
        answered = scored.confidence >= self.threshold
        results = self._select(scored, k) if answered else []
        if answered and results:
            return Answer(text, True, results, self._relative(scored.confidence))
        return Answer(text, False, [], self._relative(scored.confidence), self.suggest(query))

    def _relative(self, confidence: float) -> float:
        """Confidence on one scale for every corpus: the decline line is always at `weights.threshold`."""
        return confidence - (self.threshold - self.weights.threshold)

    def _calibrate(self) -> float:
        """The decline line for this corpus: `weights.threshold`, raised when unrelated questions (a fixed set about
        cooking, sport, weather and such) reach it here, as they do in large corpora."""
        w = self.weights
        if self.index.size == 0:
            return w.threshold
        rewritten = [self.rewrite(q) for q in UNRELATED_QUESTIONS]
        queries = self.embedder.encode([text for text, _ in rewritten])
        similarities = queries @ self.index.window_vectors.T  # one pass over the vectors for all of them
        confidences = [
            self._confidence(search_tokens(text), named, row)
            for (text, named), row in zip(rewritten, similarities, strict=True)
        ]
        return max(w.threshold, float(np.quantile(confidences, w.null_quantile)) + w.null_margin)

    def suggest(self, query: np.ndarray, k: int = 3) -> list[str]:
        """Questions the documents answer that are closest to `query`: an interview's questions and headings asked
        as questions, else the nearest headings; never a greeting."""
        ids, texts, is_question = self._suggestions
        if not len(ids):
            return []
        closeness = self.index.section_vectors[ids] @ query + 0.1 * is_question
        picked: list[str] = []
        for i in np.argsort(-closeness):
            if texts[i] not in picked:
                picked.append(texts[i])
            if len(picked) == k:
                break
        return picked

    def _score(self, text: str, query: np.ndarray, dense: Dense) -> _Scored:
        w = self.weights
        idx = self.index
        n = idx.size
        rewritten, named = self.rewrite(text)

        dense_all = dense.windows
        para_sim = np.empty(len(idx.paragraphs), dtype=dense_all.dtype)
        para_sim[self._para_single] = dense_all[self._para_start[self._para_single]]
        para_sim[self._para_rest] = dense.rest
        # a paragraph with no heading above it is judged by its own text, not by the document title
        section_sim = np.where(self._has_section, (idx.section_vectors @ query)[self._section_of_para], para_sim)
        context = (
            w.paragraph * para_sim
            + w.section * section_sim
            + w.para_best * np.maximum.reduceat(dense_all, self._para_start)
        )
        if named:
            context = context + w.speaker_boost * (np.isin(self._para_doc, list(named)) & self._para_spoken)
        doc_score = self._doc_prior + w.doc_dense * (self._doc_vectors @ query)
        about_words = [t for t in search_tokens(rewritten) if t in self._about[1]]
        if about_words and w.doc_lexical:
            about = self._about[0].get_scores(about_words)
            doc_score = doc_score + w.doc_lexical * about / max(float(about.max()), 1e-9)
        context = context + doc_score[self._para_doc]

        words = search_tokens(rewritten)
        known = [t for t in words if t in self._bm25_vocab]
        lexical = idx.bm25.get_scores(known) if known else np.zeros(n, dtype=np.float32)
        top_lex = float(lexical.max())
        lex_norm = lexical / top_lex if top_lex > 0 else np.zeros(n)
        context = context + w.para_lexical * np.maximum.reduceat(lex_norm, self._para_start)

        # candidates: the dense and lexical front-runners, and every window of the most promising paragraphs
        # (dense_all already holds every window's exact inner product, so a FAISS search would repeat that work)
        pools = [_top(dense_all, w.candidates), _top(lexical, w.candidates)]
        pools += [np.arange(self._para_start[p], self._para_end[p]) for p in _top(context, 20)]
        candidates = np.unique(np.concatenate(pools))

        total = (
            w.window * dense_all[candidates]
            + context[idx.window_para[candidates]]
            + w.lexical * lex_norm[candidates]
            + w.per_sentence * (idx.window_len[candidates] - 1)
            - w.lead_in * self._ends_on_lead_in[candidates]
            - w.narrative * (self._first_person[candidates] & bool(ASKS_HOW.match(rewritten)))
        ) / (w.window + w.paragraph + w.section + w.para_best + w.lexical + w.para_lexical)
        return _Scored(candidates, total, self._confidence(words, named, dense_all), dense_all)

    def _confidence(self, words: list[str], named: set[int], dense_windows: np.ndarray) -> float:
        """How sure the bot is that the corpus answers: the closest passage that could be shown (not a pointer; a
        record or translation counts for less), plus the share of the question's words the corpus knows, plus a
        little when the question names an interview's speaker."""
        w = self.weights
        coverage = sum(t in self._bm25_vocab for t in words) / len(words) if words else 0.0
        closest = float((dense_windows - self._window_discount).max())
        return closest + w.coverage * coverage + w.named_confidence * bool(named)

    def _select(self, scored: _Scored, k: int) -> list[Result]:
        """Best windows first; no two results share a sentence or quote the same text, and none is a pointer."""
        idx = self.index
        picked: list[Result] = []
        taken: dict[int, list[tuple[int, int]]] = {}
        seen: list[str] = []
        for j in np.argsort(-scored.total):
            w = int(scored.candidates[j])
            p = int(idx.window_para[w])
            first, length = int(idx.window_first[w]), int(idx.window_len[w])
            if self._pointer[w]:
                continue  # it only points elsewhere, or says nothing on its own
            spans = taken.setdefault(p, [])
            if len(spans) >= self.weights.per_paragraph or any(first < f + m and f < first + length for f, m in spans):
                continue
            quote, code = quote_with_follow(idx, w)
            norm = comparable(quote)
            if any(norm in s or s in norm for s in seen):
                continue  # the same words again (a copy of a page, or a passage inside one already shown)
            spans.append((first, length))
            seen.append(norm)
            picked.append(self._result(w, quote, float(scored.total[j]), self._key_sentence(w, scored.dense), code))
            if len(picked) >= k:
                break
        return picked

    def _key_sentence(self, w: int, dense: np.ndarray) -> tuple[int, int] | None:
        """In a quote of several sentences, the one closest to the question, as offsets into the quote."""
        idx = self.index
        length = int(idx.window_len[w])
        if length < 2:
            return None
        p, first = int(idx.window_para[w]), int(idx.window_first[w])
        run = np.arange(self._para_start[p], self._para_end[p])
        singles = run[
            (idx.window_len[run] == 1) & (idx.window_first[run] >= first) & (idx.window_first[run] < first + length)
        ]
        if len(singles) != length:
            return None
        best = int(singles[np.argmax(dense[singles])])
        sentences = idx.paragraphs[p].sentences
        offset = sentences[first][0]
        start, end = sentences[int(idx.window_first[best])]
        return start - offset, end - offset

    def _result(
        self, w: int, quote: str, score: float, key: tuple[int, int] | None = None, code: tuple[Span, ...] = ()
    ) -> Result:
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
            key_sentence=key,
            code=code,
        )

    def result_for_window(self, w: int, score: float = 0.0) -> Result:
        """The result quoting window `w` as answers show it (with what a lead-in introduces): for passages chosen
        outside scoring, such as a moderator's lesson (bot/lessons.py)."""
        quote, code = quote_with_follow(self.index, w)
        return self._result(w, quote, score, None, code)


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    """The positions of the k highest scores, in no particular order (linear time, unlike a full sort)."""
    if len(scores) <= k:
        return np.arange(len(scores))
    return np.argpartition(-scores, k)[:k]


_K8S = re.compile(r"\bk8s\b", re.IGNORECASE)
