"""Running the bot as a service (issue 21): `run --discord`, DATA_DIR, plain logs off a terminal, backup and restore,
question retention, the systemd unit and the Makefile. Real subprocesses of `python -m bot`, real SQLite files."""

from __future__ import annotations

import asyncio
import configparser
import os
import re
import shlex
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.cli import _parser, cmd_run
from bot.config import CHECKOUT_LAYOUT, ConfigError, Settings
from bot.lease import BuildLease
from bot.lessons import LessonBook
from bot.retention import DAY_SECONDS, forget_daily, forget_identities
from bot.store import Store
from tests.conftest import CORPUS, GUIDES, PROJECT_ROOT
from tests.discord_helpers import embed_text, mention, reply_to
from tests.emulator import DiscordEmulator

UNIT = PROJECT_ROOT / "deploy" / "onboarding-bot.service"
_OURS = ("DISCORD_", "CORPUS_DIR", "INDEX_DIR", "DATABASE_PATH", "ARCHIVE_DIR", "ENCODER_DIR", "DATA_DIR", "QUESTION_")


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_OURS)}
    env.update(extra)
    return env


def bot(*args: str, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=PROJECT_ROOT,
        timeout=300,
    )


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# --- run --discord ----------------------------------------------------------------------------------------------------


def test_run_discord_without_a_token_exits_2_and_never_chats():
    result = bot("run", "--discord", env=clean_env(), stdin="how do I start?\n")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.splitlines() == [
        "error: DISCORD_TOKEN is not set, and --discord never starts the terminal chat (see .env.example)"
    ]


def test_run_discord_with_a_bad_setting_exits_2_in_one_line():
    result = bot("run", "--discord", env=clean_env(DISCORD_TOKEN="x", QUESTION_RETENTION_DAYS="a month"))
    assert result.returncode == 2
    assert result.stderr.splitlines() == ["error: QUESTION_RETENTION_DAYS must be a number, not 'a month'"]


def test_run_discord_exits_75_when_discord_cannot_be_reached_so_systemd_restarts_it(corpus_index_dir: Path):
    """Status 2 means "fix a setting" (the unit does not restart on it); an unreachable Discord is worth a retry."""
    env = clean_env(
        DISCORD_TOKEN="x",
        DISCORD_API_BASE="http://127.0.0.1:9/api/v10",  # the discard port: nothing listens there
        CORPUS_DIR=str(CORPUS),
        INDEX_DIR=str(corpus_index_dir),
        ENCODER_DIR=str(Settings.encoder_dir),
    )
    result = bot("run", "--discord", env=env)
    assert result.returncode == 75, result.stderr
    assert result.stderr.splitlines()[-1].startswith("error: cannot reach Discord at http://127.0.0.1:9/api/v10: ")
    assert "Traceback" not in result.stderr


# --- settings ---------------------------------------------------------------------------------------------------------


def test_data_dir_moves_every_default_path_out_of_the_checkout():
    settings = Settings.from_env({"DATA_DIR": "/srv/bot"})
    data = Path("/srv/bot")
    assert (settings.database, settings.corpus_dir, settings.archive_dir, settings.index_dir, settings.encoder_dir) == (
        data / "bot.sqlite3",
        data / "corpus",
        data / "corpus-archive",
        data / "index",
        data / "encoder",
    )
    assert settings.data_dir == data


def test_explicit_paths_override_data_dir_and_without_it_nothing_moves():
    settings = Settings.from_env({"DATA_DIR": "/srv/bot", "CORPUS_DIR": "/docs", "DATABASE_PATH": "/db/x.sqlite3"})
    assert (settings.corpus_dir, settings.database, settings.index_dir) == (
        Path("/docs"),
        Path("/db/x.sqlite3"),
        Path("/srv/bot/index"),
    )
    plain = Settings.from_env({})
    assert plain.data_dir is None and plain.question_retention_days is None
    assert (plain.database, plain.corpus_dir, plain.archive_dir, plain.index_dir, plain.encoder_dir) == (
        PROJECT_ROOT / "data" / "bot.sqlite3",
        PROJECT_ROOT / "corpus",
        PROJECT_ROOT / "data" / "corpus-archive",
        PROJECT_ROOT / "embeddings",
        PROJECT_ROOT / "embeddings" / "encoder",
    )
    assert CHECKOUT_LAYOUT["database"] == Settings.database  # the dataclass default is the same place


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DATA_DIR": "var/bot"}, "DATA_DIR must be an absolute path, not 'var/bot'"),
        ({"DATA_DIR": str(UNIT)}, f"DATA_DIR {UNIT} exists but is not a directory"),
        ({"QUESTION_RETENTION_DAYS": "0"}, "QUESTION_RETENTION_DAYS must be between 1 and 36500, not 0"),
        ({"QUESTION_RETENTION_DAYS": "soon"}, "QUESTION_RETENTION_DAYS must be a number, not 'soon'"),
    ],
)
def test_bad_data_settings_are_named(env: dict[str, str], message: str):
    with pytest.raises(ConfigError) as error:
        Settings.from_env(env)
    assert str(error.value) == message


def test_retention_setting():
    assert Settings.from_env({"QUESTION_RETENTION_DAYS": "90"}).question_retention_days == 90.0


# --- the service end to end -------------------------------------------------------------------------------------------


def _old_question(database: Path, user_id: int, days_ago: float) -> int:
    store = Store(database)
    try:
        qid = store.record_question(
            "where is the code of conduct?", answered=False, confidence=0.1, via="mention", guild_id=7,
            channel_id=8, user_id=user_id,
        )  # fmt: skip
        store.record_feedback(qid, user_id, helpful=False)
        with store._connect() as db:
            db.execute("UPDATE questions SET asked_at = ? WHERE id = ?", (time.time() - days_ago * DAY_SECONDS, qid))
            db.execute("UPDATE feedback SET given_at = ? WHERE question_id = ?", (time.time() - days_ago * 86400, qid))
        return qid
    finally:
        store.close()


def test_the_service_keeps_its_data_in_data_dir_logs_plainly_and_forgets_old_askers(tmp_path: Path, fast_encoder):
    """`run --discord` as systemd runs it: no terminal, DATA_DIR, QUESTION_RETENTION_DAYS; SIGTERM stops it."""
    data = tmp_path / "data"
    env = clean_env(
        DATA_DIR=str(data),
        ENCODER_DIR=str(Settings.encoder_dir),  # the export the test session already made (an override of DATA_DIR)
        QUESTION_RETENTION_DAYS="30",
        LOG_LEVEL="INFO",
        COOLDOWN_SECONDS="0",
        INDEX_CHECK_SECONDS="0",
    )
    shipped = tree(CORPUS)
    # a moderator's upload from the command line: it lands in DATA_DIR/corpus (seeded from corpus/), not the checkout
    added = bot("corpus", "add", str(GUIDES / "first-contribution.md"), "--yes", env=env)
    assert added.returncode == 0, added.stderr
    assert tree(data / "corpus") == {
        **shipped,
        "first-contribution.md": (GUIDES / "first-contribution.md").read_bytes(),
    }
    assert tree(CORPUS) == shipped
    assert (data / "index" / "CURRENT").is_file()
    old_id = _old_question(data / "bot.sqlite3", user_id=4242, days_ago=40)

    async def scenario() -> tuple[int | None, str]:
        async with DiscordEmulator() as emulator:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "run", "--discord",
                env=env | emulator.bot_env(),
                cwd=PROJECT_ROOT,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            try:
                async with asyncio.timeout(120):
                    while not emulator.shards_identified:
                        await asyncio.sleep(0.05)
                newcomer = emulator.add_user("newcomer")
                asked = await emulator.post_message(
                    "general", newcomer, mention(emulator, "how do I find a first issue?")
                )
                reply = await reply_to(emulator, asked, timeout=60)
                assert embed_text(reply)
            finally:
                if process.returncode is None:
                    process.terminate()  # SIGTERM, as systemctl stop sends
                _, err = await asyncio.wait_for(process.communicate(), 30)
            return process.returncode, err.decode()

    returncode, log = asyncio.run(scenario())
    assert returncode == 0, log
    assert "\x1b[" not in log, "no ANSI colour codes when stderr is not a terminal"
    lines = [line for line in log.splitlines() if line.strip()]
    logged = [line for line in lines if re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (INFO|WARNING|ERROR) ", line)]
    assert len(logged) >= 3 and "Traceback" not in log
    assert any("question retention (30 days): removed the user and channel IDs of 1 question" in x for x in logged)
    with sqlite3.connect(data / "bot.sqlite3") as db:
        rows = db.execute("SELECT id, user_id, channel_id, guild_id FROM questions ORDER BY id").fetchall()
        votes = db.execute("SELECT user_id, helpful FROM feedback WHERE question_id = ?", (old_id,)).fetchall()
    assert rows[0] == (old_id, None, None, 7)  # who and where are gone; the server stays for /stats
    assert votes[0][0] < 0 and votes[0][1] == 0  # the vote still counts, anonymously
    assert len(rows) == 2 and rows[1][1] is not None  # today's question keeps its asker
    assert not (data / "corpus-archive").exists() or tree(data / "corpus-archive") == {}


# --- logging ----------------------------------------------------------------------------------------------------------

# (plain logs are checked in the end-to-end test above: stderr there is a pipe, in a Docker container here)


# --- backup and restore -----------------------------------------------------------------------------------------------


def _populate(data: Path) -> tuple[sqlite3.Connection, list[int]]:
    """A DATA_DIR with questions, a lesson, a replaced document, and rows written after the last checkpoint, whose
    writer still holds the database open (so they exist only in the -wal file)."""
    from bot.corpus import CorpusManager

    corpus = data / "corpus"
    shutil.copytree(CORPUS, corpus)
    database = data / "bot.sqlite3"
    manager = CorpusManager(corpus, database, data / "corpus-archive", reindex=lambda: None)
    manager.add("notes.md", b"# Notes\n\nThe first text of the notes.\n", "ana")
    manager.add("notes.md", b"# Notes\n\nThe second text of the notes.\n", "ana", replace=True)
    book = LessonBook(database)
    book.teach_no_answer("what is the wifi password?", "mod")
    store = Store(database)
    ids = [store.record_question(f"question {i}?", answered=True, confidence=0.9, via="cli") for i in range(3)]
    store.close()
    writer = sqlite3.connect(database)
    writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    writer.execute("PRAGMA wal_autocheckpoint = 0")
    with writer:
        cursor = writer.execute(
            "INSERT INTO questions (asked_at, via, question, normalized, answered, confidence) "
            "VALUES (?, 'cli', 'after the checkpoint?', 'after the checkpoint', 1, 0.8)",
            (time.time(),),
        )
        ids.append(int(cursor.lastrowid or 0))
    return writer, ids


def test_backup_and_restore_round_trip_a_live_wal_database(tmp_path: Path):
    data, backup_dir = tmp_path / "data", tmp_path / "backups" / "2026-12-05"
    data.mkdir()
    writer, ids = _populate(data)
    database = data / "bot.sqlite3"
    try:
        assert Path(f"{database}-wal").stat().st_size > 0
        main_only = tmp_path / "main-only.sqlite3"
        shutil.copyfile(database, main_only)  # the database file alone lacks the last row
        with sqlite3.connect(main_only) as db:
            assert db.execute("SELECT COUNT(*) FROM questions WHERE id = ?", (ids[-1],)).fetchone() == (0,)

        made = bot("backup", str(backup_dir), env=clean_env(DATA_DIR=str(data)))
        assert made.returncode == 0, made.stderr
        assert "database rows: 4 questions" in made.stdout and "1 lessons" in made.stdout
    finally:
        writer.close()
    assert {p.name for p in backup_dir.iterdir()} == {"bot.sqlite3", "corpus", "corpus-archive", "manifest.json"}
    assert not list(backup_dir.glob("*-wal"))

    fresh = tmp_path / "restored"
    env = clean_env(DATA_DIR=str(fresh))
    restored = bot("restore", str(backup_dir), env=env)
    assert restored.returncode == 0, restored.stderr
    assert tree(fresh / "corpus") == tree(data / "corpus")
    assert tree(fresh / "corpus-archive") == tree(data / "corpus-archive")
    with sqlite3.connect(fresh / "bot.sqlite3") as db:
        assert [r[0] for r in db.execute("SELECT id FROM questions ORDER BY id")] == ids
        assert db.execute("SELECT question FROM lessons").fetchall() == [("what is the wifi password?",)]
    versions = bot("corpus", "versions", "notes.md", env=env)
    assert versions.returncode == 0 and "notes.md" in versions.stdout
    back = bot("corpus", "restore", "1", "--index", str(tmp_path / "index"), env=env)
    assert back.returncode == 0, back.stderr
    assert (fresh / "corpus" / "notes.md").read_text() == "# Notes\n\nThe first text of the notes.\n"

    # a second restore would overwrite: refused, nothing changed; with --force the current data is moved aside
    before = tree(fresh)
    refused = bot("restore", str(backup_dir), env=env)
    assert refused.returncode == 2 and refused.stderr.startswith("error: Restoring would replace ")
    assert "add --force" in refused.stderr and len(refused.stderr.splitlines()) == 1
    assert tree(fresh) == before
    forced = bot("restore", str(backup_dir), "--force", env=env)
    assert forced.returncode == 0, forced.stderr
    assert (fresh / "corpus" / "notes.md").read_text() == "# Notes\n\nThe second text of the notes.\n"
    aside = sorted(p.name for p in fresh.iterdir() if ".before-restore-" in p.name)
    assert {name.split(".before-restore-")[0] for name in aside} >= {"bot.sqlite3", "corpus", "corpus-archive"}


def test_backup_and_restore_refuse_bad_input_without_changing_anything(tmp_path: Path, corpus_index_dir: Path):
    data = tmp_path / "data"
    data.mkdir()
    writer, _ = _populate(data)
    writer.close()
    env = clean_env(DATA_DIR=str(data))
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "keep.txt").write_text("mine")
    cases = [
        (("backup", str(occupied)), f"error: {occupied} already exists and is not an empty folder; back up into"),
        (("restore", str(occupied)), f"error: {occupied} is not a backup (it has no manifest.json)."),
    ]
    good = tmp_path / "good"
    assert bot("backup", str(good), env=env).returncode == 0
    damaged = tmp_path / "damaged"
    shutil.copytree(good, damaged)
    (damaged / "corpus" / "notes.md").write_text("tampered")
    cases.append((("restore", str(damaged)), f"error: The backup {damaged} is damaged: corpus/notes.md does not"))
    before = tree(data)
    for args, message in cases:
        result = bot(*args, env=env)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.startswith(message) and len(result.stderr.splitlines()) == 1, result.stderr
        assert "Traceback" not in result.stderr
    assert tree(data) == before and tree(occupied) == {"keep.txt": b"mine"}

    # a bot serving from the index holds a lease on its build: restore says to stop it first
    build = Path(corpus_index_dir / (corpus_index_dir / "CURRENT").read_text().strip())
    lease = BuildLease.take(build)
    assert lease is not None
    try:
        serving = bot("restore", str(good), "--force", "--index", str(corpus_index_dir), env=env)
    finally:
        lease.release()
    assert serving.returncode == 2
    assert serving.stderr.strip() == f"error: A bot is running on the index in {corpus_index_dir}; stop it first " \
        "(e.g. systemctl stop onboarding-bot)."  # fmt: skip
    assert tree(data) == before


# --- question retention -----------------------------------------------------------------------------------------------


def test_forget_removes_who_asked_old_questions_and_keeps_the_stats(tmp_path: Path):
    database = tmp_path / "bot.sqlite3"
    old = _old_question(database, user_id=1001, days_ago=31)
    store = Store(database)
    recent = store.record_question("how do I start?", answered=True, confidence=0.8, via="slash", guild_id=7,
                                   channel_id=9, user_id=1002)  # fmt: skip
    store.record_feedback(recent, 1002, helpful=True)
    LessonBook(database)  # its tables, for the passage votes
    with store._connect() as db:
        db.execute(
            "INSERT INTO passage_votes (user_id, document, passage, question, helpful, voted_at) VALUES"
            " (1001, 'a.md', 'old passage', 'q', 1, ?), (1002, 'a.md', 'new passage', 'q', 1, ?)",
            (time.time() - 31 * DAY_SECONDS, time.time()),
        )
    stats_before = store.stats(guild_id=7)
    store.close()

    env = clean_env(DATABASE_PATH=str(database))
    unset = bot("forget", env=env)
    assert (unset.returncode, unset.stderr.strip()) == (
        2,
        "error: QUESTION_RETENTION_DAYS is not set; set it (in .env) or pass --days N",
    )
    result = bot("forget", env=env | {"QUESTION_RETENTION_DAYS": "30"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "Questions older than 30 days: removed the user and channel IDs of 1 question and the user IDs of 2 votes."
    )
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT id, user_id, channel_id FROM questions ORDER BY id").fetchall() == [
            (old, None, None),
            (recent, 1002, 9),
        ]
        assert [r[0] < 0 for r in db.execute("SELECT user_id FROM feedback ORDER BY question_id")] == [True, False]
        assert sorted(r[0] for r in db.execute("SELECT user_id FROM passage_votes"))[1:] == [1002]
    store = Store(database)
    assert store.stats(guild_id=7) == stats_before
    store.close()
    again = bot("forget", "--days", "30", env=env)
    assert again.stdout.strip().endswith("removed the user and channel IDs of 0 questions and the user IDs of 0 votes.")


def test_a_running_bot_forgets_again_every_period(tmp_path: Path):
    database = tmp_path / "bot.sqlite3"
    store = Store(database)

    async def scenario() -> list[int | None]:
        task = asyncio.create_task(forget_daily(store, 30, every=0.1))
        await asyncio.sleep(0.05)  # the first round ran at start
        qid = store.record_question("late?", answered=False, confidence=0.0, via="dm", user_id=5)
        with store._connect() as db:
            db.execute("UPDATE questions SET asked_at = ? WHERE id = ?", (time.time() - 31 * DAY_SECONDS, qid))
        async with asyncio.timeout(5):
            while store._db.execute("SELECT user_id FROM questions").fetchone()[0] is not None:
                await asyncio.sleep(0.02)
        task.cancel()
        return [row[0] for row in store._db.execute("SELECT user_id FROM questions")]

    assert asyncio.run(scenario()) == [None]
    assert forget_identities(store, 30).questions == 0
    store.close()


# --- the systemd unit -------------------------------------------------------------------------------------------------


def _unit() -> configparser.ConfigParser:
    unit = configparser.ConfigParser(interpolation=None, strict=True)
    unit.optionxform = str  # systemd keys are case-sensitive
    unit.read_string(UNIT.read_text(encoding="utf-8"))
    return unit


def test_the_systemd_unit_runs_the_discord_bot_as_a_hardened_service():
    service = _unit()["Service"]
    argv = shlex.split(service["ExecStart"])
    assert argv[1:4] == ["-m", "bot", "run"]
    args = _parser().parse_args(argv[3:])  # the real command line accepts exactly this
    assert args.func is cmd_run and args.discord is True
    assert service["Restart"] in ("on-failure", "always") and float(service["RestartSec"]) >= 1
    assert service["RestartPreventExitStatus"] == "2"
    environment = dict(item.split("=", 1) for item in shlex.split(service["Environment"]))
    data_dir = environment["DATA_DIR"]
    assert service["ReadWritePaths"] == data_dir and service["StateDirectory"] == Path(data_dir).name
    assert (service["ProtectSystem"], service["NoNewPrivileges"], service["PrivateTmp"]) == ("strict", "yes", "yes")
    assert service["User"] not in ("root", "nobody") and service["EnvironmentFile"].startswith("/etc/")
    assert _unit()["Install"]["WantedBy"] == "multi-user.target"


def test_systemd_analyze_verifies_the_unit(tmp_path: Path):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    text = UNIT.read_text(encoding="utf-8")
    python = re.search(r"^ExecStart=(\S+)", text, re.MULTILINE)
    assert python is not None
    local = tmp_path / UNIT.name
    local.write_text(text.replace(python.group(1), sys.executable), encoding="utf-8")  # this machine's interpreter
    result = subprocess.run(["systemd-analyze", "verify", str(local)], capture_output=True, text=True, timeout=60)
    problems = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if not re.search(r"Unknown key '(RestartSteps|RestartMaxDelaySec)'", line)  # systemd < 254: plain RestartSec
    ]
    assert result.returncode == 0 and problems == [], result.stdout + result.stderr


# --- the Makefile -----------------------------------------------------------------------------------------------------


def make_n(target: str, tmp_path: Path) -> list[str]:
    result = subprocess.run(
        ["make", "-n", target, f"VENV={tmp_path / 'venv'}"],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=60,
        env={k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")},
    )
    assert result.returncode == 0, result.stderr
    # run under `make test`, make prints "Entering/Leaving directory" lines: not commands
    return [line for line in result.stdout.splitlines() if not line.startswith("make[")]


def test_make_installs_cpu_torch_when_its_index_answers_and_the_default_one_otherwise(tmp_path: Path):
    commands = "\n".join(make_n("install", tmp_path))
    probe = re.search(r"^if (timeout \d+ .*?) >/dev/null 2>&1; then", commands, re.MULTILINE)
    assert probe is not None, commands
    assert "--index-url https://download.pytorch.org/whl/cpu torch==2.13.0" in commands
    assert re.search(r"^else \\\n\t.*pip .*install --quiet torch==2\.13\.0; \\$", commands, re.MULTILINE), commands
    # the probe itself: against an address that does not answer it gives up within its timeouts, never hangs
    unreachable = probe.group(1).replace("https://download.pytorch.org/whl/cpu", "http://10.255.255.1:9")
    started = time.monotonic()
    result = subprocess.run(unreachable, shell=True, capture_output=True, timeout=30)
    assert result.returncode != 0 and time.monotonic() - started < 15


def test_make_run_installs_no_test_tools_and_make_test_does(tmp_path: Path):
    run = make_n("run", tmp_path)
    assert any(re.search(r"pip .*install .*-e \.$", line) for line in run), run
    assert not any("[dev]" in line for line in run)
    test = make_n("test", tmp_path)
    assert any("-e '.[dev]'" in line for line in test) and test[-1].endswith("-m pytest -q")


def test_make_clean_removes_index_builds_and_keeps_data(tmp_path: Path):
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(PROJECT_ROOT / "Makefile", project / "Makefile")
    embeddings = project / "embeddings"
    for path in ("build-20261205-ab12/manifest.json", "CURRENT", ".lock", ".CURRENT.1234", "encoder/model.onnx",
                 ".gitkeep"):  # fmt: skip
        (embeddings / path).parent.mkdir(parents=True, exist_ok=True)
        (embeddings / path).write_text("x")
    (project / "data").mkdir()
    (project / "data" / "bot.sqlite3").write_text("questions")
    result = subprocess.run(["make", "clean", "VENV=.venv"], cwd=project, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in embeddings.iterdir()) == [".gitkeep"]
    assert (project / "data" / "bot.sqlite3").read_text() == "questions"
