"""What a corpus's passages and documents are before any question is asked: pointers and fragments, first-person
story, lead-ins with what they introduce, records and translations, documents' centroids and headings, and the
unrelated questions that set the decline line. A build works these out once (`derive`) and stores them beside the
index; the retriever (bot/retrieval.py) reads them as arrays.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from bot.documents import Span
from bot.embedding import TextEncoder
from bot.index import PassageIndex, import_bm25s
from bot.text import normalize_for_match, search_tokens

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


def speaker_patterns(index: PassageIndex) -> list[tuple[re.Pattern[str], set[int]]]:
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


_K8S = re.compile(r"\bk8s\b", re.IGNORECASE)


def rewrite_question(question: str, speakers: list[tuple[re.Pattern[str], set[int]]]) -> tuple[str, set[int]]:
    """A question as it is embedded: an interview's speaker put in the second person, as the interviewer asked
    ("how did Jaice start?" becomes "how did you start?"), "k8s" spelled out; and the documents whose speaker it
    names."""
    named: set[int] = set()
    text = question
    for pattern, docs in speakers:
        text, count = pattern.subn(lambda m: "your" if m.group(2) else "you", text)
        if count:
            named |= docs
    return _K8S.sub("Kubernetes", text), named


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
            offset = len(text) + 1 + len(prefix)
            if block.kind == "item" and room > 40:
                cut = body[:room].rsplit(" ", 1)[0].rstrip(" ,;:")
                code += [(offset + a, offset + min(b, len(cut))) for a, b in inner if a < len(cut)]
                text += "\n" + prefix + cut + "…"
            elif block.kind == "code" and "\n" in body[:room]:  # whole lines of the command, then "…"
                lines = body[:room].rsplit("\n", 1)[0]
                code.append((offset, offset + len(lines)))
                text += "\n" + lines + "\n…"
            else:
                text += "\n…"
            break
        offset = len(text) + 1 + len(prefix)
        code += [(offset + a, offset + b) for a, b in inner]
        text += line
    return text, tuple(code)


def comparable(text: str) -> str:
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
# A question asking what to do ("how do I…", "can I…", "where should I…"): answered by advice, not by a story
ASKS_HOW = re.compile(
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


def document_prior(doc: dict[str, Any], authority_weight: float, record_penalty: float) -> float:
    """A document's standing before any question: a moderator's front-matter authority, minus a default penalty
    for records and for documents not in English (translated copies of a page)."""
    authority = float(doc.get("authority", 1.0))
    if authority == 0:
        return -10.0  # "never": kept in the index, never quoted
    prior = authority_weight * (authority - 1.0)
    if authority == 1.0 and _RECORD.search(f"{doc['name']} {doc['title']}"):
        prior -= record_penalty
    if doc.get("english", 1.0) < _TRANSLATION:
        prior -= 1.0
    return prior


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


def about_index(index: PassageIndex) -> tuple[Any, frozenset[str]]:
    """BM25 over each document's title, description and headings."""
    bm25 = import_bm25s().BM25()
    tokens = [search_tokens(doc.get("about") or doc["title"]) or ["\x00"] for doc in index.documents]
    bm25.index(tokens, show_progress=False)
    return bm25, frozenset(bm25.vocab_dict)


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
    from bot.quotes import quotable_windows  # bot.quotes reads the index like this module does

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
    speakers = speaker_patterns(index)
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
