"""Plain-text helpers shared by ingestion and retrieval: sentence spans, search tokens, normalisation."""

from __future__ import annotations

import re
from functools import lru_cache

import snowballstemmer

# A sentence ends with terminal punctuation, optional closing quotes or brackets, then whitespace.
_BOUNDARY = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s+)")
# What may start the next sentence: a capital letter, an opening quote or bracket, or a markup-free symbol.
_NEXT_START = re.compile(r"\s+([\"“‘(\[]?[A-Z\u00C0-\u00DE])")
_ABBREVIATIONS = frozenset(
    "e.g i.e etc vs mr mrs ms dr prof sr jr st inc ltd co no fig approx cf al u.s a.m p.m".split()
)
_LAST_WORD = re.compile(r"([\w.]+)[.!?…]*[\"'”’)\]]*$")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Split `text` into sentences, returned as (start, end) offsets so quotes stay verbatim."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        end = match.end()
        following = _NEXT_START.match(text, end)
        if not following:
            continue
        if match.group().startswith(".") and _is_abbreviation(text[start:end]):
            continue
        spans.append((start, end))
        start = following.start(1)
    if text[start:].strip():
        spans.append((start, len(text.rstrip())))
    return [(s, e) for s, e in spans if text[s:e].strip()]


def _is_abbreviation(sentence: str) -> bool:
    word = _LAST_WORD.search(sentence)
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
    hey hi hello please thanks thank anybody somebody does did doing done""".split()
)
_WORD = re.compile(r"\w+")
_ALIASES = {"k8s": "kubernetes"}
_STEMMER = snowballstemmer.stemmer("english")


@lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    return _STEMMER.stemWord(word)


def search_tokens(text: str) -> list[str]:
    """Lower-cased, stemmed content words, for lexical (BM25) matching."""
    tokens = []
    for word in _WORD.findall(text.lower().replace("’", "'")):
        word = _ALIASES.get(word, word)
        if word in _STOPWORDS or (len(word) < 2 and not word.isdigit()):
            continue
        tokens.append(_stem(word))
    return tokens


def has_words(text: str) -> bool:
    """True when the text holds at least one letter or digit (not only emoji or punctuation)."""
    return any(ch.isalnum() for ch in text)


def normalize_for_match(text: str) -> str:
    """Whitespace- and quote-insensitive form, for comparing quotes with each other or with gold spans."""
    text = text.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    return " ".join(text.split()).lower()
