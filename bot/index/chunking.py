"""Chunking: a parsed document cut into paragraphs of sentence units and windows of 1-3 of them (`_chunk`), with the
parameters that decide the cut (`CHUNKING`) and `_Part`, one document's share of a build."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from bot.documents import Block, Document, SkippedFileError
from bot.text import english_share, sentence_spans

# Bump when parsing or chunking changes what a build produces, so old indexes are rebuilt.
CHUNKING = {
    "parser_version": 11,  # 11: an interview's subtitle and introduction are the editor's quotable words
    "max_window_sentences": 3,
    "max_quote_chars": 600,
    "max_unit_chars": 400,
    # a window of a document that is not an interview is embedded with its place in the document: its vector leans
    # this far toward the vector of its "Title › Section" heading path (measured on the dev set, `make eval`)
    "heading_blend": 0.3,
}


# The rest of the parse budget (bot.documents caps paragraphs and headings): passages per document, each of which is
# embedded by a build. Large real documents cut into a few thousand.
MAX_PASSAGES = 60_000


def unit_spans(text: str, max_chars: int = CHUNKING["max_unit_chars"]) -> list[tuple[int, int]]:
    """Sentence spans, with over-long sentences cut at clause boundaries so every quote fits its limit."""
    spans: list[tuple[int, int]] = []
    for start, end in sentence_spans(text):
        while end - start > max_chars:
            piece = text[start : start + max_chars]
            cut = max(piece.rfind(sep) for sep in ("; ", ": ", ", ", " — ", " "))
            if cut <= 0:
                cut = max_chars - 1
            spans.append((start, start + cut + 1))
            start += cut + 1
            while start < end and text[start].isspace():
                start += 1
        if end > start:
            spans.append((start, end))
    return spans


def windows_of(sentences: tuple[tuple[int, int], ...]) -> Iterator[tuple[int, int]]:
    """(first sentence, length) of every run of 1..3 consecutive sentences that fits the quote limit."""
    for first in range(len(sentences)):
        for length in range(1, CHUNKING["max_window_sentences"] + 1):
            if first + length > len(sentences):
                break
            if sentences[first + length - 1][1] - sentences[first][0] > CHUNKING["max_quote_chars"]:
                break
            yield first, length


@dataclass(frozen=True)
class Reused:
    """Where a document reused from the live build is in that build: its number, its first window, paragraph and
    section, and how many paragraphs it has (copied from the live build's file, never decoded)."""

    doc: int
    window: int
    paragraph: int
    section: int
    paragraphs: int


@dataclass
class _Part:
    """One document's share of a build: its record, paragraphs (section ids local to it; none for a reused
    document, whose paragraphs are copied from the live build), section texts, windows (paragraph numbers local to
    it) and, once embedded, the vectors of each."""

    record: dict[str, Any]
    paragraphs: list[dict[str, Any]]
    sections: list[str]
    windows: np.ndarray  # (n, 3) int32: local paragraph, first sentence, length
    window_texts: list[str] | None = None
    window_vectors: np.ndarray | None = None
    paragraph_vectors: np.ndarray | None = None
    section_vectors: np.ndarray | None = None
    fresh: bool = True  # parsed and embedded by this build (not taken from the previous one)
    reused: Reused | None = None  # a document taken from the previous build: where it is there

    @property
    def name(self) -> str:
        return self.record["name"]


def _block_json(block: Block) -> list[Any]:
    return [block.kind, block.text, [list(c) for c in block.code], block.depth]


def _block_of(item: list[Any]) -> Block:
    kind, text, code, depth = item
    return Block(kind, text, tuple((s, e) for s, e in code), depth)


def _chunk(doc: Document) -> _Part:
    """A parsed document cut into paragraphs of sentence units and windows of 1-3 of them."""
    paragraphs: list[dict[str, Any]] = []
    sections: dict[tuple[str, ...], int] = {}
    windows: list[tuple[int, int, int]] = []
    texts: list[str] = []
    for para in doc.paragraphs:
        spans = tuple(unit_spans(para.text))
        if not spans:
            continue
        if para.section not in sections:
            sections[para.section] = len(sections)
        p = len(paragraphs)
        paragraphs.append(
            {
                "doc": 0,
                "text": para.text,
                "section": list(para.section),
                "speaker": para.speaker,
                "kind": para.kind,
                "sentences": [list(s) for s in spans],
                "section_id": sections[para.section],
                "code": [list(c) for c in para.code],
                "follow": [_block_json(b) for b in para.follow],
                "heading": para.heading,
                "links": [list(link) for link in para.links],
            }
        )
        for first, length in windows_of(spans):
            windows.append((p, first, length))
            texts.append(para.text[spans[first][0] : spans[first + length - 1][1]])
        if len(windows) > MAX_PASSAGES:
            raise SkippedFileError(f"too many passages (over {MAX_PASSAGES:,}); split it into smaller documents")
    record = {
        "name": doc.name,
        "title": doc.title,
        "url": doc.url,
        "speaker": doc.speaker,
        "interviewer": doc.interviewer,
        "is_interview": doc.is_interview,
        "digest": doc.digest,
        "about": doc.about,
        "authority": doc.authority,
        "english": round(english_share(" ".join(p.text for p in doc.paragraphs)), 3),
        "headings": list(doc.headings),
    }
    return _Part(
        record=record,
        paragraphs=paragraphs,
        # an interview's heading is the question its paragraphs answer; elsewhere a heading is read with its title
        sections=[
            " › ".join(section if doc.is_interview else (doc.title, *section)) if section else doc.title
            for section in sections
        ],
        windows=np.asarray(windows, dtype=np.int32).reshape(-1, 3),
        window_texts=texts,
    )
