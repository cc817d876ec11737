"""Answering a question with verbatim quotes: hybrid retrieval over sentence windows, then an abstain decision.

Every run of 1-3 consecutive sentences in a paragraph (a window) is a candidate quote. A window's score mixes
  - its own dense similarity to the question (short windows carry one idea, so dense scoring is sharp),
  - evidence for its paragraph: the paragraph's embedding, its best window, its best BM25 match, and the similarity
    of its section heading (for an interview, the question the passage answers),
  - BM25 over window tokens, which catches names and terms that embeddings blur,
  - a small bonus per extra sentence, since a quote with its neighbouring sentence reads better on its own.
The weights were tuned on tests/eval/dev.jsonl only; tests/eval/holdout.jsonl was written separately and kept out.
The bot declines when no window is close enough to the question and the question's words are mostly unknown to the
corpus (see `confidence`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bot.documents import Span
from bot.embedding import TextEncoder
from bot.index import PassageIndex, import_bm25s
from bot.text import has_words, normalize_for_match, search_tokens

MAX_QUESTION_CHARS = 1000

# Questions no community's contributor documents answer, to measure how close a corpus comes to unrelated questions.
# Written for this purpose; none of them is in the evaluation sets.
UNRELATED_QUESTIONS = (
    "what's the best way to keep basil alive on a windowsill?",
    "how long should I boil pasta for it to be al dente",
    "can you recommend a good thriller novel for a long flight?",
    "who scored the most goals in the 1998 world cup",
    "is it going to snow in Toronto tomorrow?",
    "how do I get red wine out of a white carpet",
    "what's the capital of australia",
    "how many calories are in a banana",
    "best exercises for lower back pain?",
    "how do I change a flat tyre on a bike",
    "what year did the berlin wall fall",
    "how do I ask my landlord to fix the heating",
    "which is healthier, oat milk or almond milk",
    "how do you solve a quadratic equation",
    "what's a cheap way to travel around japan",
    "how do I train my puppy to stop biting",
    "what should I wear to a summer wedding",
    "how do I make cold brew coffee at home",
    "who painted the mona lisa",
    "how do I improve my chess openings",
    "tips for sleeping better when it's hot?",
    "how much should I tip in a restaurant in the US",
    "what's the difference between a violin and a viola",
    "how do I plant tulip bulbs",
    "how do I convert celsius to fahrenheit",
    "what are the rules of cricket in simple terms",
    "my cat won't eat her food, what should I do",
    "how can I save money on groceries",
    "which marathon has the fastest course",
    "how do I knit a scarf for beginners",
    "what's a good name for a goldfish",
    "how do I cancel my gym membership",
    "how do I reset the clock on my microwave",
    "what's the plot of hamlet",
    "how often should I water a cactus",
    "how do I book a table at a busy restaurant",
    "what's the tallest mountain in africa",
    "how do I get rid of hiccups",
    "how do I fold a fitted sheet",
    "what time is sunset in lisbon in june",
)


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
        self._idf = _idf(index)
        self._ends_on_lead_in = _ends_on_lead_in(index)
        self._pointer, self._first_person = _pointer_windows(index)
        self._speakers = _speaker_patterns(index)
        self._doc_vectors = _document_centroids(index, self._para_doc)
        self._about = _about_index(index)
        self._suggestions = _suggestion_headings(index)
        doc_discount = np.array(
            [max(-_document_prior(doc, self.weights), 0.0) for doc in index.documents], dtype=np.float32
        )
        self._window_discount = np.where(
            self._pointer, 1.0, self.weights.record_confidence * doc_discount[self._para_doc[index.window_para]]
        )
        self._doc_prior = np.array([_document_prior(doc, self.weights) for doc in index.documents], dtype=np.float32)
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
            - w.narrative * (self._first_person[candidates] & bool(_ASKS_HOW.match(rewritten)))
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
            norm = _comparable(quote)
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


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    """The positions of the k highest scores, in no particular order (linear time, unlike a full sort)."""
    if len(scores) <= k:
        return np.arange(len(scores))
    return np.argpartition(-scores, k)[:k]


_K8S = re.compile(r"\bk8s\b", re.IGNORECASE)


def _ends_on_lead_in(index: PassageIndex) -> np.ndarray:
    """For each window: does it stop on a question or colon that the paragraph goes on to answer?"""
    flags: list[bool] = []
    offsets = [0]
    for para in index.paragraphs:
        last = len(para.sentences) - 1
        flags += [i < last and para.text[s:e].rstrip().endswith(("?", ":")) for i, (s, e) in enumerate(para.sentences)]
        offsets.append(len(flags))
    if not flags:
        return np.zeros(index.size, dtype=bool)
    start = np.asarray(offsets[:-1], dtype=np.int64)[index.window_para]
    return np.asarray(flags, dtype=bool)[start + index.window_first + index.window_len - 1]


def _speaker_patterns(index: PassageIndex) -> list[tuple[re.Pattern[str], set[int]]]:
    """For each interview speaker: a pattern matching their full, first or last name (optionally possessive)."""
    by_name: dict[str, set[int]] = {}
    for d, doc in enumerate(index.documents):
        if doc.get("is_interview") and doc.get("speaker"):
            parts = doc["speaker"].split()
            for alias in {doc["speaker"], parts[0], parts[-1]}:
                if len(alias) >= 3:
                    by_name.setdefault(alias, set()).add(d)
    return [
        (re.compile(rf"\b({re.escape(alias)})(['’]?s)?\b", re.IGNORECASE), by_name[alias])
        for alias in sorted(by_name, key=len, reverse=True)
    ]


MAX_QUOTE_CHARS = 600


def quote_with_follow(index: PassageIndex, w: int) -> tuple[str, tuple[Span, ...]]:
    """A window's text, and the offsets of its code. A window that ends its paragraph on a lead-in ("To squash your
    commits, perform an interactive rebase:") carries on with the list items or code the lead-in introduces, one per
    line, within the quote limit; what does not fit is cut and marked with "…"."""
    para = index.paragraphs[int(index.window_para[w])]
    first, length = int(index.window_first[w]), int(index.window_len[w])
    start, end = para.sentences[first][0], para.sentences[first + length - 1][1]
    text = para.text[start:end]
    code = [(max(a, start) - start, min(b, end) - start) for a, b in para.code if a < end and b > start]
    if not para.follow or end < len(para.text.rstrip()) or not text.endswith(":"):
        return text, tuple(code)
    for block in para.follow:
        if block.kind == "code":
            prefix, body, inner = "", block.text, [(0, len(block.text))]
        else:
            prefix, body, inner = "  " * block.depth + "• ", block.text, list(block.code)
        line = "\n" + prefix + body
        if len(text) + len(line) > MAX_QUOTE_CHARS:
            room = MAX_QUOTE_CHARS - len(text) - len(prefix) - 2
            if block.kind == "item" and room > 40:
                cut = body[:room].rsplit(" ", 1)[0].rstrip(" ,;:")
                offset = len(text) + 1 + len(prefix)
                code += [(offset + a, offset + min(b, len(cut))) for a, b in inner if a < len(cut)]
                text += "\n" + prefix + cut + "…"
            else:
                text += "\n…"
            break
        offset = len(text) + 1 + len(prefix)
        code += [(offset + a, offset + b) for a, b in inner]
        text += line
    return text, tuple(code)


def _comparable(text: str) -> str:
    """Letters and digits only, lower case: copies of a passage that differ in punctuation or markup compare equal."""
    return re.sub(r"[\W_]+", " ", normalize_for_match(text)).strip()


# Sentences that only point elsewhere: the answer is in what they point at, not in them.
_SIGNPOST = re.compile(
    r"^\W*(?:(?:please|also|you can|you may|kindly)\s+)?"
    r"(?:see|read|check out|refer to|visit|head (?:over )?to|take a look|have a look|look at|"
    r"for (?:more|further|additional) (?:info|information|details|help)|more (?:info|information|details)|"
    r"learn more|read on|continue reading|click|this (?:doc|document|guide|page|section|file|readme|site)\b|"
    r"the following\b|below (?:is|are)\b|here (?:is|are) (?:a|an|the|some)?\s*(?:link|list|overview)|"
    r"details (?:are|can be found)|(?:more )?information (?:is|can be found))",
    re.IGNORECASE,
)


def _pointer_windows(index: PassageIndex) -> tuple[np.ndarray, np.ndarray]:
    """For each window: is it a pointer rather than an answer, and is it told in the first person ("so I did")?
    A pointer is a signpost ("Read on to learn more…", "This doc has
    some tips…") or a question (not an answer) in every sentence, a fragment too short to say anything alone ("Make
    the pull request"), or a lead-in whose list or code is not in the index ("…as follows:"). Judged sentence by
    sentence once, then for every window with running sums (large corpora hold 100,000 windows)."""
    if not index.size:
        return np.zeros(0, dtype=bool), np.zeros(0, dtype=bool)
    words: list[int] = []
    mine: list[bool] = []
    empty: list[bool] = []  # a sentence that only points or asks
    final: list[bool] = []  # ends with ".", "!" or "?"
    colon: list[bool] = []  # ends with ":"
    offsets = [0]
    for para in index.paragraphs:
        for start, end in para.sentences:
            sentence = para.text[start:end].rstrip()
            words.append(len(_WORD.findall(sentence)))
            empty.append(bool(_SIGNPOST.match(sentence)) or sentence.rstrip("\"”’')） ").endswith("?"))
            final.append(sentence.endswith((".", "!", "?")))
            colon.append(sentence.endswith(":"))
            mine.append(bool(_FIRST_PERSON.search(sentence)))
        offsets.append(len(words))
    first = np.asarray(offsets[:-1], dtype=np.int64)[index.window_para] + index.window_first
    last = first + index.window_len - 1
    word_sum = np.concatenate([[0], np.cumsum(words)])
    empty_sum = np.concatenate([[0], np.cumsum(empty)])
    window_words = word_sum[last + 1] - word_sum[first]
    all_empty = (empty_sum[last + 1] - empty_sum[first]) == index.window_len
    para_end = np.asarray(offsets[1:], dtype=np.int64)[index.window_para]
    is_list = np.array([p.kind == "list" for p in index.paragraphs], dtype=bool)[index.window_para]
    has_follow = np.array([bool(p.follow) for p in index.paragraphs], dtype=bool)[index.window_para]
    lead_in = (last + 1 == para_end) & np.asarray(colon, dtype=bool)[last]
    fragment = (window_words < 5) | (is_list & (window_words < 8) & ~np.asarray(final, dtype=bool)[last])
    mine_sum = np.concatenate([[0], np.cumsum(mine)])
    first_person = (mine_sum[last + 1] - mine_sum[first]) > 0
    return np.where(lead_in, ~has_follow, fragment | all_empty), first_person


_WORD = re.compile(r"\w+")
_FIRST_PERSON = re.compile(r"\b(I|me|my|mine|myself|I['’](m|ve|d|ll))\b")
# A question asking what to do ("how do I…", "can I…", "where should I…"): answered by advice, not by a story
_ASKS_HOW = re.compile(
    r"^\W*(how (do|can|should|would) (i|we|one|someone|people|newcomers)|how to|what (should|can|do) (i|we)|"
    r"where (do|should|can) (i|we)|can (i|we)|should (i|we)|do (i|we) need|is it ok|any (tips|advice))\b",
    re.IGNORECASE,
)


# Documents that record what happened rather than explain how things work: minutes, notes, archives, elections,
# reports, retrospectives. Named so in their path or title; they rarely answer a newcomer's question.
_RECORD = re.compile(
    r"(minutes|meeting[-_ ]?notes|notes|agenda|archive|election|candidate|nomination|voters?\b|annual[-_ ]report|"
    r"retro(spective)?s?\b|summit|survey[-_ ]results|\b(19|20)\d\d[-_]\d\d)",
    re.IGNORECASE,
)
_TRANSLATION = 0.06  # below this share of English function words a document is not in English


def _document_prior(doc: dict, weights: Weights) -> float:
    """A document's standing before any question: a moderator's front-matter authority, minus a default penalty
    for records and for documents not in English (translated copies of a page)."""
    authority = float(doc.get("authority", 1.0))
    if authority == 0:
        return -10.0  # "never": kept in the index, never quoted
    prior = weights.authority * (authority - 1.0)
    if authority == 1.0 and _RECORD.search(f"{doc['name']} {doc['title']}"):
        prior -= weights.record
    if doc.get("english", 1.0) < _TRANSLATION:
        prior -= 1.0
    return prior


def _document_centroids(index: PassageIndex, para_doc: np.ndarray) -> np.ndarray:
    """Each document's mean paragraph vector, unit length: what the document as a whole is about."""
    n = len(index.documents)
    if not len(para_doc):
        return np.zeros((n, index.paragraph_vectors.shape[1] if index.paragraph_vectors.ndim == 2 else 0))
    sums = np.zeros((n, index.paragraph_vectors.shape[1]), dtype=np.float32)
    np.add.at(sums, para_doc, index.paragraph_vectors)
    return sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-9)


def _about_index(index: PassageIndex) -> tuple[Any, frozenset[str]]:
    """BM25 over each document's title, description and headings."""
    bm25 = import_bm25s().BM25()
    tokens = [search_tokens(doc.get("about") or doc["title"]) or ["\x00"] for doc in index.documents]
    bm25.index(tokens, show_progress=False)
    return bm25, frozenset(bm25.vocab_dict)


def _idf(index: PassageIndex) -> dict[str, float]:
    """Inverse document frequency of each word over the windows, from the BM25 index's postings."""
    bm25 = index.bm25
    indptr = np.asarray(bm25.scores["indptr"])
    df = np.diff(indptr)
    n = max(int(bm25.scores.get("num_docs", index.size)), 1)
    return {word: float(np.log(1 + n / max(int(df[i]), 1))) for word, i in bm25.vocab_dict.items() if i < len(df)}


_GREETING = re.compile(r"^\W*(hi|hello|hey|welcome|thanks?|good (morning|afternoon|evening))\b", re.IGNORECASE)


def _suggestion_headings(index: PassageIndex) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Headings a decline can suggest, one per section: its last heading, when it is not a greeting."""
    ids: list[int] = []
    texts: list[str] = []
    seen: set[int] = set()
    for para in index.paragraphs:
        if para.section and para.section_id not in seen:
            seen.add(para.section_id)
            heading = para.section[-1]
            if not _GREETING.match(heading) and len(heading) <= 200 and len(heading.split()) >= 3:
                ids.append(para.section_id)
                texts.append(heading)
    questions = np.array([t.rstrip().endswith("?") for t in texts], dtype=np.float32)
    return np.asarray(ids, dtype=np.int64), texts, questions
