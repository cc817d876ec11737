"""The lexical index: term counts put together from pieces, and BM25 weights equal to bm25s's own, bit for bit."""

from pathlib import Path

import numpy as np

from bot.index import import_bm25s
from bot.index.lexical import Terms, join, write_bm25
from bot.text import search_tokens

TEXTS = [
    "Every pull request needs a review from an owner before it merges.",
    "Reviewers look at tests, docs and the release note of a pull request.",
    "The weekly meeting is on Thursdays; anyone may join the meeting.",
    "",  # a window without a search word
    "Kubernetes, k8s for short, has special interest groups (SIGs) that own its code.",
    "review review review: a word many times over",
    "A triage rotation sorts new issues every week.",
]


def windows(texts: list[str]) -> list[list[str]]:
    return [search_tokens(t) for t in texts]


def test_bm25_weights_are_bm25s_own(tmp_path: Path):
    """The same vocabulary, postings and weights as bm25s's `index` over the same tokens, so every score is equal."""
    bm25s = import_bm25s()
    tokens = windows(TEXTS * 3)
    reference = bm25s.BM25()
    reference.index([t or ["\x00"] for t in tokens], show_progress=False)
    write_bm25(Terms.count(tokens), tmp_path / "bm25")
    ours = bm25s.BM25.load(str(tmp_path / "bm25"), mmap=True, show_progress=False)

    assert set(ours.vocab_dict) == set(reference.vocab_dict)
    for term, i in reference.vocab_dict.items():
        if term == "":
            continue
        j = ours.vocab_dict[term]
        ref = slice(reference.scores["indptr"][i], reference.scores["indptr"][i + 1])
        own = slice(ours.scores["indptr"][j], ours.scores["indptr"][j + 1])
        assert np.array_equal(reference.scores["indices"][ref], ours.scores["indices"][own]), term
        assert np.array_equal(reference.scores["data"][ref], ours.scores["data"][own]), term
    for query in (["review"], ["pull", "request", "review"], ["meet", "kubernetes"]):
        assert np.array_equal(reference.get_scores(query), ours.get_scores(query))


def test_a_table_joined_from_pieces_is_the_table_of_their_windows():
    """Windows taken from several tables (the live build's and new documents') give the table a count of those
    windows gives: one sorted vocabulary without the terms of windows left out, rows in vocabulary order."""
    tokens = windows(TEXTS)
    whole = Terms.count(tokens)
    first, second = Terms.count(tokens[:3]), Terms.count(tokens[3:])
    joined = join([(first, 0, first.windows), (second, 0, second.windows)])
    picked = join([(whole, 4, 6), (first, 1, 2)])
    expected = Terms.count(tokens[4:6] + tokens[1:2])
    for table, reference in ((joined, whole), (picked, expected)):
        assert table.vocab == reference.vocab == sorted(reference.vocab)
        for name, array in table.arrays().items():
            assert np.array_equal(array, reference.arrays()[name]), name
    assert "meet" in whole.vocab and "meet" not in picked.vocab
    review = whole.vocab.index("review")
    row = slice(whole.ptr[5], whole.ptr[6])
    assert dict(zip(whole.ids[row].tolist(), whole.counts[row].tolist(), strict=True))[review] == 3
