"""What a newcomer reads: quotes that answer (lead-ins with their lists and commands, no pointers or fragments),
documents a moderator can weigh or keep out, declines that suggest real questions."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import PROJECT_ROOT
from bot.documents import SkippedFileError, corpus_listing, load_corpus, parse_markdown
from bot.embedding import TextEncoder
from bot.index import build_index, load_index
from bot.retrieval import Retriever
from bot.text import code_markup, in_quotation_marks
from tests.conftest import CORPUS

STEPS = """---
title: Working with git
---

# Working with git

## Squash commits

Before a review, many small commits are best turned into one so the history stays readable for everyone.

To squash your commits, perform an interactive rebase:

1. Check your branch with `git status` first.

   ```
   git status
   ```

2. Start the rebase from your last three commits.

   ```
   git rebase -i HEAD~3
   ```

Read on to learn more about how to get faster reviews by following best practices.

## Contents

- [Squash commits](#squash-commits) - what to do before a review
- [Start contributing](./start.md) - where newcomers begin

## Start contributing

Here are some things you can do today to get started contributing:

- Help improve the documentation
- Write test coverage
- Help triage issues
"""

MINUTES = """# Weekly meeting minutes 2019-03-28

- Attendees: everyone from the team
- We discussed how to squash commits and how to start contributing to the project, and agreed to write it down.
"""


@pytest.fixture(scope="module")
def steps_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    corpus = tmp_path_factory.mktemp("steps") / "corpus"
    corpus.mkdir()
    (corpus / "git.md").write_text(STEPS, encoding="utf-8")
    (corpus / "minutes").mkdir()
    (corpus / "minutes" / "2019-03-28.md").write_text(MINUTES, encoding="utf-8")
    return corpus


@pytest.fixture(scope="module")
def steps(steps_corpus: Path, tmp_path_factory: pytest.TempPathFactory, fast_encoder: TextEncoder) -> Retriever:
    index_dir = tmp_path_factory.mktemp("steps-index")
    build_index(steps_corpus, index_dir, fast_encoder)
    return Retriever(load_index(index_dir), fast_encoder)


def test_a_lead_in_keeps_the_list_and_commands_it_introduces():
    doc = parse_markdown(STEPS, "git.md")
    lead = next(p for p in doc.paragraphs if p.text.startswith("To squash"))
    assert [b.kind for b in lead.follow] == ["item", "code", "item", "code"]
    assert lead.follow[1].text == "git status"
    first = lead.follow[0]
    assert first.text[slice(*first.code[0])] == "git status"
    texts = [p.text for p in doc.paragraphs]
    assert not any("what to do before a review" in t for t in texts), "contents entries are not quotable"


def test_the_quote_for_a_lead_in_shows_its_steps_as_code(steps: Retriever):
    answer = steps.answer("how do i squash my commits?")
    best = answer.results[0]
    assert best.quote.startswith("To squash your commits, perform an interactive rebase:\n")
    assert "git rebase -i HEAD~3" in best.quote and len(best.quote) <= 600
    shown = [best.quote[a:b] for a, b in best.code]
    assert "git rebase -i HEAD~3" in shown and shown.count("git status") == 2  # inline, then the block
    markup = code_markup(best.quote, best.code)
    assert "```\ngit rebase -i HEAD~3\n```" in markup and "`git status`" in markup


def test_a_list_after_its_lead_in_is_quoted_whole(steps: Retriever):
    best = steps.answer("what can I do today to start contributing?").results[0]
    assert best.quote == (
        "Here are some things you can do today to get started contributing:\n"
        "• Help improve the documentation\n• Write test coverage\n• Help triage issues"
    )


def test_signposts_and_fragments_are_never_the_best_quote(steps: Retriever):
    shown = []
    for question in ("how do I get faster reviews?", "how can I help triage issues?", "what should I read next?"):
        shown += [r.quote for r in steps.answer(question, k=5).results]
    assert shown, "the questions are answered"
    assert not any(q.startswith("Read on") or q in ("Help triage issues", "Write test coverage") for q in shown)


def test_a_long_list_is_cut_within_the_quote_limit(tmp_path: Path, fast_encoder: TextEncoder):
    items = "\n".join(
        f"- Step number {i} of the long process is described in this item in plain words." for i in range(30)
    )
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "long.md").write_text(f"# Long\n\nFollow these steps to publish a release:\n\n{items}\n", "utf-8")
    build_index(corpus, tmp_path / "index", fast_encoder)
    best = Retriever(load_index(tmp_path / "index"), fast_encoder).answer("how do I publish a release?").results[0]
    assert best.quote.startswith("Follow these steps to publish a release:\n• Step number 0")
    assert best.quote.endswith("…") and len(best.quote) <= 601


def test_records_rank_below_the_guide_that_answers(steps: Retriever):
    results = steps.answer("how do I squash commits?", k=3).results
    assert results[0].document == "git.md"


def test_front_matter_authority_is_read_and_checked():
    assert parse_markdown("---\nauthority: high\n---\n# T\n\nSome words to quote here.\n", "a.md").authority == 1.5
    assert parse_markdown("---\nauthority: 0.25\n---\n# T\n\nSome words to quote here.\n", "a.md").authority == 0.25
    with pytest.raises(SkippedFileError, match="authority 'urgent' is not"):
        parse_markdown("---\nauthority: urgent\n---\n# T\n\nSome words to quote here.\n", "a.md")


def test_authority_raises_or_lowers_a_document(tmp_path: Path, fast_encoder: TextEncoder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    text = "# Reviews\n\nEvery pull request needs one approving review from an owner of the code it changes.\n"
    (corpus / "a.md").write_text(text, "utf-8")
    (corpus / "b.md").write_text("---\nauthority: high\n---\n" + text.replace("one approving", "an approving"), "utf-8")
    build_index(corpus, tmp_path / "index", fast_encoder)
    retriever = Retriever(load_index(tmp_path / "index"), fast_encoder)
    assert retriever.answer("who needs to approve my pull request?").results[0].document == "b.md"
    (corpus / "b.md").write_text("---\nauthority: low\n---\n" + text.replace("one approving", "an approving"), "utf-8")
    build_index(corpus, tmp_path / "index", fast_encoder)
    retriever = Retriever(load_index(tmp_path / "index"), fast_encoder)
    assert retriever.answer("who needs to approve my pull request?").results[0].document == "a.md"


def test_the_ignore_file_keeps_files_out(tmp_path: Path, fast_encoder: TextEncoder):
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    (corpus / "notes").mkdir()
    (corpus / "notes" / "2020-01-01.md").write_text("# Notes\n\nWe met and talked about the weather today.\n")
    (corpus / "draft.md").write_text("# Draft\n\nThis draft is not ready to be quoted to anyone yet.\n")
    (corpus / ".botignore").write_text("# keep these out\nnotes/\ndraft.md\n")
    files, ignored = corpus_listing(corpus)
    assert [p.name for p in files] == ["jaice-singer-dumars-interview.md"]
    assert ignored == ["draft.md", "notes/2020-01-01.md"]
    assert [d.name for d in load_corpus(corpus).documents] == ["jaice-singer-dumars-interview.md"]
    report = build_index(corpus, tmp_path / "index", fast_encoder)
    assert report.ignored == ignored and report.documents == 1
    assert load_index(tmp_path / "index").manifest["ignored"] == ignored


def test_index_lists_at_most_ten_names_per_change(tmp_path: Path):
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    for i in range(14):
        (corpus / f"doc-{i:02}.md").write_text(f"# Doc {i}\n\nDocument number {i} says something worth quoting.\n")
    (corpus / ".botignore").write_text("doc-13.md\n")
    (corpus / "doc-12.md").write_text("---\nauthority: low\n---\n# Doc 12\n\nDocument twelve is less trusted here.\n")
    run = subprocess.run(
        [sys.executable, "-m", "bot", "index", "--corpus", str(corpus), "--index", str(tmp_path / "index")],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        check=True,
    )
    lines = run.stdout.splitlines()
    assert "Added 14 documents:" in lines and "  … and 4 more" in lines
    assert "Ignored 1 file (the corpus's .botignore):" in lines and "  doc-13.md" in lines
    assert "Authority low: doc-12.md" in lines
    assert max(len(line) for line in lines) < 200


def test_a_decline_suggests_real_questions_close_to_the_one_asked(retriever: Retriever):
    answer = retriever.answer("what's a good sourdough starter recipe?")
    assert not answer.answered and 1 <= len(answer.suggestions) <= 3
    headings = {p.section[-1] for p in retriever.index.paragraphs if p.section}
    assert set(answer.suggestions) <= headings
    assert all(s.endswith("?") for s in answer.suggestions)
    assert not any(s.startswith("Hi Jaice") for s in answer.suggestions)
    other = retriever.answer("who won the football world cup in 2010?")
    assert other.suggestions and all(s in headings for s in other.suggestions)


def test_a_quote_already_in_quotation_marks_is_not_wrapped_again(corpus_index_dir: Path):
    assert in_quotation_marks("“Curiosity is the door.”") == "“Curiosity is the door.”"
    assert in_quotation_marks("Plain words.") == "“Plain words.”"
    run = subprocess.run(
        [sys.executable, "-m", "bot", "ask", "--index", str(corpus_index_dir), "what is the door everyone can open?"],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        check=True,
    )
    assert "““" not in run.stdout and "””" not in run.stdout


def test_json_output_keeps_quotes_plain(steps_corpus: Path, steps: Retriever):
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "ask",
            "--json",
            "--corpus",
            str(steps_corpus),
            "--index",
            str(steps.index.path.parent),
        ],
        input="how do i squash my commits?\n",
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        check=True,
    )
    quote = json.loads(run.stdout)["results"][0]["quote"]
    assert "`" not in quote and "git rebase -i HEAD~3" in quote


@pytest.mark.parametrize("question", ["can I help if I don't code?", "how do I start contributing?"])
def test_plain_newcomer_questions_are_answered_on_the_interview(retriever: Retriever, question: str):
    answer = retriever.answer(question)
    assert answer.answered and answer.results
    assert not answer.results[0].quote.startswith("No one had stepped up yet")


def test_a_long_code_block_is_cut_at_a_line(tmp_path: Path, fast_encoder: TextEncoder):
    script = "\n".join(f"echo step number {i} of the release script" for i in range(40))
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "release.md").write_text(f"# Release\n\nTo publish a release, run this script:\n\n```\n{script}\n```\n")
    build_index(corpus, tmp_path / "index", fast_encoder)
    best = Retriever(load_index(tmp_path / "index"), fast_encoder).answer("how do I publish a release?").results[0]
    head, *lines, last = best.quote.split("\n")
    assert head == "To publish a release, run this script:" and last == "…" and len(best.quote) <= 601
    assert lines and all(line.startswith("echo step number") for line in lines)
    assert best.code == ((len(head) + 1, len(head) + 1 + len("\n".join(lines))),)
