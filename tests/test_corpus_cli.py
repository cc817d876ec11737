"""`python -m bot corpus ...` as people use it: real subprocesses, real SQLite file, real index builds, real kills.

The kill tests run a corpus change in a subprocess that SIGKILLs itself at a named step (ONBOARDING_CRASH_AT, see
bot/corpus/journal.py), then run the CLI again and check that corpus files, versions, audit log and index agree.
"""

from __future__ import annotations

import hashlib
import os
import pty
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from bot.corpus import CorpusManager
from bot.embedding import Embedder
from bot.index import build_index, current_build, load_index, read_manifest
from bot.retrieval import Retriever
from tests.conftest import PROJECT_ROOT
from tests.test_corpus_admin import HELLO, SCRIPTS_ONLY, WALRUS, WALRUS_V2

GUIDE = (
    b"---\ntitle: Triage guide\n---\n\n"
    b"## How do I triage an issue?\n\n"
    b"To triage an issue, add the needs-triage label, reproduce the bug, and write down the exact steps you took. "
    b"Then ask a maintainer to confirm the priority in the triage channel.\n"
)
WALRUS_QUESTION = "what is the name of the project mascot walrus?"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Cli:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.corpus = root / "corpus"
        self.index = root / "index"
        self.database = root / "data" / "bot.sqlite3"
        self.archive = root / "data" / "archive"
        self.env = {k: v for k, v in os.environ.items() if k not in ("DISCORD_TOKEN", "ONBOARDING_CRASH_AT")}
        self.env.update(
            CORPUS_DIR=str(self.corpus),
            INDEX_DIR=str(self.index),
            DATABASE_PATH=str(self.database),
            ARCHIVE_DIR=str(self.archive),
        )

    def run(self, *args: str, crash_at: str | None = None, stdin: str = "") -> subprocess.CompletedProcess[str]:
        env = dict(self.env, **({"ONBOARDING_CRASH_AT": crash_at} if crash_at else {}))
        return subprocess.run(
            [sys.executable, "-m", "bot", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            cwd=PROJECT_ROOT,
            timeout=600,
        )

    def upload(self, name: str, data: bytes) -> Path:
        path = self.root / "uploads" / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
        return path

    def files(self) -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in self.corpus.iterdir()}

    def rows(self, sql: str) -> list[tuple]:
        with sqlite3.connect(self.database) as db:
            return db.execute(sql).fetchall()

    def state(self) -> dict[str, object]:
        tables = {}
        if self.database.exists():
            for table in ("corpus_audit", "corpus_versions"):
                tables[table] = self.rows(f"SELECT * FROM {table} ORDER BY id")
        archive = sorted(p.name for p in self.archive.rglob("*")) if self.archive.exists() else []
        build = current_build(self.index)
        return {"files": self.files(), "tables": tables, "archive": archive, "current": build and build.name}

    def indexed(self) -> dict[str, str]:
        build = current_build(self.index)
        assert build is not None
        return read_manifest(build)["indexed"]


@pytest.fixture
def cli(tmp_path: Path, embedder: Embedder) -> Cli:
    """A small corpus (two short documents), already indexed."""
    space = Cli(tmp_path)
    space.corpus.mkdir()
    (space.corpus / "hello.txt").write_bytes(HELLO)
    (space.corpus / "walrus.md").write_bytes(WALRUS)
    build_index(space.corpus, space.index, embedder)
    return space


def no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr, result.stderr


# --- commands -----------------------------------------------------------------------------------------------------


def test_add_list_show_remove_versions_restore_history(cli: Cli, embedder: Embedder):
    guide = cli.upload("triage.md", GUIDE)
    added = cli.run("corpus", "add", str(guide), "--yes")
    assert added.returncode == 0, added.stderr
    assert added.stdout.splitlines()[:3] == [
        "triage.md: “Triage guide”",
        "  1 section, 1 paragraph, 3 passages, 236 bytes",
        "  sections: How do I triage an issue?",
    ]
    assert "Added triage.md: 3 passages; index updated in " in added.stdout
    assert (cli.corpus / "triage.md").read_bytes() == GUIDE
    answer = Retriever(load_index(cli.index), embedder).answer("how do I triage an issue?")
    assert answer.answered and answer.results[0].source == "Triage guide"

    listed = cli.run("corpus", "list")
    assert listed.returncode == 0, listed.stderr
    assert [line.split("  ")[0] for line in listed.stdout.splitlines()] == ["hello.txt", "triage.md", "walrus.md"]
    assert "triage.md  “Triage guide”  3 passages, 236 bytes, indexed 20" in listed.stdout

    shown = cli.run("corpus", "show", "triage.md")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("triage.md: “Triage guide”\n  3 passages, 236 bytes, indexed ")
    assert "  > To triage an issue, add the needs-triage label" in shown.stdout

    removed = cli.run("corpus", "remove", "walrus.md")
    assert removed.returncode == 0, removed.stderr
    assert removed.stdout.startswith("Removed walrus.md (kept as version 1); index updated in ")
    assert "Restore it with: python -m bot corpus restore 1" in removed.stdout
    assert not (cli.corpus / "walrus.md").exists()
    assert cli.indexed() == {n: sha(b) for n, b in cli.files().items()}

    versions = cli.run("corpus", "versions")
    assert versions.returncode == 0
    assert versions.stdout.strip().startswith("1  walrus.md  removed 20")
    assert versions.stdout.rstrip().endswith(f"by cli:{cli_user()}  ({len(WALRUS):,} bytes)")

    restored = cli.run("corpus", "restore", "1")
    assert restored.returncode == 0, restored.stderr
    assert restored.stdout.startswith("Restored walrus.md; index updated in ")
    assert (cli.corpus / "walrus.md").read_bytes() == WALRUS
    answer = Retriever(load_index(cli.index), embedder).answer(WALRUS_QUESTION)
    assert answer.answered and answer.results[0].source == "Mascot guide"

    history = cli.run("corpus", "history")
    assert history.returncode == 0
    lines = history.stdout.splitlines()
    assert [line.split("  ")[2].split()[:2] for line in lines] == [
        ["restore", "walrus.md"],
        ["remove", "walrus.md"],
        ["add", "triage.md"],
    ]
    assert all(f"  cli:{cli_user()}  " in line for line in lines)
    assert "(old text: version 1)" in lines[1]
    assert len(cli.run("corpus", "history", "--limit", "1").stdout.splitlines()) == 1
    for result in (added, listed, shown, removed, versions, restored, history):
        no_traceback(result)


def cli_user() -> str:
    import getpass

    return getpass.getuser()


def test_replace_needs_replace_and_keeps_the_old_text(cli: Cli):
    upload = cli.upload("walrus.md", WALRUS_V2)
    refused = cli.run("corpus", "add", str(upload), "--yes")
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        "error: walrus.md already exists; use --replace to replace it (its text is kept and can be restored)"
    )
    assert "replaces the current walrus.md" in refused.stdout
    replaced = cli.run("corpus", "add", str(upload), "--replace", "--yes")
    assert replaced.returncode == 0, replaced.stderr
    assert "Replaced walrus.md (old text kept as version 1)" in replaced.stdout
    assert (cli.corpus / "walrus.md").read_bytes() == WALRUS_V2
    assert (cli.archive / sha(WALRUS)[:2] / sha(WALRUS)).read_bytes() == WALRUS


def test_bad_files_are_refused_in_one_line_and_change_nothing(cli: Cli):
    before = cli.state()
    big = cli.root / "uploads" / "big.md"
    big.parent.mkdir()
    with big.open("wb") as fh:  # 50 MB, refused by its size before it is read
        fh.truncate(50_000_000)
    cases = [
        (["--name", "../../.env", str(cli.upload("env.md", GUIDE))], "not a path"),
        (["--name", "/etc/evil.md", str(cli.upload("evil.md", GUIDE))], "not a path"),
        (["--name", "guide\x07.md", str(cli.upload("bell.md", GUIDE))], "control characters"),
        ([str(cli.upload("logo.md", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"))], "binary or not UTF-8"),
        ([str(big)], "too large (50,000,000 bytes; the limit is 1,000,000)"),
        ([str(cli.upload("empty.md", b""))], "The file is empty."),
        ([str(cli.upload("page.html", SCRIPTS_ONLY))], "no readable text"),
        ([str(cli.root / "uploads" / "missing.md")], "is not a file"),
        ([str(cli.root / "uploads")], "is not a file"),
    ]
    for args, message in cases:
        result = cli.run("corpus", "add", *args, "--yes")
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.startswith("error: ") and message in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        no_traceback(result)
    for args, message in [
        (["remove", "nope.md"], "error: There is no document named 'nope.md' in the corpus."),
        (["restore", "7"], "error: There is no archived version 7."),
        (["show", "../hello.txt"], "error: There is no document named '../hello.txt' in the corpus."),
        (["history", "--limit", "0"], "error: --limit must be at least 1"),
    ]:
        result = cli.run("corpus", *args)
        assert (result.returncode, result.stderr.strip()) == (2, message)
    after = cli.state()
    after["tables"] = {k: v for k, v in after["tables"].items() if v}  # the tables were created, empty
    assert after == before


def test_without_a_terminal_add_needs_yes_and_on_a_terminal_it_asks(cli: Cli):
    before = cli.state()
    upload = cli.upload("triage.md", GUIDE)
    piped = cli.run("corpus", "add", str(upload), stdin="y\n")
    assert piped.returncode == 2
    assert piped.stderr.strip() == "error: nothing changed: confirm with --yes (no terminal to ask on)"

    controller, terminal = pty.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "corpus", "add", str(upload)],
            stdin=terminal,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=cli.env,
            cwd=PROJECT_ROOT,
        )
        os.write(controller, b"n\n")
        out, err = process.communicate(timeout=300)
    finally:
        os.close(controller)
        os.close(terminal)
    assert process.returncode == 1, err
    assert "Add it? [y/N] Cancelled; nothing changed." in out
    after = cli.state()
    after["tables"] = {k: v for k, v in after["tables"].items() if v}
    assert after == before


# --- concurrency --------------------------------------------------------------------------------------------------


def test_a_change_from_another_process_meanwhile_is_told_to_retry(cli: Cli, embedder: Embedder):
    started, proceed = threading.Event(), threading.Event()

    def held_reindex() -> object:  # the real build, entered while this change holds the corpus lock
        started.set()
        assert proceed.wait(300)
        return build_index(cli.corpus, cli.index, embedder)

    manager = CorpusManager(cli.corpus, cli.database, cli.archive, held_reindex, index_dir=cli.index)
    thread = threading.Thread(target=manager.add, args=("triage.md", GUIDE, "alice"))
    thread.start()
    try:
        assert started.wait(300)
        during = cli.state()
        for args in (
            ["add", str(cli.upload("other.md", WALRUS_V2)), "--yes"],
            ["remove", "walrus.md"],
            ["restore", "1"],
        ):
            result = cli.run("corpus", *args)
            assert (result.returncode, result.stderr.strip()) == (
                2,
                "error: Another corpus change is in progress; try again in a moment.",
            )
        assert cli.state() == during
    finally:
        proceed.set()
        thread.join()
    retry = cli.run("corpus", "remove", "walrus.md")
    assert retry.returncode == 0, retry.stderr
    assert sorted(cli.files()) == ["hello.txt", "triage.md"]
    assert cli.indexed() == {n: sha(b) for n, b in cli.files().items()}
    assert cli.rows("SELECT action, name, actor, state FROM corpus_audit ORDER BY id") == [
        ("add", "triage.md", "alice", "done"),
        ("remove", "walrus.md", f"cli:{cli_user()}", "done"),
    ]


def test_two_processes_changing_at_once_leave_a_consistent_corpus(cli: Cli):
    uploads = [cli.upload("triage.md", GUIDE), cli.upload("walrus.md", WALRUS_V2)]
    commands = [
        [sys.executable, "-m", "bot", "corpus", "add", str(uploads[0]), "--yes"],
        [sys.executable, "-m", "bot", "corpus", "add", str(uploads[1]), "--replace", "--yes"],
    ]
    processes = [
        subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli.env, cwd=PROJECT_ROOT)
        for c in commands
    ]
    results = [(p.returncode, err) for p in processes for _, err in [p.communicate(timeout=600)]]
    for code, err in results:
        assert code == 0 or (code == 2 and "Another corpus change is in progress" in err), err
    assert any(code == 0 for code, _ in results)
    done = cli.rows("SELECT action, name FROM corpus_audit WHERE state = 'done' ORDER BY id")
    assert len(done) == sum(code == 0 for code, _ in results)
    assert (cli.corpus / "triage.md").exists() == (("add", "triage.md") in done)
    assert (cli.corpus / "walrus.md").read_bytes() == (WALRUS_V2 if ("replace", "walrus.md") in done else WALRUS)
    assert cli.indexed() == {n: sha(b) for n, b in cli.files().items()}


# --- killed in the middle -----------------------------------------------------------------------------------------

# (change, step it is killed after, whether the change had happened by then)
KILLS = [
    ("add", "writing", False),  # the new text half-way: in a temp file next to the document
    ("add", "journaled", False),
    ("add", "written", True),
    ("replace", "writing", False),  # the old text half-way into the archive
    ("replace", "archived", False),
    ("replace", "journaled", False),
    ("replace", "written", True),
    ("remove", "journaled", False),
    ("remove", "written", True),
    ("remove", "recorded", True),
]


def change_args(cli: Cli, change: str) -> list[str]:
    if change == "add":
        return ["corpus", "add", str(cli.upload("triage.md", GUIDE)), "--yes"]
    if change == "replace":
        return ["corpus", "add", str(cli.upload("walrus.md", WALRUS_V2)), "--replace", "--yes"]
    return ["corpus", "remove", "walrus.md"]


@pytest.mark.parametrize(("change", "step", "happened"), KILLS, ids=[f"{c}-{s}" for c, s, _ in KILLS])
def test_killed_in_the_middle_the_next_command_makes_everything_agree(
    cli: Cli, embedder: Embedder, change: str, step: str, happened: bool
):
    killed = cli.run(*change_args(cli, change), crash_at=step)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    before_journal = step == "archived" or (step == "writing" and change == "replace")
    journal = [] if before_journal else [("done",)] if step == "recorded" else [("pending",)]
    assert cli.rows("SELECT state FROM corpus_audit") == journal  # it really died at that step
    if step == "writing":  # a temp file is left behind, hidden so the index never reads it
        folder = cli.corpus if change == "add" else cli.archive
        assert [p.name.startswith(".") and ".corpus-tmp-" in p.name for p in folder.rglob(".*")] == [True]

    # the next command (itself a change) repairs, then reindexes everything
    other = cli.run("corpus", "add", str(cli.upload("other.txt", HELLO.replace(b"Hello", b"Greetings"))), "--yes")
    assert other.returncode == 0, other.stderr
    name = "triage.md" if change == "add" else "walrus.md"
    action = {"add": "add", "replace": "replace", "remove": "remove"}[change]
    if before_journal or step == "recorded":  # killed before the journal row, or after the change was recorded
        assert "interrupted" not in other.stderr
    elif happened:
        assert f"Completed the interrupted {action} of {name}." in other.stderr
    else:
        assert f"Rolled back the interrupted {action} of {name} (it had not changed yet)." in other.stderr

    expected = {"hello.txt": HELLO, "other.txt": HELLO.replace(b"Hello", b"Greetings"), "walrus.md": WALRUS}
    if happened and change == "add":
        expected["triage.md"] = GUIDE
    elif happened and change == "replace":
        expected["walrus.md"] = WALRUS_V2
    elif happened and change == "remove":
        del expected["walrus.md"]
    assert cli.files() == expected  # no temp file left either
    assert cli.indexed() == {n: sha(b) for n, b in expected.items()}

    audit = cli.rows("SELECT action, name, state, version FROM corpus_audit ORDER BY id")
    versions = cli.rows("SELECT id, name, digest, size, reason FROM corpus_versions")
    assert audit[-1] == ("add", "other.txt", "done", None)
    if before_journal:  # at most an archive copy was made (harmless: content-addressed, the old text is unchanged)
        assert len(audit) == 1
    else:
        assert audit[0][:3] == (action, name, "done" if happened else "abandoned")
    if happened and change in ("replace", "remove"):
        reason = "replaced" if change == "replace" else "removed"
        assert versions == [(1, "walrus.md", sha(WALRUS), len(WALRUS), reason)]
        assert audit[0][3] == 1
        assert (cli.archive / sha(WALRUS)[:2] / sha(WALRUS)).read_bytes() == WALRUS
    else:
        assert versions == []
    assert not list(cli.archive.rglob(".*"))  # no temp file left in the archive

    answer = Retriever(load_index(cli.index), embedder).answer(WALRUS_QUESTION)
    quotes_walrus = answer.answered and answer.results[0].source == "Mascot guide"
    assert quotes_walrus == (not (happened and change == "remove"))
    if quotes_walrus:
        colour = "green walrus" if happened and change == "replace" else "purple walrus"
        assert colour in " ".join(r.quote for r in answer.results)


def test_killed_before_reindexing_the_next_start_rebuilds_the_index(cli: Cli):
    killed = cli.run(*change_args(cli, "add"), crash_at="written")
    assert killed.returncode == -signal.SIGKILL
    assert (cli.corpus / "triage.md").read_bytes() == GUIDE and "triage.md" not in cli.indexed()

    asked = cli.run("ask", "how do I triage an issue?")  # a start that changes nothing: recover, then load the index
    assert asked.returncode == 0, asked.stderr
    assert "Completed the interrupted add of triage.md." in asked.stderr
    assert "Building the index (the corpus changed)." in asked.stderr
    assert "To triage an issue, add the needs-triage label" in asked.stdout
    assert cli.indexed() == {n: sha(b) for n, b in cli.files().items()}
    assert cli.rows("SELECT action, name, state FROM corpus_audit") == [("add", "triage.md", "done")]
    history = cli.run("corpus", "history")
    assert "add triage.md  3 passages, 236 bytes; completed after an interruption" in history.stdout


def test_a_file_edited_by_hand_after_a_kill_loses_no_text(cli: Cli):
    killed = cli.run(*change_args(cli, "replace"), crash_at="journaled")
    assert killed.returncode == -signal.SIGKILL
    edited = b"# Edited by hand\n\nSomeone changed this file with a text editor while the bot was down.\n"
    (cli.corpus / "walrus.md").write_bytes(edited)

    history = cli.run("corpus", "history")
    assert history.returncode == 0, history.stderr
    assert history.stderr.strip() == (
        "The interrupted replace of walrus.md found the file changed by hand; its earlier text is version 1."
    )
    assert history.stdout.strip() == "No corpus changes recorded yet."  # the replace itself never happened
    assert (cli.corpus / "walrus.md").read_bytes() == edited
    assert cli.rows("SELECT id, name, digest, reason FROM corpus_versions") == [
        (1, "walrus.md", sha(WALRUS), "replaced")
    ]
    assert cli.rows("SELECT state FROM corpus_audit") == [("abandoned",)]
    assert (cli.archive / sha(WALRUS)[:2] / sha(WALRUS)).read_bytes() == WALRUS
