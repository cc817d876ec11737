"""Each column of the scoring feature matrix (bot/scoring.py), read on a toy index built with the real model."""

from __future__ import annotations

import numpy as np
import pytest

from bot.embedding import Embedder
from bot.index import build_index, load_index
from bot.retrieval import Retriever
from bot.scoring import FEATURES, Weights, document_standing
from bot.text import search_tokens

DOCUMENTS = {
    "labels.md": """---
title: Labels and triage
---

## How to label an issue

Comment /help on an issue to add the help wanted label, so others can pick it up. The bot adds the label for you.

## Reviews

Reviewers read every pull request before it merges.
""",
    "minutes-2020-01.md": """---
title: Meeting minutes
---

We talked about labels for a long time and agreed on nothing at all today.
""",
    "raised.md": """---
title: Official handbook
authority: high
---

Ask in the mentoring channel when you are stuck on your first pull request:
""",
    "hidden.md": """---
title: Old page
authority: never
---

Comment /help on an issue to add the help wanted label, so others can pick it up.
""",
    "chat.md": """---
title: A talk with Robin Quill
format: interview
speaker: Robin Quill
---

## How did you start?

I started by taking notes in meetings. So I did that for a year and learned how the project works.
""",
}


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Retriever:
    corpus = tmp_path_factory.mktemp("toy-corpus")
    for name, text in DOCUMENTS.items():
        (corpus / name).write_text(text, encoding="utf-8")
    index_dir = tmp_path_factory.mktemp("toy-index")
    build_index(corpus, index_dir, embedder)
    return Retriever(load_index(index_dir), embedder, exact=True)


def table(retriever: Retriever, question: str) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """Every window's text, its columns by name, and its score, as the retriever scores them."""
    rewritten, named = retriever.rewrite(question)
    known = [t for t in search_tokens(rewritten) if t in retriever._bm25_vocab]
    windows = np.arange(retriever.index.size)
    windows = windows[~retriever._excluded_windows[windows]]
    top = float(retriever.lexical(known, windows).max()) if known else 0.0
    query = retriever.embedder.encode_query(rewritten)
    columns, _ = retriever.columns(rewritten, named, known, top, query, windows)
    texts = np.array([retriever.index.window_text(int(w)) for w in windows])
    return texts, {name: columns.column(name) for name in FEATURES}, columns.matrix @ retriever.weights.vector()


def row(texts: np.ndarray, start: str) -> int:
    return int(next(i for i, t in enumerate(texts) if t.startswith(start)))


def test_dense_columns_follow_the_question(toy: Retriever):
    texts, col, _ = table(toy, "how do I put a label on an issue so someone else takes it?")
    label, review = row(texts, "Comment /help"), row(texts, "Reviewers read")
    assert col["window"][label] > col["window"][review]
    # the heading above the label passage is the question itself, near enough
    assert col["section"][label] > col["section"][review]
    assert col["paragraph"][label] > col["paragraph"][review]
    # the best window of a paragraph lifts every window of it
    both = row(texts, "Comment /help on an issue to add the help wanted label, so others can pick it up. The bot")
    assert col["para_best"][both] == pytest.approx(max(col["window"][label], col["window"][both]))


def test_lexical_columns_are_bm25_normalised_to_the_best_match(toy: Retriever):
    texts, col, _ = table(toy, "reviewers pull request")
    assert col["lexical"].max() == pytest.approx(1.0)
    assert texts[int(np.argmax(col["lexical"]))].startswith("Reviewers read")
    assert col["lexical"][row(texts, "I started by taking notes")] == 0
    # no word of the question in the corpus: no lexical evidence at all
    _, none, _ = table(toy, "zyzzyva quokka")
    assert not none["lexical"].any() and not none["para_lexical"].any()


def test_document_columns(toy: Retriever):
    texts, col, _ = table(toy, "what were the minutes of the meeting about labels")
    minutes, raised = row(texts, "We talked about labels"), row(texts, "Ask in the mentoring")
    assert col["record"][minutes] == 1 and col["record"][raised] == 0
    assert col["authority"][raised] > 0 and col["authority"][minutes] == 0
    assert col["translation"].max() == 0
    # the minutes' title is in the question: their document's headings match it lexically
    assert col["doc_lexical"][minutes] == pytest.approx(1.0)
    assert col["doc_dense"][minutes] > col["doc_dense"][row(texts, "Reviewers read")]


def test_authority_zero_is_a_filter_not_a_penalty(toy: Retriever):
    docs = [d["name"] for d in toy.index.documents]
    standing = document_standing(toy.index.documents)
    assert bool(standing.excluded[docs.index("hidden.md")]) and not standing.excluded[docs.index("labels.md")]
    texts, _, _ = table(toy, "how do I add the help wanted label?")
    # the hidden page says it word for word, yet it is not a candidate: only the labels guide's copy is
    assert sum(t.startswith("Comment /help on an issue") for t in texts) == 2  # one-sentence and two-sentence windows
    answer = toy.answer("how do I add the help wanted label?")
    assert answer.answered and all(r.document != "hidden.md" for r in answer.results)


def test_quote_shape_columns(toy: Retriever):
    texts, col, _ = table(toy, "how should I get started?")
    story = row(texts, "So I did that")
    assert col["narrative"][story] == 1  # first person, and the question asks how
    _, asked_who, _ = table(toy, "who takes notes?")
    assert asked_who["narrative"].max() == 0
    lead = row(texts, "Ask in the mentoring")
    assert col["lead_in"][lead] == 0  # the end of its paragraph: nothing follows it there
    two = row(texts, "Comment /help on an issue to add the help wanted label, so others can pick it up. The bot")
    assert col["per_sentence"][two] == 1 and col["per_sentence"][row(texts, "Reviewers read")] == 0


def test_speaker_column_marks_the_named_speakers_words(toy: Retriever):
    texts, col, _ = table(toy, "how did Robin Quill start?")
    assert col["speaker"][row(texts, "I started by taking notes")] == 1
    assert col["speaker"][row(texts, "Reviewers read")] == 0
    _, unnamed, _ = table(toy, "how did you start?")
    assert unnamed["speaker"].max() == 0


def test_score_is_the_matrix_times_the_weights_and_explain_adds_up(toy: Retriever):
    answer, explained = toy.explain("how do I put a label on an issue?")
    assert answer.answered and explained
    assert toy.reranker is not None, "the shipped second stage, whose share the explanation ends with"
    for result, row_ in explained:
        assert sum(share for _, _, share in row_) == pytest.approx(result.score, abs=1e-5)
        names = [name for name, _, _ in row_]
        assert names[: len(FEATURES)] == list(FEATURES)
        assert names[len(FEATURES) :] == ["second_stage"]
    heavier = Weights().replace(window=3.0)
    assert heavier.vector()[FEATURES.index("window")] > Weights().vector()[FEATURES.index("window")]
    with pytest.raises(ValueError, match="unknown weights: windw"):
        Weights().replace(windw=1.0)
