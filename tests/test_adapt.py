from pathlib import Path

import pytest

from bot.adapt import adapt_model, heading_pairs
from bot.documents import CorpusError
from bot.embedding import Embedder
from tests.test_cli import run

TOPICS = {
    "Joining the community": "Everyone is welcome at the weekly community meeting, which is recorded and open to all.",
    "Finding a mentor": "Ask in the mentoring channel and a maintainer pairs with you on your first pull request.",
    "Writing documentation": "Docs changes go through the same review as code, and reviewers answer within a week.",
    "Release schedule": "A new minor release ships every four months, with a freeze two weeks before.",
    "Code of conduct": "Report a problem privately to the conduct committee, who answer within two days.",
    "Reviewing changes": "Reviewers check tests and documentation before approving a pull request.",
    "Special interest groups": "Each special interest group owns a part of the project and meets every other week.",
    "Getting help": "Post questions in the help forum; volunteers answer most of them the same day.",
    "Testing": "Every change runs the unit and end-to-end test suites before it can merge.",
    "Security reports": "Security problems are reported by email to the security team, never in public issues.",
}


@pytest.fixture
def headed_corpus(tmp_path: Path) -> Path:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    body = "\n\n".join(f"## {heading}\n\n{text}" for heading, text in TOPICS.items())
    (corpus / "guide.md").write_text(f"# Contributor guide\n\n{body}\n", encoding="utf-8")
    return corpus


def test_adapting_brings_headings_closer_to_their_paragraphs(headed_corpus: Path, tmp_path: Path, embedder: Embedder):
    assert len(heading_pairs(headed_corpus)) == len(TOPICS)
    report = adapt_model(headed_corpus, tmp_path / "adapted", embedder, epochs=2, batch_size=5)
    assert report.after > report.before
    adapted = Embedder(report.path)
    assert adapted.fingerprint != embedder.fingerprint, "a new model, so the index is rebuilt for it"
    assert (report.path / "adapted.json").is_file()
    assert adapted.encode_query("how often are releases?").shape == (384,)
    assert not list(tmp_path.glob(".adapt-*")), "no staging directory is left behind"


def test_adapting_never_overwrites_a_directory_that_is_not_an_adapted_model(
    headed_corpus: Path, tmp_path: Path, embedder: Embedder
):
    with pytest.raises(CorpusError, match="is not an adapted model"):
        adapt_model(headed_corpus, headed_corpus, embedder)
    assert (headed_corpus / "guide.md").is_file()


def test_a_corpus_without_headings_is_refused(tmp_path: Path, embedder: Embedder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "notes.txt").write_text("Just one paragraph of notes without any heading at all.\n")
    with pytest.raises(CorpusError, match="at least 8 paragraphs under headings"):
        adapt_model(corpus, tmp_path / "out", embedder)


def test_adapt_command_errors_are_one_line(headed_corpus: Path):
    result = run("adapt", "--corpus", str(headed_corpus), "--out", str(headed_corpus))
    assert result.returncode == 2
    assert result.stderr.strip().endswith("is not an adapted model; choose an empty or new directory.")
    assert "Traceback" not in result.stderr
