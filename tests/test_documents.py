from pathlib import Path

import pytest

from bot.documents import CorpusError, load_corpus, load_document, parse_markdown
from tests.conftest import CORPUS, GUIDES, INTERVIEW_TXT

GUIDE = """---
title: "Welcome guide"
source_url: https://example.org/guide
---

# Welcome guide

[![Build](https://img.shields.io/badge/build-passing-green.svg)](https://ci.example.org)

- [Start here](#start-here)
- [Reviews](#reviews)

<!-- this comment must never be quoted -->

## Start here

Read the [code of conduct][coc] first, then say hello in the *#newcomers* channel.
Ask questions <b>early</b>: nobody minds.

```bash
git clone https://example.org/repo.git  # this code block must never be quoted
```

| Role | Duty |
|------|------|
| Reviewer | Reviews pull requests carefully |

### Reviews

- Every pull request needs one approving review from an owner.

{{< note >}}Shortcode markup goes, its words stay.{{< /note >}}

[coc]: https://example.org/coc
"""


def test_markdown_front_matter_sections_and_cleaning():
    doc = parse_markdown(GUIDE, "guide.md")
    assert doc.title == "Welcome guide"
    assert doc.url == "https://example.org/guide"
    texts = [p.text for p in doc.paragraphs]
    assert texts[0] == (
        "Read the code of conduct first, then say hello in the #newcomers channel. Ask questions early: nobody minds."
    )
    assert doc.paragraphs[0].section == ("Start here",)
    assert doc.paragraphs[1].text == "Every pull request needs one approving review from an owner."
    assert doc.paragraphs[1].section == ("Start here", "Reviews")
    assert doc.paragraphs[1].kind == "list"
    joined = " ".join(texts)
    assert texts[-1] == "Shortcode markup goes, its words stay."
    for never in ("git clone", "comment", "Reviewer", "Start here", "shields", "](", "<b>", "{{", "note"):
        assert never not in joined


def test_interview_keeps_questions_speakers_and_verbatim_text():
    doc = load_document(CORPUS / "jaice-singer-dumars-interview.md")
    assert doc.is_interview
    assert doc.speaker == "Jaice Singer DuMars"
    assert doc.interviewer
    questions = {p.section[-1] for p in doc.paragraphs if p.section}
    assert len(questions) == 14
    assert "How and when did you first learn about Kubernetes? Where did it all begin for you?" in questions
    # the subtitle and introduction, before the first question, are the editor's words, not the speaker's
    subtitle, intro = doc.paragraphs[0], doc.paragraphs[1]
    assert subtitle.text.startswith("An interview with Jaice Singer DuMars, Sr. Director")
    assert subtitle.section == intro.section == () and subtitle.speaker == intro.speaker == doc.interviewer
    answers = [p for p in doc.paragraphs if p.section]
    assert all(p.speaker == "Jaice Singer DuMars" for p in answers)
    # every quotable paragraph is verbatim from the original interview text
    original = INTERVIEW_TXT.read_text(encoding="utf-8")
    assert all(p.text in original for p in doc.paragraphs)
    pull_quotes = [p for p in doc.paragraphs if p.kind == "quote"]
    assert len(pull_quotes) == 2 and all("–" not in p.text for p in pull_quotes)


def test_contributor_guides_yield_clean_prose():
    loaded = load_corpus(GUIDES)
    assert len(loaded.documents) == 8 and not loaded.skipped
    for doc in loaded.documents:
        assert doc.title and len(doc.paragraphs) >= 5
        for p in doc.paragraphs:
            assert "](" not in p.text and "<!--" not in p.text and "```" not in p.text and "|---" not in p.text


def test_bad_files_are_skipped_with_a_reason_and_the_rest_loads(tmp_path: Path):
    (tmp_path / "good.md").write_text("# Good\n\nThis paragraph has plenty of words in it.\n", encoding="utf-8")
    (tmp_path / "empty.md").write_text("  \n", encoding="utf-8")
    (tmp_path / "latin1.txt").write_bytes("Caf\xe9 au lait is nice to drink.".encode("latin-1"))
    (tmp_path / "image.md").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    (tmp_path / "notes.pdf").write_bytes(b"%PDF-1.4")
    (tmp_path / "only-code.md").write_text("```\nprint('hi')\n```\n", encoding="utf-8")
    (tmp_path / ".hidden.md").write_text("Hidden files are ignored entirely, always.", encoding="utf-8")
    loaded = load_corpus(tmp_path)
    assert [d.name for d in loaded.documents] == ["good.md"]
    reasons = {s.name: s.reason for s in loaded.skipped}
    assert reasons == {
        "empty.md": "empty file",
        "image.md": "binary file, not text",
        "latin1.txt": "not UTF-8 text (invalid byte at offset 3)",
        "notes.pdf": "unsupported file type '.pdf'; use .md or .txt",
        "only-code.md": "no quotable prose (only code, tables, links or very short lines)",
    }


def test_missing_corpus_is_a_clear_error(tmp_path: Path):
    with pytest.raises(CorpusError, match="does not exist"):
        load_corpus(tmp_path / "nope")
    (tmp_path / "file").write_text("x")
    with pytest.raises(CorpusError, match="not a directory"):
        load_corpus(tmp_path / "file")
