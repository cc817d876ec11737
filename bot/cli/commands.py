"""The commands that index, answer and run the bot (index, adapt, ask, quote, run, sync, chat), the terminal chat, and
how answers, quotes and index reports are written for people."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, TextIO

from bot.cli.common import UsageError, _notify, _paths, _ProgressBar
from bot.cli.corpus import recover_corpus
from bot.config import Settings
from bot.corpus import CorpusChangeError, plural
from bot.documents import IGNORE_FILE, authority_label
from bot.embedding import Embedder
from bot.encoder import query_embedder
from bot.index import BuildReport, build_index
from bot.lessons import LessonBook
from bot.quotes import NoQuoteError, Quote
from bot.retrieval import Answer, Explained, QuestionError, check_question
from bot.scope import load_topics, scope_line
from bot.service import AnswerService, Source
from bot.text import code_markup, in_quotation_marks

if TYPE_CHECKING:
    from bot.store import Store

PLAIN_LOG_FORMAT = "%(asctime)s %(levelname)-8s %(name)s: %(message)s"  # the bot's log lines when not on a terminal
EXIT_UNREACHABLE = 75  # EX_TEMPFAIL: Discord could not be reached; a service manager should try again (exit 2 is final)

# --- shared set-up ------------------------------------------------------------------------------------------------


def _service(args: argparse.Namespace, settings: Settings, lessons: LessonBook | None) -> AnswerService:
    """The answering service the commands share with the Discord bot, over the corpus and index of --corpus and
    --index (or the settings), with `lessons` applied to its answers. Not loaded yet."""
    corpus_dir, index_dir = _paths(args, settings)
    embedder = Embedder.from_setting(settings.embedding_model)
    topics = load_topics(settings.scopes_file)  # a bad scopes.toml is refused before the model loads
    return AnswerService(
        corpus_dir,
        index_dir,
        embedder,
        encoder_dir=settings.encoder_dir,
        lessons=lessons,
        encoder_precision=settings.encoder_precision,
        topics=topics,
    )


def _load(service: AnswerService, settings: Settings) -> AnswerService:
    """`service` loaded: its index built first when missing or stale, after an interrupted corpus change is repaired."""
    if settings.database.exists():  # no database: no corpus change can have been interrupted
        try:
            recover_corpus(settings, service.corpus_dir, service.index_dir)
        except CorpusChangeError as exc:
            _notify(f"warning: could not check for interrupted corpus changes: {exc}")
    with _ProgressBar() as bar:
        service.load(notify=_notify, progress=bar)
    return service


def _answering(args: argparse.Namespace, settings: Settings) -> AnswerService:
    """The loaded service `ask`, `quote` and `chat` answer through: moderators' lessons apply here as in Discord (no
    database yet: nothing was taught, and none is created)."""
    lessons = LessonBook(settings.database) if settings.database.exists() else None
    return _load(_service(args, settings, lessons), settings)


LISTED = 10  # names listed per kind of change in an index report; a first build of a large corpus adds hundreds


def describe_build(report: BuildReport) -> str:
    lines = [
        f"Indexed {report.documents} document{'s' * (report.documents != 1)} "
        f"({report.paragraphs} paragraphs, {report.windows} passages) in {report.seconds:.1f} s."
    ]
    reused = report.documents - report.embedded_documents
    if reused:
        lines.append(f"Embedded {report.embedded_documents} new or changed; reused {reused} unchanged.")
    for label, names in (("Added", report.added), ("Changed", report.changed), ("Removed", report.removed)):
        if names:
            lines.append(f"{label} {plural(len(names), 'document')}:")
            lines += [f"  {name}" for name in names[:LISTED]]
            if len(names) > LISTED:
                lines.append(f"  … and {len(names) - LISTED} more")
    if report.ignored:
        lines.append(f"Ignored {plural(len(report.ignored), 'file')} (the corpus's {IGNORE_FILE}):")
        lines += [f"  {name}" for name in report.ignored[:LISTED]]
        if len(report.ignored) > LISTED:
            lines.append(f"  … and {len(report.ignored) - LISTED} more")
    for name, value in sorted(report.authority.items()):
        lines.append(f"Authority {authority_label(value)}: {name}")
    if report.skipped:
        lines.append(f"Skipped {len(report.skipped)} file{'s' * (len(report.skipped) != 1)}:")
        lines += [f"  {s.name}: {s.reason}" for s in report.skipped]
    return "\n".join(lines)


# --- commands -----------------------------------------------------------------------------------------------------


def cmd_index(args: argparse.Namespace, settings: Settings) -> int:
    corpus_dir, index_dir = _paths(args, settings)
    encoder = query_embedder(
        settings.encoder_dir, Embedder.from_setting(settings.embedding_model), settings.encoder_precision
    )
    with _ProgressBar() as bar:
        report = build_index(corpus_dir, index_dir, encoder, progress=bar, reuse=not args.full)
    print(describe_build(report))
    return 0


def cmd_adapt(args: argparse.Namespace, settings: Settings) -> int:
    from bot.adapt import adapt_model

    if not 1 <= args.epochs <= 20:
        raise UsageError("--epochs must be between 1 and 20")
    corpus_dir, _ = _paths(args, settings)
    embedder = Embedder.from_setting(settings.embedding_model)
    with _ProgressBar("Training", "step") as bar:
        report = adapt_model(corpus_dir, args.out, embedder, epochs=args.epochs, progress=bar)
    print(
        f"Adapted {embedder.name} on {report.pairs} heading–paragraph pairs in {report.seconds:.0f} s "
        f"(headings' similarity to their paragraphs {report.before:.2f} → {report.after:.2f}).\n"
        f"To use it, set EMBEDDING_MODEL={report.path.resolve()} (in .env); the index is rebuilt on the next start."
    )
    return 0


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    if args.k < 1:
        raise UsageError("-k must be at least 1")
    if args.question:
        question = " ".join(args.question)
        try:
            check_question(question)
        except QuestionError as exc:
            raise UsageError(str(exc)) from exc
        questions: Iterable[str] = [question]
    else:
        questions = (line.rstrip("\n") for line in sys.stdin if line.strip())
    service = _answering(args, settings)
    for question in questions:
        try:
            answer = service.ask(question, args.k)
        except QuestionError as exc:
            print(f"skipped question: {exc}", file=sys.stderr)
            answer = Answer(question.strip(), False)
            if not args.json:
                print(f"{exc}\n")
                continue
        if args.json:
            data = answer.to_json() | ({"pointer": answer.pointer} if answer.pointer else {})
            print(json.dumps(data, ensure_ascii=False), flush=True)
        else:
            print(format_answer(answer, service.sources()), flush=True)
        if args.explain and answer.question:
            print(format_explanation(service.explain, answer.question, args.k), flush=True)
    return 0


def format_explanation(explain: Callable[[str, int], Explained], question: str, k: int) -> str:
    """Why each quote ranked where it did: every feature's value and its share of the score, largest first (the
    ranking before any moderator's lesson)."""
    answer, explained = explain(question, k)
    lines = ["Why (the ranking before any lesson):" if answer.answered else "Declined; the best candidates were:"]
    for n, (result, row) in enumerate(explained, 1):
        lines.append(f"  {n}. score {result.score:.3f}: {result.quote[:80]!r} ({result.source})")
        for name, value, share in sorted(row, key=lambda item: -abs(item[2])):
            if value:
                lines.append(f"       {name:<13} {value:7.3f}  {share:+.3f}")
    return "\n".join(lines) + "\n"


def cmd_quote(args: argparse.Namespace, settings: Settings) -> int:
    service = _answering(args, settings)
    try:
        quote = service.quote(args.topic)
    except NoQuoteError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    print(json.dumps(quote.to_json(), ensure_ascii=False) if args.json else format_quote(quote))
    return 0


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    if not settings.discord_token and args.discord:  # a service: never fall back to the chat (stdin is empty)
        raise UsageError("DISCORD_TOKEN is not set, and --discord never starts the terminal chat (see .env.example)")
    if not settings.discord_token:
        _notify("No DISCORD_TOKEN is set, so this is the terminal chat. Set it in .env to run the Discord bot.")
        return cmd_chat(args, settings)
    return _discord(args, settings, sync_only=False)


def cmd_sync(args: argparse.Namespace, settings: Settings) -> int:
    if not settings.discord_token:
        raise UsageError("DISCORD_TOKEN is not set (see .env.example)")
    return _discord(args, settings, sync_only=True)


def _discord(args: argparse.Namespace, settings: Settings, sync_only: bool) -> int:
    """Start the Discord layer; only this path imports discord."""
    import discord

    from bot.discord_app.client import sync_commands_only
    from bot.sources import SourcesSetup
    from bot.store import Store, StoreError

    for handler in list(logging.root.handlers):  # the bot's log format replaces the CLI's
        logging.root.removeHandler(handler)
    level = getattr(logging, settings.log_level or "INFO")
    if sys.stderr.isatty():  # a person at a terminal: discord.py's coloured lines
        discord.utils.setup_logging(level=level, root=True)
    else:  # journald, a pipe or a file: plain lines with the date (discord.py colours them in any Docker container)
        plain = logging.StreamHandler(sys.stderr)
        plain.setFormatter(logging.Formatter(PLAIN_LOG_FORMAT))
        logging.root.addHandler(plain)
        logging.root.setLevel(level)
    logging.getLogger("faiss").setLevel(logging.WARNING)  # its loader narrates which CPU build it picked
    corpus_dir, index_dir = _paths(args, settings)
    try:
        store = Store(settings.database)
    except StoreError as exc:
        raise UsageError(str(exc)) from exc
    recover_corpus(settings, corpus_dir, index_dir)  # before the index is loaded, so it sees the repaired corpus
    sources = SourcesSetup.from_settings(settings)  # a bad sources.toml is refused here, with its line
    topics = load_topics(settings.scopes_file)  # a bad scopes.toml is refused here too, with its line
    embedder = Embedder.from_setting(settings.embedding_model)
    lessons = LessonBook(settings.database)  # the service owns it: every answer, Discord's and the CLI's, applies it
    service = AnswerService(
        corpus_dir,
        index_dir,
        embedder,
        encoder_dir=settings.encoder_dir,
        sources=sources,
        lessons=lessons,
        encoder_precision=settings.encoder_precision,
        topics=topics,
    )
    try:
        if sync_only:
            return asyncio.run(sync_commands_only(settings, service, store))
        _notify("Starting the Discord bot (DISCORD_TOKEN is set); stop it with Ctrl-C.")
        with _ProgressBar() as bar:
            service.load(notify=_notify, progress=bar)
        asyncio.run(_serve(settings, service, store))
    except discord.LoginFailure:
        raise UsageError("Discord refused the token: check DISCORD_TOKEN (Developer Portal, Bot page)") from None
    except discord.PrivilegedIntentsRequired:
        raise UsageError(
            "Discord refused the Message Content intent that AUTO_ANSWER_CHANNEL_IDS needs: enable it in the "
            "Developer Portal (Bot → Privileged Gateway Intents) or clear AUTO_ANSWER_CHANNEL_IDS"
        ) from None
    except OSError as exc:  # not a setting to fix: the network may be back in a minute, so a service restarts
        print(f"error: cannot reach Discord at {settings.api_base}: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE
    return 0


async def _serve(settings: Settings, service: AnswerService, store: Store) -> None:
    """The Discord bot, and beside it the daily removal of old questions' user IDs (QUESTION_RETENTION_DAYS)."""
    from bot.discord_app.client import start
    from bot.retention import forget_daily

    days = settings.question_retention_days
    forgetting = asyncio.create_task(forget_daily(store, days), name="question-retention") if days else None
    try:
        await start(settings, service, store)
    finally:
        if forgetting is not None:
            forgetting.cancel()


def cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    return chat(_answering(args, settings), sys.stdin, sys.stdout)


HELP = (
    "Ask a question about the community in your own words.\n"
    "  /quote [topic]  a random quote, optionally about a topic\n"
    "  /help           this help\n"
    "  /quit           leave (or Ctrl-D)"
)


def chat(service: AnswerService, stdin: TextIO, stdout: TextIO) -> int:
    """A terminal conversation: prompts when a person is typing, plain answers when input is piped. Answers and
    quotes come from the same service, lessons included, as in Discord."""
    interactive = stdin.isatty()
    sources = ", ".join(source.title for source in service.sources()[:3])
    if interactive:
        stdout.write(f"Ask me about: {sources}.\nType /help for commands.\n")
    while True:
        if interactive:
            stdout.write("\nyou> ")
            stdout.flush()
        line = stdin.readline()
        if not line:
            break
        text = line.strip()
        if not text:
            continue
        if text in ("/quit", "/exit"):
            break
        if text == "/help":
            reply = HELP
        elif text == "/quote" or text.startswith("/quote "):
            try:
                reply = format_quote(service.quote(text[len("/quote") :].strip() or None))
            except NoQuoteError as exc:
                reply = str(exc)
        else:
            try:
                reply = format_answer(service.ask(text), service.sources())
            except QuestionError as exc:
                reply = str(exc)
        stdout.write(reply + "\n")
        stdout.flush()
    return 0


# --- formatting for people ----------------------------------------------------------------------------------------


def attribution(speaker: str | None, asked: str | None, source: str, section: str | None) -> str:
    """ "Jaice Singer DuMars, answering “How did you…?” — Title" or "Title › Section"."""
    if speaker and asked:
        if len(asked) > 120:
            asked = asked[:117].rsplit(" ", 1)[0] + "…"
        return f"{speaker}, answering “{asked}” — {source}"
    if speaker:
        return f"{speaker} — {source}"
    return f"{source} › {section}" if section else source


def format_answer(answer: Answer, sources: Sequence[Source]) -> str:
    if not answer.answered:
        titles = "; ".join(source.title for source in sources[:5])
        text = (
            f"I couldn't find an answer to that in the documents I know, so I won't guess.\nI can quote from: {titles}."
        )
        if answer.pointer:  # a topic the moderators leave to others (scopes.toml): where to ask comes first
            text = f"{scope_line(answer.topic or '')}\n{answer.pointer}"
        if answer.suggestions:
            text += "\nQuestions I can answer, for example:\n" + "\n".join(f"  • {s}" for s in answer.suggestions)
        return text
    lines = []
    for i, r in enumerate(answer.results):
        prefix = "" if i == 0 else f"{i + 1}. "
        if i == 1:
            lines.append("Also relevant:")
        lines.append(prefix + in_quotation_marks(code_markup(r.quote, r.code)))
        lines.append(f"   — {attribution(r.speaker, r.asked, r.source, r.section)}")
        if r.url:
            lines.append(f"     {r.url}")
        lines.append("")
    return "\n".join(lines)


def format_quote(quote: Quote) -> str:
    return f"{in_quotation_marks(quote.text)}\n   — {attribution(quote.speaker, None, quote.source, quote.section)}"
