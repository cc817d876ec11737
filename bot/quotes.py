"""A random quote: a sentence or two in a speaker's own words that stands on its own."""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass

import numpy as np

from bot.embedding import TextEncoder
from bot.index import PassageIndex
from bot.index.derive import QUOTABLE

TOPIC_MIN_SIMILARITY = 0.3  # below this, nothing in the corpus is about the topic
TOPIC_SPREAD = 0.08  # draw among quotes nearly as close to the topic as the closest one


class NoQuoteError(LookupError):
    """Nothing in the corpus fits the request; the message says so plainly."""


@dataclass(frozen=True)
class Quote:
    text: str
    speaker: str | None
    source: str
    section: str | None
    window: int

    def to_json(self) -> dict[str, object]:
        return {"quote": self.text, "speaker": self.speaker, "source": self.source, "section": self.section}


class QuoteDrawer:
    """Draws quotes at random, never repeating one of the last `memory` draws."""

    def __init__(self, index: PassageIndex, embedder: TextEncoder, memory: int = 5, seed: int | None = None) -> None:
        self.index = index
        self.embedder = embedder
        self.windows = np.flatnonzero(index.derived["window_flags"] & QUOTABLE).tolist()
        self.recent: deque[int] = deque(maxlen=min(memory, max(len(self.windows) - 1, 0)))
        self.rng = random.Random(seed)

    def draw(self, topic: str | None = None, recent: deque[int] | None = None) -> Quote:
        """A quote, optionally about `topic`; `recent` lets a caller keep its own history (e.g. per channel)."""
        history = self.recent if recent is None else recent
        if not self.windows:
            raise NoQuoteError("The documents hold no passage that stands alone as a quote.")
        pool = self.windows
        if topic and topic.strip():
            pool = self._about(topic.strip())
        fresh = [w for w in pool if w not in history] or pool
        w = self.rng.choice(fresh)
        history.append(w)
        return self._quote(w)

    def _about(self, topic: str) -> list[int]:
        query = self.embedder.encode_query(topic)
        sims = np.asarray(self.index.window_vectors[self.windows], dtype=np.float32) @ query
        order = np.argsort(-sims)[:5]
        floor = max(TOPIC_MIN_SIMILARITY, float(sims[order[0]]) - TOPIC_SPREAD)
        pool = [self.windows[i] for i in order if sims[i] >= floor]
        if not pool:
            raise NoQuoteError(f"I have no quote about “{topic}”. Try another topic, or none for a random quote.")
        return pool

    def _quote(self, w: int) -> Quote:
        para = self.index.paragraphs[int(self.index.window_para[w])]
        doc = self.index.documents[para.doc]
        return Quote(
            text=self.index.window_text(w),
            speaker=para.speaker,
            source=doc["title"],
            section=para.section[-1] if para.section else None,
            window=w,
        )
