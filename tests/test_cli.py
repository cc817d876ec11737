"""The command line as tooling and people use it: real subprocesses, real model, real index files."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import CORPUS, PROJECT_ROOT


def run(*args: str, stdin: str = "", env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k not in ("DISCORD_TOKEN", "CORPUS_DIR", "INDEX_DIR")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=full_env,
        cwd=PROJECT_ROOT,
        timeout=300,
    )


def test_ask_json_reads_questions_from_stdin(corpus_index_dir: Path):
    result = run(
        "ask",
        "--json",
        "--corpus",
        str(CORPUS),
        "--index",
        str(corpus_index_dir),
        stdin="how did jaice get into kubernetes?\n\nbest pizza in naples?\n🎉🎉\n",
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["question"] for line in lines] == [
        "how did jaice get into kubernetes?",
        "best pizza in naples?",
        "🎉🎉",
    ]
    assert [line["answered"] for line in lines] == [True, False, False]
    first = lines[0]["results"]
    assert len(first) == 3
    assert set(first[0]) == {"quote", "source", "section", "score", "url"}
    assert [result["url"] for result in first] == [None, None, None]  # corpus/ without front-matter url: no link
    assert isinstance(first[0]["score"], float) and first[0]["section"].endswith("?")
    assert lines[1]["results"] == [] and lines[2]["results"] == []
    assert "skipped question: Please ask your question in words" in result.stderr
    assert "Traceback" not in result.stderr
    assert "Building the index" not in result.stderr  # the fresh index was reused


def test_bad_input_exits_with_a_short_message():
    empty = run("ask", "   ")
    assert (empty.returncode, empty.stderr.strip()) == (2, "error: Please type a question.")
    missing = run("ask", "--corpus", "/nonexistent/corpus", "how do I start?")
    assert missing.returncode == 2
    assert missing.stderr.strip().endswith("error: Corpus directory /nonexistent/corpus does not exist.")
    assert "Traceback" not in missing.stderr


def test_index_reports_skipped_files_and_ask_builds_when_missing(tmp_path: Path):
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    (corpus / "broken.txt").write_bytes(b"\xff\xfe not utf-8 \xff")
    result = run("index", "--corpus", str(corpus), "--index", str(tmp_path / "index"))
    assert result.returncode == 0, result.stderr
    assert "Indexed 1 document" in result.stdout
    assert "broken.txt: not UTF-8 text (invalid byte at offset 0)" in result.stdout

    fresh = run("ask", "--corpus", str(corpus), "--index", str(tmp_path / "other-index"), "what is kubernetes?")
    assert fresh.returncode == 0
    assert "Building the index (no index has been built yet)." in fresh.stderr
    assert "Kubernetes is an open source system" in fresh.stdout


def test_run_without_token_chats_over_piped_input(corpus_index_dir: Path):
    result = run(
        "run",
        stdin="how did jaice learn kubernetes?\n/quote curiosity\nwhat is the capital of peru?\n/quit\n",
        env={"CORPUS_DIR": str(CORPUS), "INDEX_DIR": str(corpus_index_dir)},
    )
    assert result.returncode == 0, result.stderr
    assert "— Jaice Singer DuMars, answering “" in result.stdout
    assert "“Curiosity is the door that everyone can open, but sadly don’t.”" in result.stdout
    assert "I couldn't find an answer to that in the documents I know" in result.stdout
    assert "Traceback" not in result.stderr


def test_core_never_imports_discord():
    code = (
        "import sys, bot.cli, bot.index, bot.retrieval, bot.quotes, bot.documents, bot.service, "
        "bot.corpus, "
        "bot.store; "
        "assert not any(m == 'discord' or m.startswith('discord.') for m in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT).returncode == 0


def test_sync_without_a_token_is_a_clear_error():
    result = run("sync")
    assert result.returncode == 2
    assert result.stderr.strip() == "error: DISCORD_TOKEN is not set (see .env.example)"


def test_a_bad_discord_setting_is_named():
    result = run("run", env={"DISCORD_TOKEN": "x", "DISCORD_API_BASE": "discord.com/api"})
    assert result.returncode == 2
    assert "error: DISCORD_API_BASE must start with http:// or https://" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_bad_shard_setting_is_named():
    result = run("run", env={"DISCORD_TOKEN": "x", "SHARD_COUNT": "2", "SHARD_IDS": "2"})
    assert (result.returncode, result.stderr.strip()) == (
        2,
        "error: SHARD_IDS must be below SHARD_COUNT (2): shard 2 does not exist",
    )


def test_a_lesson_taught_from_the_shell_applies_in_chat_and_ask(corpus_index_dir: Path, tmp_path: Path):
    """chat, ask and the Discord bot answer through one AnswerService, so a moderator's lesson holds in all of them."""
    env = {"CORPUS_DIR": str(CORPUS), "INDEX_DIR": str(corpus_index_dir), "DATABASE_PATH": str(tmp_path / "db")}
    question = "how did jaice learn kubernetes?"
    before = run("chat", stdin=f"{question}\n", env=env)
    assert before.returncode == 0, before.stderr
    assert "— Jaice Singer DuMars, answering “" in before.stdout

    taught = run("teach", "How did Jaice learn Kubernetes", "--no-answer", env=env)
    assert taught.returncode == 0, taught.stderr
    assert "→ no answer in the documents" in taught.stdout
    chat = run("chat", stdin=f"{question}\n/quote curiosity\n/quit\n", env=env)
    assert chat.returncode == 0, chat.stderr
    assert "I couldn't find an answer to that in the documents I know" in chat.stdout
    assert "Jaice Singer DuMars, answering" not in chat.stdout
    assert "“Curiosity is the door that everyone can open, but sadly don’t.”" in chat.stdout  # quotes still work
    asked = run("ask", "--json", question, env=env)
    assert asked.returncode == 0, asked.stderr
    assert json.loads(asked.stdout)["answered"] is False
