"""Command line: `python -m bot index | ask | quote | chat | run | corpus ... | teach ... | sources ...`."""

# This file holds `main` and the parser (whose description is the docstring above); `common.py` what every command
# shares, `commands.py` the commands that index, answer and run the bot, and `corpus.py` the `corpus` subcommands.
# `bot.cli:main` is the console script and what `python -m bot` runs.

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.cli.commands import (
    HELP,
    LISTED,
    attribution,
    chat,
    cmd_adapt,
    cmd_ask,
    cmd_chat,
    cmd_index,
    cmd_quote,
    cmd_run,
    cmd_sync,
    describe_build,
    format_answer,
    format_quote,
)
from bot.cli.common import UsageError, _with_paths
from bot.cli.corpus import (
    _corpus_parser,
    cli_actor,
    cmd_corpus_add,
    cmd_corpus_history,
    cmd_corpus_list,
    cmd_corpus_remove,
    cmd_corpus_restore,
    cmd_corpus_show,
    cmd_corpus_versions,
    describe_preview,
    recover_corpus,
)
from bot.cli.ops import _ops_parser
from bot.cli.sources import _sources_parser, cmd_sources_list, cmd_sources_sync
from bot.cli.teach import _teach_parser, cmd_teach
from bot.config import PROJECT_ROOT, ConfigError, Settings
from bot.corpus import CorpusChangeError
from bot.documents import CorpusError
from bot.embedding import ModelError
from bot.index import IndexError_
from bot.lessons import LessonError
from bot.sources import SourcesError, SyncError

__all__ = [
    "HELP",
    "LISTED",
    "UsageError",
    "attribution",
    "chat",
    "cli_actor",
    "cmd_adapt",
    "cmd_ask",
    "cmd_chat",
    "cmd_corpus_add",
    "cmd_corpus_history",
    "cmd_corpus_list",
    "cmd_corpus_remove",
    "cmd_corpus_restore",
    "cmd_corpus_show",
    "cmd_corpus_versions",
    "cmd_index",
    "cmd_quote",
    "cmd_run",
    "cmd_sources_list",
    "cmd_sources_sync",
    "cmd_sync",
    "cmd_teach",
    "describe_build",
    "describe_preview",
    "format_answer",
    "format_quote",
    "main",
    "recover_corpus",
]

log = logging.getLogger("bot")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        from dotenv import load_dotenv

        load_dotenv(PROJECT_ROOT / ".env")
        load_dotenv(Path.cwd() / ".env")
        settings = Settings.from_env()
        logging.basicConfig(
            level=settings.log_level or "WARNING", format="%(asctime)s %(levelname)-8s %(name)s: %(message)s"
        )
        return args.func(args, settings)
    except (
        UsageError,
        ConfigError,
        CorpusError,
        IndexError_,
        ModelError,
        CorpusChangeError,
        LessonError,
        SourcesError,
        SyncError,
    ) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        return _with_paths(sub)

    index = add("index", "Build or rebuild the index from the corpus (only what changed is embedded again).")
    index.add_argument("--full", action="store_true", help="parse and embed every document again")
    index.set_defaults(func=cmd_index)

    ask = add("ask", "Answer questions with quotes (one per line from stdin when none is given).")
    ask.add_argument("--json", action="store_true", help="one JSON object per question per line")
    ask.add_argument("-k", type=int, default=3, metavar="N", help="results per question (default 3)")
    ask.add_argument(
        "--explain", action="store_true", help="after each result, each scoring feature's value and share of its score"
    )
    ask.add_argument("question", nargs="*", help="the question (words are joined)")
    ask.set_defaults(func=cmd_ask)

    quote = add("quote", "A random quote, optionally about a topic.")
    quote.add_argument("--topic", metavar="TEXT")
    quote.add_argument("--json", action="store_true")
    quote.set_defaults(func=cmd_quote)

    adapt = add("adapt", "Adapt the embedding model to the corpus (a few minutes); then set EMBEDDING_MODEL to it.")
    adapt.add_argument("--out", type=Path, required=True, metavar="DIR", help="where to save the adapted model")
    adapt.add_argument("--epochs", type=int, default=3, metavar="N", help="training passes (default 3)")
    adapt.set_defaults(func=cmd_adapt)

    add("chat", "Talk to the bot in the terminal.").set_defaults(func=cmd_chat)
    run = add("run", "Start the Discord bot (the terminal chat while no DISCORD_TOKEN is set).")
    run.add_argument(
        "--discord", action="store_true", help="the Discord bot or exit status 2, never the chat (for a service)"
    )
    run.set_defaults(func=cmd_run)
    add("sync", "Register the slash commands with Discord now (the bot also does it when they change).").set_defaults(
        func=cmd_sync
    )
    _corpus_parser(commands)
    _teach_parser(commands)
    _ops_parser(commands)
    _sources_parser(commands)
    return parser
