"""The lexical index: each window's search terms counted once (`Terms`, kept in the build's `reuse.npz`), and the
BM25 index (bm25s's files, `bm25/`) worked out from those counts with array arithmetic. A later build counts the terms
of its new windows only and takes the others' counts from the live build; the BM25 weights are worked out again over
the whole corpus, since every window's weights depend on how many windows hold each term."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.index.load import import_bm25s

EMPTY_WINDOW = "\x00"  # the one term of a window without a search word, so every window has a length


@dataclass(frozen=True)
class Terms:
    """Each window's distinct terms and their counts, as rows of a sparse table: window w holds `ids[ptr[w]:
    ptr[w + 1]]` (numbers in `vocab`, which is sorted) `counts[...]` times each."""

    vocab: list[str]
    ptr: np.ndarray  # int64, windows + 1
    ids: np.ndarray  # int32
    counts: np.ndarray  # int32

    @property
    def windows(self) -> int:
        return len(self.ptr) - 1

    @classmethod
    def count(cls, windows: Iterable[list[str]]) -> Terms:
        """The terms of windows given as their search tokens (`bot.text.search_tokens`)."""
        numbers: dict[str, int] = {}
        ids: list[int] = []
        counts: list[int] = []
        ptr = [0]
        for tokens in windows:
            for token, n in Counter(tokens or [EMPTY_WINDOW]).items():
                ids.append(numbers.setdefault(token, len(numbers)))
                counts.append(n)
            ptr.append(len(ids))
        unsorted = cls(
            list(numbers), np.asarray(ptr, np.int64), np.asarray(ids, np.int32), np.asarray(counts, np.int32)
        )
        return join([(unsorted, 0, unsorted.windows)])

    def arrays(self) -> dict[str, np.ndarray]:
        """The table as arrays for `reuse.npz` (the vocabulary is bm25s's, saved beside it)."""
        return {"term_ptr": self.ptr, "term_ids": self.ids, "term_counts": self.counts}

    @classmethod
    def read(cls, arrays: dict[str, np.ndarray], vocab: dict[str, int]) -> Terms:
        """The table a build saved: its arrays, over the vocabulary of its BM25 index (bm25s's `vocab_dict`)."""
        terms = sorted((i, t) for t, i in vocab.items() if t != "")  # bm25s's "" comes after the corpus's terms
        return cls([t for _, t in terms], arrays["term_ptr"], arrays["term_ids"], arrays["term_counts"])


def join(pieces: list[tuple[Terms, int, int]]) -> Terms:
    """The windows `start:stop` of each table, one after another, over one sorted vocabulary of the terms they hold
    (a term no window holds any more is left out, as a build from scratch would)."""
    used: dict[int, np.ndarray] = {}  # each table's terms that the pieces hold
    tables = {id(t): t for t, _, _ in pieces}
    for table, start, stop in pieces:
        rows = table.ids[table.ptr[start] : table.ptr[stop]]
        mask = used.setdefault(id(table), np.zeros(len(table.vocab), dtype=bool))
        mask[rows] = True
    vocab = sorted({table.vocab[i] for key, table in tables.items() for i in np.flatnonzero(used[key]).tolist()})
    number = {term: i for i, term in enumerate(vocab)}
    renumber = {}
    for key, table in tables.items():
        mapping = np.full(len(table.vocab), -1, dtype=np.int32)
        kept = np.flatnonzero(used[key])
        mapping[kept] = [number[table.vocab[i]] for i in kept.tolist()]
        renumber[key] = mapping
    ids, counts, lengths = [], [], []
    for table, start, stop in pieces:
        lo, hi = int(table.ptr[start]), int(table.ptr[stop])
        ids.append(renumber[id(table)][table.ids[lo:hi]])
        counts.append(table.counts[lo:hi])
        lengths.append(np.diff(table.ptr[start : stop + 1]))
    ptr = np.concatenate([[0], np.cumsum(np.concatenate([np.zeros(0, np.int64), *lengths]))]).astype(np.int64)
    all_ids = np.concatenate([np.zeros(0, np.int32), *ids])
    all_counts = np.concatenate([np.zeros(0, np.int32), *counts])
    # each window's terms in vocabulary order, so a table does not depend on how it was put together
    key = np.repeat(np.arange(len(ptr) - 1, dtype=np.int64), np.diff(ptr)) * max(len(vocab), 1) + all_ids
    if len(key) and not np.all(key[1:] > key[:-1]):
        order = np.argsort(key, kind="stable")
        all_ids, all_counts = all_ids[order], all_counts[order]
    return Terms(vocab, ptr, all_ids.astype(np.int32), all_counts.astype(np.int32))


def write_bm25(terms: Terms, directory: Path) -> None:
    """Save the BM25 index of `terms` as bm25s's `index` and `save` would (its default Lucene variant, k1 1.5, b 0.75;
    the same weights to the bit), computed with array arithmetic instead of a Python loop over every window."""
    retriever = import_bm25s().BM25()
    k1, b = retriever.k1, retriever.b
    n = terms.windows
    rows = np.repeat(np.arange(n, dtype=np.int32), np.diff(terms.ptr))
    ends = np.concatenate([[0], np.cumsum(terms.counts, dtype=np.int64)])
    lengths = ends[terms.ptr[1:]] - ends[terms.ptr[:-1]]  # tokens in each window
    frequency = np.bincount(terms.ids, minlength=len(terms.vocab))  # windows holding each term
    # bm25s: idf = log(1 + (N - df + 0.5) / (df + 0.5)) with Python's math.log, stored as float32
    idf = np.array([math.log(1 + (n - df + 0.5) / (df + 0.5)) for df in frequency.tolist()], dtype=np.float32)
    # bm25s: tf / (k1 * ((1 - b) + b * length / mean length) + tf) in float64, times idf, stored as float32
    norm = k1 * ((1 - b) + b * lengths / lengths.mean()) if n else np.zeros(0)
    tf = terms.counts.astype(np.float64)
    weights = (idf[terms.ids] * (tf / (norm[rows] + tf))).astype(np.float32)
    order = np.argsort(terms.ids, kind="stable")  # by term, each term's windows in order: bm25s's CSC layout
    retriever.scores = {
        "data": weights[order],
        "indices": rows[order],
        "indptr": np.concatenate([[0], np.cumsum(frequency)]).astype(np.int64),
        "num_docs": n,
    }
    retriever.vocab_dict = {term: i for i, term in enumerate(terms.vocab)}
    retriever.vocab_dict[""] = len(terms.vocab)  # bm25s's empty token, after the corpus's terms
    retriever.unique_token_ids_set = set(retriever.vocab_dict.values())
    retriever.nonoccurrence_array = None
    retriever.save(str(directory), show_progress=False)
