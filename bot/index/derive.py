"""What a corpus's passages are before any question is asked, worked out once when a build is written and stored
beside it (`derived.npz`, `derived.json`): pointers and fragments, first-person story, lead-ins, windows fit to quote
alone, each paragraph's document, section and speaker, documents' centroids, the headings a decline can suggest, and
the windows closest to the unrelated questions that set the decline line. The retriever (bot/retrieval.py) and the
random quote (bot/quotes.py) read them as arrays.
"""

from __future__ import annotations

import re
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


def document_centroids(index: PassageIndex, para_doc: np.ndarray) -> np.ndarray:
    """Each document's mean paragraph vector, unit length: what the document as a whole is about."""
    n = len(index.documents)
    if not len(para_doc):
        return np.zeros((n, index.paragraph_vectors.shape[1] if index.paragraph_vectors.ndim == 2 else 0))
    sums = np.zeros((n, index.paragraph_vectors.shape[1]), dtype=np.float32)
    for start in range(0, len(para_doc), 20_000):  # a slice at a time: the vectors may be a mapped float16 file
        rows = np.asarray(index.paragraph_vectors[start : start + 20_000], dtype=np.float32)
        np.add.at(sums, para_doc[start : start + 20_000], rows)
    return sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-9)


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


def quotable_windows(index: PassageIndex) -> list[int]:
    """Windows fit to quote alone: a speaker's words (any prose if no document has a speaker), 60-300 characters,
    no question, greeting or boilerplate, and not opening with a word that points back to earlier text."""
    has_speaker = any(p.speaker for p in index.paragraphs)
    chosen = []
    for w in range(index.size):
        para = index.paragraphs[int(index.window_para[w])]
        if int(index.window_len[w]) > 2 or (has_speaker and not para.speaker) or para.kind == "list":
            continue
        if index.documents[para.doc].get("is_interview") and not para.section and para.kind != "quote":
            continue  # an interview's editor introducing it: not a speaker's own words
        text = index.window_text(w)
        if not MIN_QUOTE_CHARS <= len(text) <= MAX_QUOTE_CHARS_ALONE or "?" in text:
            continue
        if _DEPENDENT_START.match(text.lstrip("“\"‘'")) or _BOILERPLATE.search(text):
            continue
        chosen.append(w)
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


def derive(index: PassageIndex, embedder: TextEncoder) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """What every question (and the random quote) needs about every passage, worked out once when a build is
    written, so that loading reads arrays instead of walking 100,000 passages: window flags, each paragraph's
    document, section and speaker, documents' centroids, the headings a decline can suggest, and the windows
    closest to the unrelated questions that set the decline line (by exact search)."""
    n = len(index.paragraphs)
    para_doc = np.zeros(n, dtype=np.int32)
    para_section = np.zeros(n, dtype=np.int32)
    has_section = np.zeros(n, dtype=bool)
    spoken = np.zeros(n, dtype=bool)  # an interview's speaker's own words (not the editor's introduction)
    for i, p in enumerate(index.paragraphs):
        para_doc[i], para_section[i], has_section[i] = p.doc, p.section_id, bool(p.section)
        spoken[i] = bool(p.speaker) and p.speaker == index.documents[p.doc].get("speaker")
    pointer, first_person = pointer_windows(index)
    flags = (
        pointer.astype(np.uint8) * POINTER
        + first_person.astype(np.uint8) * FIRST_PERSON
        + ends_on_lead_in(index).astype(np.uint8) * LEAD_IN_END
    )
    quotable = quotable_windows(index)
    flags[quotable] |= QUOTABLE
    ids, texts, questions = suggestion_headings(index)
    arrays = {
        "window_flags": flags,
        "para_doc": para_doc,
        "para_section": para_section,
        "para_has_section": has_section,
        "para_spoken": spoken,
        "doc_vectors": document_centroids(index, para_doc).astype(np.float32),
        "suggest_ids": ids,
        "suggest_question": questions,
        **_closest_to_unrelated(index, embedder),
    }
    headings: list[str] = []
    for para in index.paragraphs:
        if para.section and para.section[-1] not in headings:
            headings.append(para.section[-1])
    step = max(len(headings) // 4, 1)
    notes = {
        "suggest_texts": texts,
        "topics": headings[::step][:4],  # headings spread over the corpus, for the "I don't know" reply
        "doc_paragraphs": np.bincount(para_doc, minlength=len(index.documents)).tolist(),
        "has_speaker": any(p.speaker for p in index.paragraphs),
    }
    return arrays, notes


def _closest_to_unrelated(index: PassageIndex, embedder: TextEncoder) -> dict[str, np.ndarray]:
    """The windows closest to each unrelated question and their similarity, by exact search in slices."""
    if not index.size:
        return {}
    speakers = speaker_patterns(index.documents)
    queries = embedder.encode([rewrite_question(q, speakers)[0] for q in UNRELATED_QUESTIONS])
    k = min(UNRELATED_CANDIDATES, index.size)
    best_ids = np.zeros((len(queries), 0), dtype=np.int64)
    best_sims = np.zeros((len(queries), 0), dtype=np.float32)
    for start in range(0, index.size, 50_000):
        block = np.asarray(index.window_vectors[start : start + 50_000], dtype=np.float32) @ queries.T
        ids = np.concatenate([best_ids, np.arange(start, start + len(block))[None, :].repeat(len(queries), 0)], 1)
        sims = np.concatenate([best_sims, block.T], 1)
        keep = np.argpartition(-sims, k - 1, axis=1)[:, :k] if sims.shape[1] > k else np.argsort(-sims, axis=1)
        best_ids, best_sims = np.take_along_axis(ids, keep, 1), np.take_along_axis(sims, keep, 1)
    return {"unrelated_ids": best_ids.astype(np.int32), "unrelated_sims": best_sims.astype(np.float32)}
