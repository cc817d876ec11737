"""Plain-text helpers shared by ingestion and retrieval: sentence spans, search tokens, normalisation."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

import snowballstemmer

# A sentence ends with terminal punctuation, optional closing quotes or brackets, then whitespace. Every pattern here
# runs in linear time on any text: a match starts only where a run of its characters starts (the lookbehind) and its
# runs are possessive (`++`, `*+`), so a long run of dots or punctuation is read once, not once per position in it.
_BOUNDARY = re.compile(r"(?<![.!?…])[.!?…]++[\"'”’)\]]*+(?=\s)")
# What may start the next sentence: a capital letter, an opening quote or bracket, or a markup-free symbol.
_NEXT_START = re.compile(r"\s++([\"“‘(\[]?[A-Z\u00C0-\u00DE])")
_ABBREVIATIONS = frozenset(
    "e.g i.e etc vs mr mrs ms dr prof sr jr st inc ltd co no fig approx cf al u.s a.m p.m".split()
)
_LAST_WORD = re.compile(r"(?<![\w.])([\w.]++)[.!?…]*+[\"'”’)\]]*+$")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Split `text` into sentences, returned as (start, end) offsets so quotes stay verbatim."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        end = match.end()
        following = _NEXT_START.match(text, end)
        if not following:
            continue
        if match.group().startswith(".") and _is_abbreviation(text, start, end):
            continue
        spans.append((start, end))
        start = following.start(1)
    if text[start:].strip():
        spans.append((start, len(text.rstrip())))
    return [(s, e) for s, e in spans if text[s:e].strip()]


def _is_abbreviation(text: str, start: int, end: int) -> bool:
    """Does text[start:end] end with an abbreviation ("e.g.", "Dr.", an initial)? Only its last run of non-space
    characters is read: a sentence that an abbreviation keeps open is not read again for each abbreviation in it."""
    first = end
    while first > start and not text[first - 1].isspace():
        first -= 1
    word = _LAST_WORD.search(text[first:end])
    if not word:
        return False
    token = word.group(1).rstrip(".").lower()
    return token in _ABBREVIATIONS or (len(token) == 1 and token.isalpha())


_STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below between both
    but by can could did do does doing down during each few for from further had has have having he her here hers
    herself him himself his how i if in into is it its itself just me more most my myself no nor not now of off on
    once only or other our ours ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were what when where which
    while who whom why will with would you your yours yourself yourselves s t d ll m re ve y also get got anyone
    someone something really much many lot lots can't cannot could might may must shall thing things way ok okay
    hey hi hello please thanks thank anybody somebody does did doing done
    don doesn didn isn aren wasn weren won wouldn shouldn couldn haven hasn hadn ain dont doesnt didnt isnt arent
    wasnt cant wont im ive youre u ur pls plz tbh lol idk gonna wanna kinda sorta""".split()
)
_WORD = re.compile(r"\w+")
_ALIASES = {"k8s": "kubernetes"}
# A snowball stemmer keeps the word it is working on in the object itself, so one shared by threads (the answering
# workers and a build) mixes their words up or fails with IndexError: each thread gets its own.
_STEMMERS = threading.local()


def _stemmer() -> Any:
    stemmer = getattr(_STEMMERS, "english", None)
    if stemmer is None:
        stemmer = _STEMMERS.english = snowballstemmer.stemmer("english")
    return stemmer


@lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    return _stemmer().stemWord(word)


def search_tokens(text: str) -> list[str]:
    """Lower-cased, stemmed content words, for lexical (BM25) matching."""
    tokens = []
    for word in _WORD.findall(text.lower().replace("’", "'")):
        word = _ALIASES.get(word, word)
        if word in _STOPWORDS or (len(word) < 2 and not word.isdigit()):
            continue
        tokens.append(_stem(word))
    return tokens


_ENGLISH_FUNCTION_WORDS = frozenset(
    "the a an and or of to in on for with is are was be it that this you your we our can by as at from not".split()
)


ENGLISH_MIN_WORDS = 40  # below this a text is too short to judge its language, and counts as English


def english_share(text: str) -> float:
    """Share of a text's words that are common English function words: about 0.3-0.4 for English prose, near 0 for
    other languages (a translated copy of a page); 1.0 for a text too short to judge."""
    words = re.findall(r"[^\W\d_]+", text.lower())
    if len(words) < ENGLISH_MIN_WORDS:
        return 1.0
    return sum(w in _ENGLISH_FUNCTION_WORDS for w in words) / len(words)


def has_words(text: str) -> bool:
    """True when the text holds at least one letter or digit (not only emoji or punctuation)."""
    return any(ch.isalnum() for ch in text)


def normalize_for_match(text: str) -> str:
    """Whitespace- and quote-insensitive form, for comparing quotes with each other or with gold spans."""
    text = text.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    return " ".join(text.split()).lower()


def code_markup(text: str, code: Sequence[tuple[int, int]], escape: Callable[[str], str] = str) -> str:
    """`text` with its code as Markdown code: a span that fills its own lines becomes a fenced block, any other an
    inline span; the rest goes through `escape` (Discord's markdown escaping, or nothing for a terminal)."""
    out: list[str] = []
    pos = 0
    for start, end in sorted(code):
        if start < pos or end <= start:
            continue
        out.append(escape(text[pos:start]))
        piece = text[start:end]
        whole_lines = (start == 0 or text[start - 1] == "\n") and (end == len(text) or text[end] == "\n")
        if whole_lines and (start > 0 or "\n" in piece):
            out.append("```\n" + piece.replace("```", "`\u200b``") + "\n```")
        elif "`" in piece:
            out.append(f"`` {piece} ``")
        else:
            out.append(f"`{piece}`")
        pos = end
    out.append(escape(text[pos:]))
    return "".join(out)


_OPENING_MARKS = "“\"‘'«„"
_CLOSING_MARKS = "”\"’'»“"


def in_quotation_marks(text: str) -> str:
    """“text”, unless the text already stands in quotation marks (a pull quote): then as it is."""
    stripped = text.strip()
    if len(stripped) > 1 and stripped[0] in _OPENING_MARKS and stripped[-1] in _CLOSING_MARKS:
        return stripped
    return f"“{stripped}”"
