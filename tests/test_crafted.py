"""Crafted documents are harmless (issue 21): 1 MB of dots, punctuation, shortcode marks, spaces or brackets is parsed
in seconds, not hours; front matter is read without YAML anchors or aliases and only so deep; one document has a
parse budget; HTML is converted within a time budget and its Markdown re-checked for size; file names are limited in
UTF-8 bytes; a file in corpus/ that cannot be parsed is skipped by a build, never fatal; and text is tokenized right
on many threads at once."""

from __future__ import annotations

import random
import string
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import snowballstemmer

from bot.corpus import CorpusChangeError, check_filename, html_to_markdown, parse_document, summarize
from bot.documents import MAX_HEADINGS, MAX_PARAGRAPHS, SkippedFileError, parse_markdown, parse_plain_text
from bot.embedding import Embedder
from bot.index import build_index, load_index, read_manifest
from bot.index.chunking import MAX_PASSAGES
from bot.text import search_tokens, sentence_spans
from tests.conftest import PROJECT_ROOT
from tests.test_corpus_admin import HELLO, WALRUS
from tests.test_corpus_cli import Cli, no_traceback

MB = 1_000_000
# Far above what any of these inputs takes (at most about 15 s on a 2-core machine: markdown-it reading 1 MB of
# brackets), far below what they took before (hours: the patterns read the rest of the text from every position).
FINISHES_WITHIN = 90

INTRO = "Newcomers can ask questions in the forum at any time. "
CRAFTED = {
    "dots": INTRO + "." * MB + "\n",  # a run of dots that no space follows: no sentence ends in it
    "dots before a word": INTRO + "." * MB + "word and more words.\n",
    "punctuation": INTRO + "!?.…" * (MB // 4) + "\n",
    "dots between words": INTRO + "a. " * (MB // 3) + "\n",
    "percent shortcodes": INTRO + "{{%" * (MB // 3) + "\n",
    "angle shortcodes": INTRO + "{{<" * (MB // 3) + "\n",
    "spaces": INTRO + "then" + " " * MB + "more words follow here.\n",
    "spaces around line ends": INTRO + "then" + " \n " * (MB // 3) + "more words follow here.\n",
    "brackets": INTRO + "[" * MB + "\n",
    "parentheses": INTRO + "( " * (MB // 2) + "\n",
    "abbreviations": INTRO + "e.g. A " * (MB // 7) + "\n",
    "one long word": INTRO + "a" * MB + " x. Next sentence here.\n",
    "closing quotes": INTRO + '."' * (MB // 2) + " Next sentence here.\n",
}


def parse_in_subprocess(text: str, name: str) -> str:
    """Parse and cut `text` as a preview does, in a child process that is killed if it runs too long."""
    script = (
        "import sys\n"
        "from bot.corpus import parse_document, summarize\n"
        "from bot.documents import SkippedFileError\n"
        "text = sys.stdin.read()\n"
        "try:\n"
        "    print('passages', summarize(parse_document(text, sys.argv[1])).passages)\n"
        "except SkippedFileError as exc:\n"
        "    print('skipped', exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, name],
        input=text,
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=PROJECT_ROOT,
        timeout=FINISHES_WITHIN,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip()


@pytest.mark.parametrize("case", sorted(CRAFTED))
@pytest.mark.parametrize("name", ["crafted.md", "crafted.txt"])
def test_a_megabyte_of_crafted_text_is_parsed_in_seconds(case: str, name: str):
    text = CRAFTED[case]
    assert len(text) >= MB
    outcome = parse_in_subprocess(text, name)
    assert outcome.startswith("passages "), outcome
    assert int(outcome.split()[1]) >= 1  # the sentence before the crafted run is still quoted


def test_linear_patterns_cut_sentences_and_shortcodes_as_before():
    doc = parse_markdown(
        "# Guide\n\nSee {{< note >}}this{{< /note >}} and {{% tip %}}that{{% /tip %}} e.g. here. "
        "Then J. Doe wrote more words...  \n   And it ends here!\n",
        "g.md",
    )
    text = doc.paragraphs[0].text
    assert text == "See this and that e.g. here. Then J. Doe wrote more words... And it ends here!"
    assert [text[s:e] for s, e in sentence_spans(text)] == [
        "See this and that e.g. here.",  # "e.g." and "J." do not end a sentence
        "Then J. Doe wrote more words...",
        "And it ends here!",
    ]
    assert summarize(doc).passages == 6  # windows of 1-3 consecutive sentences: 3 + 2 + 1
    unclosed = parse_markdown("# Guide\n\nAn opening {{< mark is never closed in this text.\n", "g.md")
    assert unclosed.paragraphs[0].text == "An opening {{< mark is never closed in this text."


# --- front matter -----------------------------------------------------------------------------------------------

BODY = "\n# Guide\n\nNew contributors can ask a mentor for help with their first pull request.\n"
BILLION_LAUGHS = 'title: lol\na: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{','.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
)


@pytest.mark.parametrize(
    ("front", "reason"),
    [
        (BILLION_LAUGHS, "anchors or aliases"),
        ("title: &t Guide\nalso: *t\n", "anchors or aliases"),
        ("title: x\nnested: " + "[" * 100 + "]" * 100 + "\n", "nested more than 16 levels"),
        ("[" * 50_000 + "\n", "nested more than 16 levels"),
        ("title: x\nnested:\n" + "".join(" " * i + "- \n" for i in range(1, 40)), "nested more than 16 levels"),
        ("title: x\nbig: " + "1" * 5000 + "\n", "cannot be read"),
        ("title: x\ndescription: " + "word " * 20_000 + "\n", "front matter is too long"),
    ],
)
def test_front_matter_that_expands_nests_or_overflows_is_refused_with_its_reason(front: str, reason: str):
    assert len(BILLION_LAUGHS) < 1000
    with pytest.raises(SkippedFileError, match=reason):
        parse_markdown(f"---\n{front}---\n{BODY}", "guide.md")
    with pytest.raises(SkippedFileError, match=reason):  # the preview's parser says the same
        parse_document(f"---\n{front}---\n{BODY}", "guide.md")


def test_front_matter_keeps_reading_plain_values_and_ignores_nested_ones():
    doc = parse_markdown(
        "---\ntitle: Guide\nsource_url: https://example.org/guide\ntags: [a, [b, c]]\nauthor: {name: x}\n---\n" + BODY,
        "guide.md",
    )
    assert (doc.title, doc.url, doc.speaker) == ("Guide", "https://example.org/guide", None)


# --- parse budget -----------------------------------------------------------------------------------------------


def test_one_document_has_a_parse_budget_of_paragraphs_headings_and_passages():
    many = "".join(f"Paragraph number {i} has a few words.\n\n" for i in range(MAX_PARAGRAPHS + 1))
    with pytest.raises(SkippedFileError, match="too many paragraphs"):
        parse_markdown(many, "many.md")
    with pytest.raises(SkippedFileError, match="too many paragraphs"):
        parse_plain_text(many, "many.txt")
    headings = "".join(f"## Heading {i}\n\n" for i in range(MAX_HEADINGS + 1))
    with pytest.raises(SkippedFileError, match="too many headings"):
        parse_markdown(headings, "headings.md")
    sentences = "".join(f"Sentence {i} is here. " for i in range(MAX_PASSAGES // 3 + 10))
    doc = parse_markdown(f"# Long\n\n{sentences}\n", "long.md")
    with pytest.raises(SkippedFileError, match="too many passages"):
        summarize(doc)
    within = "".join(f"Paragraph number {i} has a few words.\n\n" for i in range(2000))
    assert len(parse_markdown(within, "ok.md").paragraphs) == 2000


# --- HTML -------------------------------------------------------------------------------------------------------


def test_html_whose_markdown_outgrows_the_limit_is_refused(tmp_path: Path):
    page = "<p>" + "x*" * 450_000 + "</p>"  # 0.9 MB of HTML; every * is escaped: 1.35 MB of Markdown
    with pytest.raises(CorpusChangeError, match=r"converted to Markdown is too large \(1,350,\d+ bytes"):
        from bot.corpus import CorpusManager

        CorpusManager(tmp_path / "corpus", tmp_path / "db.sqlite3", tmp_path / "archive", lambda: None).prepare(
            "page.html", page.encode()
        )


@pytest.mark.parametrize(
    "page",
    ["<p>Some words here.</p>" + "<a" * (MB // 2), "<p>Some words here.</p>" + "<!--" * (MB // 4)],
    ids=["unclosed tags", "unclosed comments"],
)
def test_html_that_would_take_minutes_to_convert_is_refused_within_its_time_budget(page: str):
    result: list[object] = []

    def convert() -> None:
        try:
            result.append(html_to_markdown(page, seconds=2.0))
        except CorpusChangeError as exc:
            result.append(exc)

    worker = threading.Thread(target=convert, daemon=True)
    worker.start()
    worker.join(FINISHES_WITHIN)
    assert not worker.is_alive(), "conversion did not stop at its time budget"
    assert isinstance(result[0], CorpusChangeError) and "too complex to convert" in str(result[0])


# --- file names -------------------------------------------------------------------------------------------------


def test_file_names_are_limited_in_utf8_bytes_as_file_systems_count():
    emoji = "😀" * 64 + ".md"  # 68 characters, 259 bytes: over the 255 bytes a file system allows
    with pytest.raises(CorpusChangeError, match=r"too long \(259 bytes in UTF-8; at most 100\)"):
        check_filename(emoji)
    assert check_filename("😀" * 24 + ".md") == "😀" * 24 + ".md"  # 99 bytes
    assert check_filename("é" * 47 + ".html") == "é" * 47 + ".md"  # 99 bytes, stored as 97


# --- through `python -m bot corpus add` and a build -------------------------------------------------------------


@pytest.fixture
def cli(tmp_path: Path, embedder: Embedder) -> Cli:
    space = Cli(tmp_path)
    space.corpus.mkdir()
    (space.corpus / "hello.txt").write_bytes(HELLO)
    (space.corpus / "walrus.md").write_bytes(WALRUS)
    build_index(space.corpus, space.index, embedder)
    return space


def test_corpus_add_refuses_crafted_files_in_one_line_and_changes_nothing(cli: Cli):
    before = cli.state()
    body = BODY.encode()
    cases = [
        (cli.upload("laughs.md", f"---\n{BILLION_LAUGHS}---\n".encode() + body), "anchors or aliases"),
        (cli.upload("deep.md", b"---\n" + b"[" * 50_000 + b"\n---\n" + body), "nested more than 16 levels"),
        (cli.upload("page.html", b"<p>" + b"x*" * 450_000 + b"</p>"), "converted to Markdown is too large"),
    ]
    for path, message in cases:
        result = cli.run("corpus", "add", str(path), "--yes")
        assert result.returncode == 2, result.stderr
        assert result.stderr.startswith("error: ") and message in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        no_traceback(result)
    named = cli.run("corpus", "add", "--name", "😀" * 64 + ".md", str(cli.upload("ok.md", body)), "--yes")
    assert (named.returncode, named.stderr.strip()) == (
        2,
        "error: The file name is too long (259 bytes in UTF-8; at most 100).",
    )
    after = cli.state()
    after["tables"] = {k: v for k, v in after["tables"].items() if v}
    assert after == before


def test_a_build_skips_files_in_corpus_that_cannot_be_parsed_and_indexes_the_rest(tmp_path: Path, embedder: Embedder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "hello.txt").write_bytes(HELLO)
    (corpus / "walrus.md").write_bytes(WALRUS)
    (corpus / "deep.md").write_text("---\n" + "[" * 50_000 + "\n---\n" + BODY, encoding="utf-8")
    (corpus / "laughs.md").write_text(f"---\n{BILLION_LAUGHS}---\n{BODY}", encoding="utf-8")
    (corpus / "number.md").write_text("---\nbig: " + "1" * 5000 + "\n---\n" + BODY, encoding="utf-8")
    report = build_index(corpus, tmp_path / "index", embedder)
    reasons = {s.name: s.reason for s in report.skipped}
    assert set(reasons) == {"deep.md", "laughs.md", "number.md"}
    assert "nested more than 16 levels" in reasons["deep.md"]
    assert "anchors or aliases" in reasons["laughs.md"]
    assert "cannot be read (ValueError)" in reasons["number.md"]
    index = load_index(tmp_path / "index")
    assert sorted(d["name"] for d in index.documents) == ["hello.txt", "walrus.md"]
    assert {s["name"] for s in read_manifest(index.path)["skipped"]} == set(reasons)


# --- many threads ---------------------------------------------------------------------------------------------


def test_tokenizing_new_words_on_many_threads_matches_one_thread():
    rng = random.Random(21)
    suffixes = ["ization", "fulness", "ational", "iveness", "ousness", "ement", "ingly", "ities", "alism", "ences"]

    def new_word() -> str:  # never seen before: the stemmer (not its cache) does the work
        letters = "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(5, 12)))
        return f"zq{letters}{rng.choice(suffixes)}"

    texts = [" ".join(new_word() for _ in range(300)) for _ in range(32)]
    alone = snowballstemmer.stemmer("english")
    expected = [[alone.stemWord(word) for word in text.split()] for text in texts]
    results: list[object] = [None] * len(texts)
    start = threading.Barrier(len(texts))

    def tokenize(i: int) -> None:
        start.wait()
        try:
            results[i] = search_tokens(texts[i])
        except Exception as exc:
            results[i] = exc

    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible, so that they interleave inside the stemmer
    try:
        threads = [threading.Thread(target=tokenize, args=(i,)) for i in range(len(texts))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(switch)
    assert results == expected
