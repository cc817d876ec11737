"""Answering a question with verbatim quotes: hybrid retrieval over sentence windows, then an abstain decision.

Every run of 1-3 consecutive sentences in a paragraph (a window) is a candidate quote. A window's score mixes
  - its own dense similarity to the question (short windows carry one idea, so dense scoring is sharp),
  - evidence for its paragraph: the paragraph's embedding, its best window, its best BM25 match, and the similarity
    of its section heading (for an interview, the question the passage answers),
  - evidence for its document: its paragraphs' centroid, BM25 over its title, description and headings, and its
    standing (front-matter authority; records count for less, translations are not quoted),
  - BM25 over window tokens, which catches names and terms that embeddings blur,
  - a small bonus per extra sentence, since a quote with its neighbouring sentence reads better on its own.
Only a question's candidates are scored: the windows FAISS finds closest to it, the best BM25 windows (from bm25s's
postings), the windows of documents ranked above normal, and every window of their paragraphs (`exact=True` scores
every window, to measure what the candidates keep). Pointers and fragments are never shown (bot/index/derive.py says
what each passage is). The weights were tuned on tests/eval/dev.jsonl only; tests/eval/holdout.jsonl was written
separately and run once at the end.
The bot declines when the closest showable passage is not close enough, given how much of the question the corpus
knows, and no closer than unrelated questions come in this corpus (see `_confidence` and `_calibrate`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from functools import cache

import numpy as np

from bot.documents import Span
from bot.embedding import TextEncoder
from bot.index import PassageIndex
from bot.index.derive import FIRST_PERSON, LEAD_IN_END, POINTER
from bot.index.roots import absolute_links, link_of
from bot.questions import ASKS_ABOUT, ASKS_HOW, ASKS_WHO, UNRELATED_QUESTIONS, rewrite_question, speaker_patterns
from bot.quoting import comparable, quote_span
from bot.rerank import SECOND_FEATURES, Reranker
from bot.scoring import FEATURES, Columns, Weights, about_index, document_standing, score
from bot.text import has_words, search_tokens
from bot.timing import lap

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 1000
RAISED_LIMIT = 20_000  # windows of documents ranked above normal that are scored for every question


class QuestionError(ValueError):
    """The question cannot be answered as asked (empty, too long, no words); the message says so plainly."""


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
    # offsets in `quote` of the text of its links, each with its absolute target (for a renderer to link; the
    # quote's text itself is always plain)
    links: tuple[tuple[int, int, str], ...] = ()

    def to_json(self) -> dict[str, object]:
        return {
            "quote": self.quote,
            "source": self.source,
            "section": self.section,
            "score": round(self.score, 4),
            "url": self.url,
        }


@dataclass(frozen=True)
class Answer:
    question: str
    answered: bool
    results: list[Result] = field(default_factory=list)
    confidence: float = 0.0
    suggestions: list[str] = field(default_factory=list)  # when declined: questions the documents do answer
    # when declined as out of scope (bot/scope.py): the moderators' topic and their pointer to where to ask instead
    topic: str | None = None
    pointer: str | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "question": self.question,
            "answered": self.answered,
            "results": [r.to_json() for r in self.results],
        }


@cache
def shipped_reranker() -> Reranker | None:
    """The second stage `make tune` wrote to bot/tuned/, read once."""
    return Reranker.load()


# an answer, and each result's feature columns: name, value and share of its score (`Retriever.explain`)
Explained = tuple[Answer, list[tuple[Result, list[tuple[str, float, float]]]]]


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
    candidates: np.ndarray  # window ids
    total: np.ndarray  # their scores
    confidence: float
    dense: np.ndarray  # their similarity to the question
    columns: Columns  # their feature matrix
    order: np.ndarray | None = None  # the rows best first, when a second stage reordered them (else by `total`)

    def ranked(self) -> np.ndarray:
        return self.order if self.order is not None else np.argsort(-self.total, kind="stable")

    def similarity(self, windows: np.ndarray) -> np.ndarray:
        """The question's similarity to some of the candidates (by window id)."""
        return self.dense[np.searchsorted(self.candidates, windows)]


@dataclass(frozen=True)
class Dense:
    """A question's dense candidates: the windows FAISS finds closest to it."""

    candidates: np.ndarray


class Retriever:
    """Scores the candidates of a question: the windows FAISS finds closest to it and the windows bm25s ranks
    highest, with every other window of their paragraphs. `exact=True` scores every window instead (what the
    candidates are measured against: `make bench` reports the share of exact top-10 answers they keep)."""

    def __init__(
        self,
        index: PassageIndex,
        embedder: TextEncoder,
        weights: Weights | None = None,
        exact: bool = False,
        reranker: Reranker | None = None,
        second_stage: bool = True,
    ) -> None:
        self.index = index
        self.embedder = embedder
        self.weights = weights or Weights.shipped()
        # the second stage (bot/rerank.py): the one `make tune` shipped, unless another is given or it is turned off
        self.reranker = (reranker or shipped_reranker()) if second_stage else None
        self.exact = exact or index.window_index is None
        derived = index.derived
        paragraphs = np.arange(len(index.paragraphs))
        # windows of one paragraph are stored contiguously: remember where each paragraph's run starts and ends
        self._para_start = np.searchsorted(index.window_para, paragraphs, side="left")
        self._para_end = np.searchsorted(index.window_para, paragraphs, side="right")
        self._section_of_para = derived["para_section"].astype(np.int64)
        self._has_section = derived["para_has_section"]
        self._para_doc = derived["para_doc"].astype(np.int64)
        self._para_spoken = derived["para_spoken"]
        flags = derived["window_flags"]
        self._pointer = (flags & POINTER) > 0
        self._first_person = (flags & FIRST_PERSON) > 0
        self._ends_on_lead_in = (flags & LEAD_IN_END) > 0
        self._bm25_vocab = index.bm25.vocab_dict
        # the postings of each token: windows and their BM25 weight (bm25s's sparse matrix, memory-mapped)
        self._bm25_data = np.asarray(index.bm25.scores["data"])  # plain arrays over the mapping: cheaper slices
        self._bm25_indices = np.asarray(index.bm25.scores["indices"])
        self._bm25_indptr = np.asarray(index.bm25.scores["indptr"])
        self._speakers = speaker_patterns(index.documents)
        self._doc_vectors = derived["doc_vectors"]
        self._about = about_index(index)
        self._suggestions = (
            derived["suggest_ids"].astype(np.int64),
            list(index.notes["suggest_texts"]),
            derived["suggest_question"],
        )
        self._standing = document_standing(index.documents)
        self._doc_prior = self._standing.prior(self.weights)
        # windows of documents at authority 0 are never candidates (they stay in the index, for a moderator to raise)
        self._excluded_windows = (
            self._standing.excluded[self._para_doc[index.window_para]] if index.size else np.zeros(0, dtype=bool)
        )
        # the windows of documents a moderator ranks above normal: their standing can carry a passage to the top
        # that neither search puts among its front-runners, so they are always candidates (when few enough)
        raised = np.flatnonzero(self._doc_prior > 0)
        self._raised = self._windows_of_docs(raised) if not self.exact else np.zeros(0, dtype=np.int64)
        if len(self._raised) > RAISED_LIMIT:
            log.warning(
                "%d windows of raised documents: too many to score each time, left to the searches", len(self._raised)
            )
            self._raised = np.zeros(0, dtype=np.int64)
        # how much a window's similarity is discounted in the confidence: pointers wholly, records a little
        self._doc_discount = np.where(
            self._standing.excluded, 1.0, self.weights.record_confidence * np.maximum(-self._doc_prior, 0.0)
        )
        import faiss

        # one thread per search: a question is answered on one thread while others run beside it, and FAISS's
        # OpenMP threads waiting on busy cores made one flat search of 11,000 windows take 15 ms instead of 0.7 ms
        faiss.omp_set_num_threads(1)
        search = index.manifest.get("search", {})
        if search.get("kind") == "hnsw-sq8":
            stale = len(index.search_ids) / max(index.size, 1) if index.search_ids is not None else 1.0
            index.window_index.hnsw.efSearch = max(
                int(search["search_depth"]), int(self.weights.candidates * stale) + 8
            )
        self.threshold = self._calibrate()

    def rewrite(self, question: str) -> tuple[str, set[int]]:
        """Put an interview's speaker in the second person, as the interviewer asked ("how did Jaice start?" becomes
        "how did you start?"), and note which documents' speakers the question names."""
        return rewrite_question(question, self._speakers)

    def answer(self, question: str, k: int = 3) -> Answer:
        """Answer one question; raises QuestionError for unusable input."""
        text = check_question(question)
        query = self.embedder.encode_query(self.rewrite(text)[0])
        lap("embedding")
        return self.answer_vector(text, query, k)

    def dense(self, queries: np.ndarray) -> list[Dense]:
        """The dense candidates of several questions at once, in one FAISS search."""
        if self.exact or not self.index.size:
            return [Dense(np.arange(self.index.size)) for _ in range(len(queries))]
        k = min(self.weights.candidates, self.index.size)
        entries = self.index.search_ids
        if entries is not None:  # a reused graph: some entries are passages no longer there, and are skipped
            k = min(int(k * len(entries) / max(self.index.size, 1)) + 8, len(entries))
        _, ids = self.index.window_index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
        lap("faiss")
        if entries is not None:
            ids = np.where(ids >= 0, entries[np.maximum(ids, 0)], -1)
        return [Dense(row[row >= 0]) for row in ids]

    def answer_vector(self, text: str, query: np.ndarray, k: int = 3, dense: Dense | None = None) -> Answer:
        """Answer with a precomputed embedding of `self.rewrite(text)[0]` (and its dense candidates, from `dense`)."""
        if self.index.size == 0:
            return Answer(text, False)
        scored = self._score(text, query, dense or self.dense(query[None, :])[0])
        answered = scored.confidence >= self.threshold
        lap("scoring")
        if answered and self.reranker is not None:
            scored = self.rerank(scored, query)
            lap("second stage")
        results = self._select(scored, k) if answered else []
        lap("selection")
        if answered and results:
            return Answer(text, True, results, self._relative(scored.confidence))
        return Answer(text, False, [], self._relative(scored.confidence), self.suggest(query))

    def explain(self, question: str, k: int = 3) -> Explained:
        """Answer one question and say why: the best candidates (those shown, when it is answered), each with every
        feature column's name, value and share of its score, and with a second stage, the amount it moved the score
        by as a last `second_stage` share (`python -m bot ask --explain`)."""
        text = check_question(question)
        query = self.embedder.encode_query(self.rewrite(text)[0])
        answer = self.answer_vector(text, query, k)
        if self.index.size == 0:
            return answer, []
        scored = self._score(text, query, self.dense(query[None, :])[0])
        if self.reranker is not None:
            scored = self.rerank(scored, query)
        explained = []
        for j, result in self._picks(scored, k):
            shares = scored.columns.contributions(j, self.weights)
            if self.reranker is not None:  # what the second stage moved the score by, so the shares add up
                moved = result.score - sum(share for _, _, share in shares)
                shares.append(("second_stage", moved, moved))
            explained.append((result, shares))
        return answer, explained

    def _relative(self, confidence: float) -> float:
        """Confidence on one scale for every corpus: the decline line is always at `weights.threshold`."""
        return confidence - (self.threshold - self.weights.threshold)

    def _calibrate(self) -> float:
        """The decline line for this corpus: `weights.threshold`, raised when unrelated questions (a fixed set about
        cooking, sport, weather and such) reach it here, as they do in large corpora. Their closest windows were
        found by an exact search when the index was built (an approximate one misses more for questions far from
        every passage, which would lower the line)."""
        w = self.weights
        ids, similarities = self.index.derived.get("unrelated_ids"), self.index.derived.get("unrelated_sims")
        if self.index.size == 0 or ids is None or similarities is None:
            return w.threshold
        confidences = []
        for question, windows, similarity in zip(UNRELATED_QUESTIONS, ids, similarities, strict=True):
            text, named = self.rewrite(question)
            confidences.append(self._confidence(search_tokens(text), named, windows.astype(np.int64), similarity))
        return max(w.threshold, float(np.quantile(confidences, w.null_quantile)) + w.null_margin)

    def suggest(self, query: np.ndarray, k: int = 3) -> list[str]:
        """Questions the documents answer that are closest to `query`: an interview's questions and headings asked
        as questions, else the nearest headings; never a greeting."""
        ids, texts, is_question = self._suggestions
        if not len(ids):
            return []
        closeness = np.asarray(self.index.section_vectors[ids], dtype=np.float32) @ query + 0.1 * is_question
        picked: list[str] = []
        for i in np.argsort(-closeness):
            if texts[i] not in picked:
                picked.append(texts[i])
            if len(picked) == k:
                break
        return picked

    def _windows_of_docs(self, docs: np.ndarray) -> np.ndarray:
        """Every window of the documents `docs` (a document's paragraphs, and so its windows, are contiguous)."""
        paragraphs = np.flatnonzero(np.isin(self._para_doc, docs))
        if not len(paragraphs):
            return np.zeros(0, dtype=np.int64)
        return self._windows_of(self._para_start[paragraphs])

    def _windows_of(self, windows: np.ndarray) -> np.ndarray:
        """Every window of the paragraphs `windows` belong to, sorted."""
        if self.exact:
            return np.arange(self.index.size)
        paragraphs = np.unique(self.index.window_para[windows])
        starts, ends = self._para_start[paragraphs], self._para_end[paragraphs]
        lengths = ends - starts
        offsets = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
        return np.arange(int(lengths.sum())) + offsets

    def lexical_top(self, tokens: list[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """The k windows with the highest BM25 score for `tokens` (all in the vocabulary), and their scores. Read
        from bm25s's postings: only windows holding a query word are scored, never an array over every window
        (bm25s's own `retrieve` scores every window, which grows with the corpus)."""
        ids = [self._bm25_vocab[token] for token in tokens]  # a word asked twice counts twice, as in bm25s
        spans = [(int(self._bm25_indptr[t]), int(self._bm25_indptr[t + 1])) for t in ids]
        docs = np.concatenate([self._bm25_indices[lo:hi] for lo, hi in spans])
        weights = np.concatenate([self._bm25_data[lo:hi] for lo, hi in spans])
        if not len(docs):
            return docs.astype(np.int64), weights
        windows, at = np.unique(docs, return_inverse=True)
        scores = np.bincount(at, weights=weights, minlength=len(windows)).astype(np.float32)
        if len(windows) > k:
            keep = np.argpartition(-scores, k - 1)[:k]
            windows, scores = windows[keep], scores[keep]
        return windows.astype(np.int64), scores

    def lexical(self, tokens: list[str], windows: np.ndarray) -> np.ndarray:
        """BM25 scores of `windows` (sorted ids) for `tokens` (all in the vocabulary), from bm25s's postings."""
        scores = np.zeros(len(windows), dtype=np.float32)
        for token in tokens:
            t = self._bm25_vocab[token]
            lo, hi = int(self._bm25_indptr[t]), int(self._bm25_indptr[t + 1])
            docs = self._bm25_indices[lo:hi]
            at = np.searchsorted(windows, docs)
            inside = at < len(windows)
            inside[inside] = windows[at[inside]] == docs[inside]
            np.add.at(scores, at[inside], self._bm25_data[lo:hi][inside])
        return scores

    def _score(self, text: str, query: np.ndarray, dense: Dense) -> _Scored:
        w = self.weights
        idx = self.index
        rewritten, named = self.rewrite(text)
        words = search_tokens(rewritten)
        known = [t for t in words if t in self._bm25_vocab]

        # candidates: the dense and lexical front-runners (FAISS and bm25s top-k), and every window of their
        # paragraphs, so that paragraph evidence (best window, best BM25 match) is complete
        pools = [dense.candidates, self._raised]
        if named:  # the question names an interview's speaker: their words are candidates
            pools.append(self._windows_of_docs(np.fromiter(named, dtype=np.int64)))
        top_lex = 0.0
        lap("scoring")
        if known:
            ids, scores = self.lexical_top(known, min(w.candidates, idx.size))
            pools.append(ids)
            top_lex = float(scores.max()) if len(scores) else 0.0
        lap("bm25")
        windows = self._windows_of(np.concatenate(pools))
        windows = windows[~self._excluded_windows[windows]]
        columns, dense_w = self.columns(rewritten, named, known, top_lex, query, windows)
        return _Scored(windows, score(columns, w), self._confidence(words, named, windows, dense_w), dense_w, columns)

    def columns(
        self, rewritten: str, named: set[int], known: list[str], top_lex: float, query: np.ndarray, windows: np.ndarray
    ) -> tuple[Columns, np.ndarray]:
        """The feature matrix of `windows` (sorted; whole paragraphs) for a question (rewritten as it is embedded),
        and the windows' dense similarity."""
        idx = self.index
        paras, para_of = np.unique(idx.window_para[windows], return_inverse=True)
        starts = np.flatnonzero(np.r_[True, para_of[1:] != para_of[:-1]])  # windows of a paragraph are contiguous
        n = len(windows)
        matrix = np.zeros((n, len(FEATURES)), dtype=np.float32)
        if not n:
            return Columns(matrix), np.zeros(0, dtype=np.float32)
        col = {name: i for i, name in enumerate(FEATURES)}

        dense_w = np.asarray(idx.window_vectors[windows], dtype=np.float32) @ query
        lap("scoring")
        lexical = self.lexical(known, windows) if known else np.zeros(n, dtype=np.float32)
        lap("bm25")
        lex_norm = lexical / top_lex if top_lex > 0 else lexical
        para_sim = np.asarray(idx.paragraph_vectors[paras], dtype=np.float32) @ query
        # a paragraph with no heading above it is judged by its own text, not by the document title
        sections = self._section_of_para[paras]
        section_sim = np.where(
            self._has_section[paras], np.asarray(idx.section_vectors[sections], dtype=np.float32) @ query, para_sim
        )
        docs = self._para_doc[paras]
        matrix[:, col["window"]] = dense_w
        matrix[:, col["lexical"]] = lex_norm
        matrix[:, col["paragraph"]] = para_sim[para_of]
        matrix[:, col["section"]] = section_sim[para_of]
        matrix[:, col["para_best"]] = np.maximum.reduceat(dense_w, starts)[para_of]
        matrix[:, col["para_lexical"]] = np.maximum.reduceat(lex_norm, starts)[para_of]
        introduction = ~self._has_section[paras]
        if named and ASKS_WHO.match(rewritten):  # who the speaker is: the introduction says, not their answers
            matrix[:, col["introduction"]] = (np.isin(docs, list(named)) & introduction)[para_of]
        elif named:
            matrix[:, col["speaker"]] = (np.isin(docs, list(named)) & self._para_spoken[paras])[para_of]
        if ASKS_ABOUT.search(rewritten):
            matrix[:, col["introduction"]] = introduction[para_of]
        doc_dense = self._doc_vectors @ query
        about_words = [t for t in search_tokens(rewritten) if t in self._about[1]]
        doc_lexical = np.zeros(len(self._doc_vectors), dtype=np.float32)
        if about_words:
            about = self._about[0].get_scores(about_words)
            doc_lexical = about / max(float(about.max()), 1e-9)
        window_docs = docs[para_of]
        matrix[:, col["doc_dense"]] = doc_dense[window_docs]
        matrix[:, col["doc_lexical"]] = doc_lexical[window_docs]
        matrix[:, col["authority"]] = self._standing.authority[window_docs]
        matrix[:, col["record"]] = self._standing.record[window_docs]
        matrix[:, col["translation"]] = self._standing.translation[window_docs]
        matrix[:, col["per_sentence"]] = idx.window_len[windows] - 1
        matrix[:, col["lead_in"]] = self._ends_on_lead_in[windows]
        matrix[:, col["narrative"]] = self._first_person[windows] & bool(ASKS_HOW.match(rewritten))
        return Columns(matrix), dense_w

    def rerank(self, scored: _Scored, query: np.ndarray) -> _Scored:
        """The candidates with the second stage's order: its `depth` best showable rows first, reordered."""
        assert self.reranker is not None
        rows = self.front(scored, self.reranker.depth)
        if len(rows) < 2:
            return scored
        columns = self.second_columns(scored, query, rows)
        ranked = self.reranker.order(columns)
        first = rows[ranked]
        rest = np.argsort(-scored.total, kind="stable")
        rest = rest[~np.isin(rest, first)]
        # a result's score is the one that put it in its place: the second stage's for the rows it reordered
        total = scored.total.copy()
        total[first] = self.reranker.rescore(columns, float(scored.total[rows[0]]))[ranked]
        total[rest] = np.minimum(total[rest], total[first].min())
        return replace(scored, total=total, order=np.concatenate([first, rest]))

    def front(self, scored: _Scored, depth: int) -> np.ndarray:
        """The rows of the first stage's best `depth` candidates that could be shown (not pointers)."""
        order = np.argsort(-scored.total, kind="stable")
        return order[~self._pointer[scored.candidates[order]]][:depth]

    def second_columns(self, scored: _Scored, query: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """The second stage's columns (`SECOND_FEATURES`) of some candidate rows, best first stage first."""
        assert self.reranker is not None
        idx = self.index
        windows = scored.candidates[rows]
        paras = idx.window_para[windows]
        adapted = self.reranker.adapt(query)
        both = np.stack([query, adapted], axis=1)
        window_sims = np.asarray(idx.window_vectors[windows], dtype=np.float32) @ both
        para_sims = np.asarray(idx.paragraph_vectors[paras], dtype=np.float32) @ both
        sections = self._section_of_para[paras]
        section_sims = np.where(
            self._has_section[paras][:, None],
            np.asarray(idx.section_vectors[sections], dtype=np.float32) @ both,
            para_sims,
        )
        lengths = np.array([len(idx.paragraphs[int(p)].text) for p in paras])
        columns = {
            "first_stage": scored.total[rows] - scored.total[rows[0]],
            "rank": np.arange(len(rows)) / self.reranker.depth,
            "window": window_sims[:, 0],
            "paragraph": para_sims[:, 0],
            "section": section_sims[:, 0],
            "window_adapted": window_sims[:, 1],
            "paragraph_adapted": para_sims[:, 1],
            "section_adapted": section_sims[:, 1],
            "whole": lengths <= self.weights.whole_paragraph,
        }
        return np.stack([np.asarray(columns[name], dtype=np.float32) for name in SECOND_FEATURES], axis=1)

    def _confidence(self, words: list[str], named: set[int], windows: np.ndarray, similarity: np.ndarray) -> float:
        """How sure the bot is that the corpus answers: the closest passage that could be shown (not a pointer; a
        record or translation counts for less), plus the share of the question's words the corpus knows, plus a
        little when the question names an interview's speaker."""
        w = self.weights
        coverage = sum(t in self._bm25_vocab for t in words) / len(words) if words else 0.0
        discount = np.where(
            self._pointer[windows], 1.0, self._doc_discount[self._para_doc[self.index.window_para[windows]]]
        )
        closest = float((similarity - discount).max()) if len(windows) else 0.0
        return closest + w.coverage * coverage + w.named_confidence * bool(named)

    def _select(self, scored: _Scored, k: int) -> list[Result]:
        """Best windows first; no two results share a sentence or quote the same text, and none is a pointer."""
        return [result for _, result in self._picks(scored, k)]

    def _picks(self, scored: _Scored, k: int) -> list[tuple[int, Result]]:
        """The results `_select` shows, each with its row among the candidates. A short paragraph is quoted whole."""
        idx = self.index
        picked: list[tuple[int, Result]] = []
        taken: dict[int, list[tuple[int, int]]] = {}
        seen: list[str] = []
        for j in scored.ranked():
            w = int(scored.candidates[j])
            p = int(idx.window_para[w])
            first, length = int(idx.window_first[w]), int(idx.window_len[w])
            if self._pointer[w]:
                continue  # it only points elsewhere, or says nothing on its own
            para = idx.paragraphs[p]
            if len(para.text) <= self.weights.whole_paragraph:
                first, length = 0, len(para.sentences)
            spans = taken.setdefault(p, [])
            if len(spans) >= self.weights.per_paragraph or any(first < f + m and f < first + length for f, m in spans):
                continue
            quote, code = quote_span(idx, p, first, length)
            norm = comparable(quote)
            if any(norm in s or s in norm for s in seen):
                continue  # the same words again (a copy of a page, or a passage inside one already shown)
            spans.append((first, length))
            seen.append(norm)
            key = self._key_sentence(p, first, length, scored)
            picked.append((int(j), self._result(p, first, length, quote, float(scored.total[j]), key, code)))
            if len(picked) >= k:
                break
        return picked

    def _key_sentence(self, p: int, first: int, length: int, scored: _Scored) -> tuple[int, int] | None:
        """In a quote of several sentences, the one closest to the question, as offsets into the quote."""
        idx = self.index
        if length < 2:
            return None
        run = np.arange(self._para_start[p], self._para_end[p])
        singles = run[
            (idx.window_len[run] == 1) & (idx.window_first[run] >= first) & (idx.window_first[run] < first + length)
        ]
        if len(singles) != length or not np.isin(singles, scored.candidates).all():
            return None
        best = int(singles[np.argmax(scored.similarity(singles))])
        sentences = idx.paragraphs[p].sentences
        offset = sentences[first][0]
        start, end = sentences[int(idx.window_first[best])]
        return start - offset, end - offset

    def _result(
        self,
        p: int,
        first: int,
        length: int,
        quote: str,
        score: float,
        key: tuple[int, int] | None = None,
        code: tuple[Span, ...] = (),
    ) -> Result:
        idx = self.index
        para = idx.paragraphs[p]
        doc = idx.documents[para.doc]
        section = para.section[-1] if para.section else None
        start, end = para.sentences[first][0], para.sentences[first + length - 1][1]
        return Result(
            quote=quote,
            source=doc["title"],
            section=section,
            score=score,
            speaker=para.speaker,
            asked=section if doc["is_interview"] and para.section else None,
            url=link_of(doc, para.heading),
            document=doc["name"],
            paragraph=p,
            context=para.text,
            key_sentence=key,
            code=code,
            links=absolute_links(doc, para.links, start, end),
        )

    def result_for_window(self, w: int, score: float = 0.0) -> Result:
        """The result quoting window `w` as answers show it (with what a lead-in introduces): for passages chosen
        outside scoring, such as a moderator's lesson (bot/lessons.py)."""
        p = int(self.index.window_para[w])
        first, length = int(self.index.window_first[w]), int(self.index.window_len[w])
        if len(self.index.paragraphs[p].text) <= self.weights.whole_paragraph:  # quoted whole, as answers are
            first, length = 0, len(self.index.paragraphs[p].sentences)
        quote, code = quote_span(self.index, p, first, length)
        return self._result(p, first, length, quote, score, None, code)
