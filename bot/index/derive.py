"""What a corpus's passages are before any question is asked, worked out once when a build is written and stored
beside it (`derived.npz`, `derived.json`): pointers and fragments, first-person story, lead-ins, windows fit to quote
alone, each paragraph's document, section and speaker, documents' centroids, the headings a decline can suggest, and
the windows closest to the unrelated questions that set the decline line. The retriever (bot/retrieval.py) and the
random quote (bot/quotes.py) read them as arrays.

A build that reuses the live build's documents copies what depends on one document only and puts the rest together
(`Previous`); what it copies from, beyond the derived arrays, each build keeps for the next in `reuse.npz` and
`reuse.json`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from bot.embedding import TextEncoder
from bot.index.load import PassageIndex
from bot.questions import UNRELATED_QUESTIONS, rewrite_question, speaker_patterns

MIN_QUOTE_CHARS, MAX_QUOTE_CHARS_ALONE = 60, 300  # a random quote's length


def ends_on_lead_in(index: PassageIndex) -> np.ndarray:
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


def pointer_windows(index: PassageIndex) -> tuple[np.ndarray, np.ndarray]:
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


# Openings that lean on what came before ("So, ...", "Again, ...") or that are not a thought of their own.
_DEPENDENT_START = re.compile(
    r"^(and|but|so|or|also|again|secondly|thirdly|then|additionally|luckily|true|certainly|yes|no|that|this|these|"
    r"those|there|he|she|his|her|they|it|its|it’s|since then|from that point|because|which|when we|in that)\b",
    re.IGNORECASE,
)
_BOILERPLATE = re.compile(
    r"\b(glad to be here|thank you|thanks for|stay tuned|follow us|subscribe|click here|edited and condensed|"
    r"welcome to)\b",
    re.IGNORECASE,
)


def prose_quotable(index: PassageIndex) -> np.ndarray:
    """For each window: is it fit to quote alone, whoever speaks? 60-300 characters of at most two sentences, not a
    list, no question, greeting or boilerplate, and not opening with a word that points back to earlier text. (A
    corpus with speakers quotes only their words: `derive` adds that rule, which depends on every document.)"""
    chosen = np.zeros(index.size, dtype=bool)
    for w in range(index.size):
        para = index.paragraphs[int(index.window_para[w])]
        if int(index.window_len[w]) > 2 or para.kind == "list":
            continue
        if index.documents[para.doc].get("is_interview") and not para.section and para.kind != "quote":
            continue  # an interview's editor introducing it: not a speaker's own words
        text = index.window_text(w)
        if not MIN_QUOTE_CHARS <= len(text) <= MAX_QUOTE_CHARS_ALONE or "?" in text:
            continue
        if _DEPENDENT_START.match(text.lstrip("“\"‘'")) or _BOILERPLATE.search(text):
            continue
        chosen[w] = True
    return chosen


_GREETING = re.compile(r"^\W*(hi|hello|hey|welcome|thanks?|good (morning|afternoon|evening))\b", re.IGNORECASE)


def suggestion_headings(index: PassageIndex) -> tuple[np.ndarray, list[str], np.ndarray]:
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


POINTER, FIRST_PERSON, LEAD_IN_END, QUOTABLE = 1, 2, 4, 8  # bits of `derived["window_flags"]`


UNRELATED_CANDIDATES = 300  # closest windows kept for each unrelated question (the retriever's candidate count)
# closest windows `reuse.npz` keeps for each unrelated question: a later build drops those of changed documents and
# still knows the closest `UNRELATED_CANDIDATES` without searching every window, until too many of them are gone
UNRELATED_KEPT = 500
SEARCH_BLOCK = 4096  # windows per exact search step: one matrix shape, so a window's similarity never depends on it
DERIVE_PARAGRAPHS = 20_000  # paragraphs read into memory at a time while a build works out its new documents


@dataclass(frozen=True)
class Layout:
    """Where each document's passages are in a build: its first paragraph and first section (plus the totals, after
    the last document). A document's windows are those of its paragraphs."""

    paragraphs: np.ndarray  # int64, documents + 1
    sections: np.ndarray

    @classmethod
    def of(cls, index: PassageIndex) -> Layout:
        """The layout of a build that has its derived arrays."""
        para_doc, para_section = index.derived["para_doc"], index.derived["para_section"]
        paragraphs = np.searchsorted(para_doc, np.arange(len(index.documents) + 1)).astype(np.int64)
        counts = np.zeros(len(index.documents), dtype=np.int64)
        held = np.flatnonzero(np.diff(paragraphs) > 0)  # a document's sections are numbered together
        if len(held):
            starts = paragraphs[held]
            counts[held] = np.maximum.reduceat(para_section, starts) - np.minimum.reduceat(para_section, starts) + 1
        return cls(paragraphs, np.concatenate([[0], np.cumsum(counts)]).astype(np.int64))


@dataclass(frozen=True)
class Previous:
    """The live build, for a build that reuses its documents: that build, what it kept for reuse (`reuse.npz`,
    `reuse.json`), and for each document of the new build its number in the live build (-1: new or changed)."""

    index: PassageIndex
    arrays: dict[str, np.ndarray]
    notes: dict[str, Any]
    source: np.ndarray


@dataclass
class Derived:
    arrays: dict[str, np.ndarray]  # derived.npz, read by every process serving the build
    notes: dict[str, Any]  # derived.json
    reuse: dict[str, np.ndarray]  # reuse.npz, read only by the next build: what it copies instead of working out
    reuse_notes: dict[str, Any]  # reuse.json


def derive(index: PassageIndex, embedder: TextEncoder, layout: Layout, previous: Previous | None = None) -> Derived:
    """What every question (and the random quote) needs about every passage, worked out once when a build is
    written, so that loading reads arrays instead of walking 100,000 passages: window flags, each paragraph's
    document, section and speaker, documents' centroids, the headings a decline can suggest, and the windows
    closest to the unrelated questions that set the decline line (by exact search).

    With `previous`, what depends on one document only is copied from the live build for the documents it reused
    and worked out for the others; what depends on the whole corpus is put together from those. The result is the
    same as a derivation from scratch."""
    table = _Table.empty(index, layout)
    source = previous.source if previous is not None else np.full(len(index.documents), -1)
    moved = np.zeros(0, dtype=np.int64)  # the live build's windows in this one (-1: gone)
    if previous is not None:
        moved = table.copy(previous, np.flatnonzero(source >= 0))
    fresh = np.flatnonzero(source < 0)
    group: list[int] = []
    for d in fresh.tolist():  # a group of documents at a time, each paragraph read once
        group.append(d)
        if layout.paragraphs[d + 1] - layout.paragraphs[group[0]] >= DERIVE_PARAGRAPHS or d == fresh[-1]:
            table.work_out(np.asarray(group))
            group = []
    return table.finish(embedder, previous, moved)


def _ranges(starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """The numbers of every range `starts[i]:stops[i]`, one range after another."""
    lengths = (stops - starts).astype(np.int64)
    if not lengths.sum():
        return np.zeros(0, dtype=np.int64)
    offsets = np.repeat(starts.astype(np.int64) - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    return np.arange(int(lengths.sum())) + offsets


@dataclass
class _Table:
    """The derived arrays of a build while they are filled in, document by document."""

    index: PassageIndex
    layout: Layout
    windows: np.ndarray  # first window of each document, and the total
    flags: np.ndarray  # POINTER, FIRST_PERSON and LEAD_IN_END; QUOTABLE is added at the end
    prose: np.ndarray  # windows fit to quote alone, whoever speaks
    para_section: np.ndarray
    has_section: np.ndarray
    spoken: np.ndarray  # an interview's speaker's own words (not the editor's introduction)
    speaker: np.ndarray  # a paragraph that has a speaker
    doc_vectors: np.ndarray
    headings: list[str | None]  # each section's last heading (None: the page top)
    suggest_ids: list[np.ndarray]
    suggest_texts: list[str]
    suggest_question: list[np.ndarray]

    @classmethod
    def empty(cls, index: PassageIndex, layout: Layout) -> _Table:
        n, w = len(index.paragraphs), index.size
        dimension = index.paragraph_vectors.shape[1] if index.paragraph_vectors.ndim == 2 else 0
        return cls(
            index=index,
            layout=layout,
            windows=np.searchsorted(index.window_para, layout.paragraphs).astype(np.int64),
            flags=np.zeros(w, dtype=np.uint8),
            prose=np.zeros(w, dtype=bool),
            para_section=np.zeros(n, dtype=np.int32),
            has_section=np.zeros(n, dtype=bool),
            spoken=np.zeros(n, dtype=bool),
            speaker=np.zeros(n, dtype=bool),
            doc_vectors=np.zeros((len(index.documents), dimension), dtype=np.float32),
            headings=[None] * int(layout.sections[-1]),
            suggest_ids=[],
            suggest_texts=[],
            suggest_question=[],
        )

    def copy(self, previous: Previous, docs: np.ndarray) -> np.ndarray:
        """Copy what the live build worked out for the documents `docs` (numbers in this build) it also holds;
        returns where each of the live build's windows is in this build (-1: gone)."""
        old, layout = previous.index, self.layout
        was = previous.source[docs]
        old_layout = Layout.of(old)
        old_windows = np.searchsorted(old.window_para, old_layout.paragraphs)
        new_p = _ranges(layout.paragraphs[docs], layout.paragraphs[docs + 1])
        old_p = _ranges(old_layout.paragraphs[was], old_layout.paragraphs[was + 1])
        new_w = _ranges(self.windows[docs], self.windows[docs + 1])
        old_w = _ranges(old_windows[was], old_windows[was + 1])
        new_s = _ranges(layout.sections[docs], layout.sections[docs + 1])
        old_s = _ranges(old_layout.sections[was], old_layout.sections[was + 1])
        if not (len(new_p) == len(old_p) and len(new_w) == len(old_w) and len(new_s) == len(old_s)):
            raise ValueError("the reused documents' passages differ from the live build's")
        shift = np.repeat(layout.sections[docs] - old_layout.sections[was], np.diff(layout.paragraphs)[docs])
        self.para_section[new_p] = old.derived["para_section"][old_p] + shift
        self.has_section[new_p] = old.derived["para_has_section"][old_p]
        self.spoken[new_p] = old.derived["para_spoken"][old_p]
        self.speaker[new_p] = previous.arrays["para_speaker"][old_p]
        self.flags[new_w] = old.derived["window_flags"][old_w] & (POINTER | FIRST_PERSON | LEAD_IN_END)
        self.prose[new_w] = previous.arrays["prose_quotable"][old_w]
        self.doc_vectors[docs] = old.derived["doc_vectors"][was]
        headings = previous.notes["section_headings"]
        for s, o in zip(new_s.tolist(), old_s.tolist(), strict=True):
            self.headings[s] = headings[o]
        section = np.full(len(old.sections), -1, dtype=np.int64)
        section[old_s] = new_s
        ids = section[old.derived["suggest_ids"]]
        kept = np.flatnonzero(ids >= 0)
        self.suggest_ids.append(ids[kept])
        self.suggest_texts += [old.notes["suggest_texts"][i] for i in kept.tolist()]
        self.suggest_question.append(old.derived["suggest_question"][kept])
        moved = np.full(old.size, -1, dtype=np.int64)
        moved[old_w] = new_w
        return moved

    def work_out(self, docs: np.ndarray) -> None:
        """Work out everything for the documents `docs`, reading each of their paragraphs once."""
        index, layout = self.index, self.layout
        rows = _ranges(layout.paragraphs[docs], layout.paragraphs[docs + 1])
        windows = _ranges(self.windows[docs], self.windows[docs + 1])
        records = [index.paragraphs[p] for p in rows.tolist()]
        view = replace(  # the documents alone, as an index of their own
            index,
            paragraphs=records,
            window_para=np.searchsorted(rows, index.window_para[windows]),
            window_first=index.window_first[windows],
            window_len=index.window_len[windows],
        )
        pointer, first_person = pointer_windows(view)
        self.flags[windows] = (
            pointer.astype(np.uint8) * POINTER
            + first_person.astype(np.uint8) * FIRST_PERSON
            + ends_on_lead_in(view).astype(np.uint8) * LEAD_IN_END
        )
        self.prose[windows] = prose_quotable(view)
        for i, p in zip(rows.tolist(), records, strict=True):
            self.para_section[i], self.has_section[i], self.speaker[i] = p.section_id, bool(p.section), bool(p.speaker)
            self.spoken[i] = bool(p.speaker) and p.speaker == index.documents[p.doc].get("speaker")
            if p.section:
                self.headings[p.section_id] = p.section[-1]
        ids, texts, questions = suggestion_headings(view)
        self.suggest_ids.append(ids)
        self.suggest_texts += texts
        self.suggest_question.append(questions)
        if len(rows) and self.doc_vectors.shape[1]:  # each document's mean paragraph vector, unit length
            owner = np.repeat(np.arange(len(docs)), np.diff(layout.paragraphs)[docs])
            sums = np.zeros((len(docs), self.doc_vectors.shape[1]), dtype=np.float32)
            for start in range(0, len(rows), 20_000):  # a slice at a time: the vectors are a mapped float16 file
                vectors = np.asarray(index.paragraph_vectors[rows[start : start + 20_000]], dtype=np.float32)
                np.add.at(sums, owner[start : start + 20_000], vectors)
            self.doc_vectors[docs] = sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-9)

    def finish(self, embedder: TextEncoder, previous: Previous | None, moved: np.ndarray) -> Derived:
        """Put together what depends on the whole corpus: which windows are quotable (only speakers' words once any
        document has a speaker), the suggestions, topics and the unrelated questions' closest windows."""
        index, layout = self.index, self.layout
        has_speaker = bool(self.speaker.any())
        speaks = self.speaker[index.window_para] if has_speaker else np.ones(index.size, dtype=bool)
        self.flags[self.prose & speaks] |= QUOTABLE
        ids = np.concatenate([np.zeros(0, dtype=np.int64), *self.suggest_ids])
        order = np.argsort(ids, kind="stable")  # in section order, as the paragraphs come
        questions = np.concatenate([np.zeros(0, dtype=np.float32), *self.suggest_question])
        headings = list(dict.fromkeys(h for h in self.headings if h is not None))
        step = max(len(headings) // 4, 1)
        doc_paragraphs = np.diff(layout.paragraphs)
        served, kept, texts = _closest_to_unrelated(index, embedder, previous, moved)
        arrays = {
            "window_flags": self.flags,
            "para_doc": np.repeat(np.arange(len(index.documents), dtype=np.int32), doc_paragraphs),
            "para_section": self.para_section,
            "para_has_section": self.has_section,
            "para_spoken": self.spoken,
            "doc_vectors": self.doc_vectors,
            "suggest_ids": ids[order],
            "suggest_question": questions[order],
            **served,
        }
        notes = {
            "suggest_texts": [self.suggest_texts[i] for i in order.tolist()],
            "topics": headings[::step][:4],  # headings spread over the corpus, for the "I don't know" reply
            "doc_paragraphs": doc_paragraphs.tolist(),
            "has_speaker": has_speaker,
        }
        reuse = {"prose_quotable": self.prose, "para_speaker": self.speaker, **kept}
        return Derived(arrays, notes, reuse, {"section_headings": self.headings, "unrelated_texts": texts})


def _closest_to_unrelated(
    index: PassageIndex, embedder: TextEncoder, previous: Previous | None, moved: np.ndarray
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], list[str]]:
    """The windows closest to each unrelated question and their similarity, best first (the served arrays, and
    those `reuse.npz` keeps, with more of them and the questions' vectors), and the questions as embedded.

    With `previous`, the live build's closest windows that are still there are merged with the closest of this
    build's new windows, when that is exact: a window the live build did not keep is no closer than the last it
    kept, so every merged window closer than that one is in its right place. Else every window is searched."""
    if not index.size:
        return {}, {}, []
    speakers = speaker_patterns(index.documents)
    texts = [rewrite_question(q, speakers)[0] for q in UNRELATED_QUESTIONS]
    keys = None
    if previous is not None and previous.notes.get("unrelated_texts") == texts:
        queries = previous.arrays["unrelated_queries"]
        keys = _merged(index, previous, moved, queries)
    else:
        queries = embedder.encode(texts)
    if keys is None:
        keys = _search(index.window_vectors, np.arange(index.size), queries, min(UNRELATED_KEPT, index.size))
    ids, sims = _unkey(keys)
    k = min(UNRELATED_CANDIDATES, index.size)
    served = {"unrelated_ids": ids[:, :k].astype(np.int32), "unrelated_sims": sims[:, :k]}
    return served, {"unrelated_ids": ids, "unrelated_sims": sims, "unrelated_queries": queries}, texts


def _merged(index: PassageIndex, previous: Previous, moved: np.ndarray, queries: np.ndarray) -> np.ndarray | None:
    """The closest windows by merging (see `_closest_to_unrelated`), or None when too few of them are known."""
    old_ids, old_sims = previous.arrays["unrelated_ids"], previous.arrays["unrelated_sims"]
    new = np.setdiff1d(np.arange(index.size), moved[moved >= 0])  # this build's windows the live one did not have
    there = moved[old_ids.astype(np.int64)]
    gone = np.iinfo(np.int64).max
    kept = np.where(there >= 0, _keys(np.maximum(there, 0), old_sims), gone)
    found = _search(index.window_vectors, new, queries, min(UNRELATED_KEPT, len(new)))
    pool = np.sort(np.concatenate([kept, found], axis=1), axis=1)
    unknown = pool == gone
    ids, sims = _unkey(np.where(unknown, 0, pool))
    if old_ids.shape[1] < previous.index.size:
        # a window the live build did not keep is no closer than the last it kept, and when as close, it came after
        # it; its place among this build's new windows that are as close is not known, nor among the kept ones when
        # the windows changed order
        last = old_sims[:, -1:]
        is_new = np.zeros(index.size, dtype=bool)
        is_new[new] = True
        in_order = bool(np.all(np.diff(moved[moved >= 0]) > 0))
        unknown |= (sims < last) | ((sims == last) & (is_new[ids] | (not in_order)))
    known = np.where(unknown.any(axis=1), unknown.argmax(axis=1), pool.shape[1])  # the first unknown place
    count = min(int(known.min()), UNRELATED_KEPT)
    if count < min(UNRELATED_CANDIDATES, index.size):
        return None
    return pool[:, :count]


def _search(vectors: np.ndarray, rows: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """The k windows of `rows` closest to each query, by exact search, as sorted `_keys`."""
    best = np.zeros((len(queries), 0), dtype=np.int64)
    block = np.zeros((SEARCH_BLOCK, queries.shape[1]), dtype=np.float32)
    for start in range(0, len(rows), SEARCH_BLOCK):
        chunk = rows[start : start + SEARCH_BLOCK]
        block[: len(chunk)] = vectors[chunk]
        block[len(chunk) :] = 0
        keys = np.concatenate([best, _keys(chunk, (block @ queries.T)[: len(chunk)].T)], axis=1)
        best = np.partition(keys, k - 1, axis=1)[:, :k] if keys.shape[1] > k else keys
    return np.sort(best, axis=1)


def _keys(ids: np.ndarray, sims: np.ndarray) -> np.ndarray:
    """One integer for each (window, similarity) that sorts closest first, ties by window number: the closest k are
    then one set however the windows were searched. The similarity's float32 bits, turned so that integer order is
    float order, times 2^31, plus the window number."""
    bits = (sims.astype(np.float32) + np.float32(0)).view(np.int32).astype(np.int64)  # + 0: -0.0 becomes 0.0
    ordered = np.where(bits < 0, bits ^ 0x7FFFFFFF, bits)
    return -ordered * 2**31 + ids.astype(np.int64)


def _unkey(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The window numbers and similarities of `_keys`."""
    ordered = -(keys >> 31)
    bits = np.where(ordered < 0, ordered ^ 0x7FFFFFFF, ordered).astype(np.int32)
    return (keys & (2**31 - 1)).astype(np.int64), bits.view(np.float32)
