"""Command line: `python -m bot index | ask | quote | chat | run | corpus ...`."""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TextIO

from bot.config import PROJECT_ROOT, ConfigError, Settings
from bot.corpus import MAX_UPLOAD_BYTES, CorpusChangeError, CorpusManager, Preview, check_size, plural
from bot.documents import IGNORE_FILE, CorpusError, authority_label
from bot.embedding import Embedder, ModelError, TextEncoder
from bot.encoder import query_embedder
from bot.index import BuildReport, IndexError_, PassageIndex, build_index, ensure_index
from bot.quotes import NoQuoteError, Quote, QuoteDrawer
from bot.retrieval import Answer, QuestionError, Retriever, check_question
from bot.text import code_markup, in_quotation_marks

log = logging.getLogger("bot")


class UsageError(Exception):
    """A problem the user can fix; printed as one line, exit status 2."""


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
    except (UsageError, ConfigError, CorpusError, IndexError_, ModelError, CorpusChangeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("", file=sys.stderr)
        return 130


def _with_paths(sub: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The --corpus and --index options every command takes."""
    sub.add_argument("--corpus", type=Path, metavar="DIR", help="corpus directory (default: CORPUS_DIR or corpus/)")
    sub.add_argument("--index", type=Path, metavar="DIR", help="index directory (default: INDEX_DIR or embeddings/)")
    return sub


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
    add("run", "Start the Discord bot (the terminal chat while no DISCORD_TOKEN is set).").set_defaults(func=cmd_run)
    add("sync", "Register the slash commands with Discord now (the bot also does it when they change).").set_defaults(
        func=cmd_sync
    )
    _corpus_parser(commands)
    return parser


def _corpus_parser(commands: argparse._SubParsersAction) -> None:
    help_text = "Manage the documents: add, remove, restore, list, show, history (every old version is kept)."
    corpus = commands.add_parser("corpus", help=help_text, description=help_text)
    actions = corpus.add_subparsers(dest="corpus_command", required=True, metavar="ACTION")

    def action(name: str, text: str) -> argparse.ArgumentParser:
        sub = actions.add_parser(name, help=text, description=text)
        return _with_paths(sub)

    add = action("add", "Add a document (.md, .txt, or .html converted to Markdown): preview, confirm, reindex.")
    add.add_argument("file", type=Path, metavar="FILE")
    add.add_argument("--name", metavar="NAME", help="store it under this file name (default: FILE's name)")
    add.add_argument("--replace", action="store_true", help="replace a document of that name (the old text is kept)")
    add.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    add.set_defaults(func=cmd_corpus_add)

    remove = action("remove", "Remove a document (its text is kept and can be restored).")
    remove.add_argument("name", metavar="NAME")
    remove.set_defaults(func=cmd_corpus_remove)

    restore = action("restore", "Put an archived version back (see `corpus versions`).")
    restore.add_argument("version", type=int, metavar="VERSION")
    restore.set_defaults(func=cmd_corpus_restore)

    versions = action("versions", "List the archived versions that can be restored, newest first.")
    versions.add_argument("name", nargs="?", metavar="NAME")
    versions.set_defaults(func=cmd_corpus_versions)

    action("list", "List the documents with their titles and passage counts.").set_defaults(func=cmd_corpus_list)

    show = action("show", "Show a document's details and first passages.")
    show.add_argument("name", metavar="NAME")
    show.set_defaults(func=cmd_corpus_show)

    history = action("history", "Show who changed the corpus, what and when, newest first.")
    history.add_argument("--limit", type=int, default=20, metavar="N", help="entries to show (default 20)")
    history.add_argument("--name", metavar="NAME", help="only changes to this document")
    history.set_defaults(func=cmd_corpus_history)


# --- shared set-up ------------------------------------------------------------------------------------------------


def _paths(args: argparse.Namespace, settings: Settings) -> tuple[Path, Path]:
    return (args.corpus or settings.corpus_dir), (args.index or settings.index_dir)


class _ProgressBar:
    """A tqdm bar on stderr for index builds; use it as a context manager so the bar is always closed."""

    def __init__(self, desc: str = "Embedding passages", unit: str = "text") -> None:
        self.bar = None
        self.desc, self.unit = desc, unit

    def __enter__(self) -> _ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=self.desc, unit=self.unit, file=sys.stderr, leave=False)
        self.bar.update(done - self.bar.n)


def _notify(message: str) -> None:
    print(message, file=sys.stderr)


def _load(args: argparse.Namespace, settings: Settings) -> tuple[PassageIndex, TextEncoder]:
    """The index (built first when missing or stale) and what to embed questions with (the ONNX export)."""
    corpus_dir, index_dir = _paths(args, settings)
    if settings.database.exists():  # no database: no corpus change can have been interrupted
        try:
            recover_corpus(settings, corpus_dir, index_dir)
        except CorpusChangeError as exc:
            _notify(f"warning: could not check for interrupted corpus changes: {exc}")
    encoder = query_embedder(settings.encoder_dir, Embedder.from_setting(settings.embedding_model))
    with _ProgressBar() as bar:
        index = ensure_index(corpus_dir, index_dir, encoder, notify=_notify, progress=bar)
    return index, encoder


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
    encoder = query_embedder(settings.encoder_dir, Embedder.from_setting(settings.embedding_model))
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
    index, embedder = _load(args, settings)
    retriever = Retriever(index, embedder)
    for question in questions:
        try:
            answer = retriever.answer(question, k=args.k)
        except QuestionError as exc:
            print(f"skipped question: {exc}", file=sys.stderr)
            answer = Answer(question.strip(), False)
            if not args.json:
                print(f"{exc}\n")
                continue
        if args.json:
            print(json.dumps(answer.to_json(), ensure_ascii=False), flush=True)
        else:
            print(format_answer(answer, index), flush=True)
    return 0


def cmd_quote(args: argparse.Namespace, settings: Settings) -> int:
    index, embedder = _load(args, settings)
    try:
        quote = QuoteDrawer(index, embedder).draw(args.topic)
    except NoQuoteError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    print(json.dumps(quote.to_json(), ensure_ascii=False) if args.json else format_quote(quote))
    return 0


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
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
    import asyncio

    import discord

    from bot.discord_app.client import start, sync_commands_only
    from bot.service import AnswerService
    from bot.store import Store, StoreError

    for handler in list(logging.root.handlers):  # discord.py's log format replaces the CLI's
        logging.root.removeHandler(handler)
    discord.utils.setup_logging(level=getattr(logging, settings.log_level or "INFO"), root=True)
    logging.getLogger("faiss").setLevel(logging.WARNING)  # its loader narrates which CPU build it picked
    corpus_dir, index_dir = _paths(args, settings)
    try:
        store = Store(settings.database)
    except StoreError as exc:
        raise UsageError(str(exc)) from exc
    recover_corpus(settings, corpus_dir, index_dir)  # before the index is loaded, so it sees the repaired corpus
    embedder = Embedder.from_setting(settings.embedding_model)
    service = AnswerService(corpus_dir, index_dir, embedder, encoder_dir=settings.encoder_dir)
    try:
        if sync_only:
            return asyncio.run(sync_commands_only(settings, service, store))
        _notify("Starting the Discord bot (DISCORD_TOKEN is set); stop it with Ctrl-C.")
        with _ProgressBar() as bar:
            service.load(notify=_notify, progress=bar)
        asyncio.run(start(settings, service, store))
    except discord.LoginFailure:
        raise UsageError("Discord refused the token: check DISCORD_TOKEN (Developer Portal, Bot page)") from None
    except discord.PrivilegedIntentsRequired:
        raise UsageError(
            "Discord refused the Message Content intent that AUTO_ANSWER_CHANNEL_IDS needs: enable it in the "
            "Developer Portal (Bot → Privileged Gateway Intents) or clear AUTO_ANSWER_CHANNEL_IDS"
        ) from None
    except OSError as exc:
        raise UsageError(f"cannot reach Discord at {settings.api_base}: {exc}") from None
    return 0


def cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    index, embedder = _load(args, settings)
    return chat(Retriever(index, embedder), QuoteDrawer(index, embedder), sys.stdin, sys.stdout)


HELP = (
    "Ask a question about the community in your own words.\n"
    "  /quote [topic]  a random quote, optionally about a topic\n"
    "  /help           this help\n"
    "  /quit           leave (or Ctrl-D)"
)


def chat(retriever: Retriever, drawer: QuoteDrawer, stdin: TextIO, stdout: TextIO) -> int:
    """A terminal conversation: prompts when a person is typing, plain answers when input is piped."""
    interactive = stdin.isatty()
    sources = ", ".join(d["title"] for d in retriever.index.documents[:3])
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
                reply = format_quote(drawer.draw(text[len("/quote") :].strip() or None))
            except NoQuoteError as exc:
                reply = str(exc)
        else:
            try:
                reply = format_answer(retriever.answer(text), retriever.index)
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


def format_answer(answer: Answer, index: PassageIndex) -> str:
    if not answer.answered:
        titles = "; ".join(d["title"] for d in index.documents[:5])
        text = (
            f"I couldn't find an answer to that in the documents I know, so I won't guess.\nI can quote from: {titles}."
        )
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


# --- corpus management ----------------------------------------------------------------------------------------------


def recover_corpus(settings: Settings, corpus_dir: Path, index_dir: Path) -> list[str]:
    """Finish or roll back a corpus change interrupted by a kill (see bot.corpus.journal); says what it repaired. The
    index catches up where it is loaded (ensure_index sees the changed files)."""
    manager = CorpusManager.from_settings(settings, reindex=lambda: None, corpus_dir=corpus_dir, index_dir=index_dir)
    repairs = manager.recover()
    for line in repairs:
        _notify(line)
    return repairs


def _corpus_manager(args: argparse.Namespace, settings: Settings) -> CorpusManager:
    """The manager the corpus commands share; its reindex is the same build as `python -m bot index` and /reindex."""
    corpus_dir, index_dir = _paths(args, settings)

    def reindex() -> BuildReport:
        encoder = query_embedder(settings.encoder_dir, Embedder.from_setting(settings.embedding_model))
        with _ProgressBar() as bar:
            return build_index(corpus_dir, index_dir, encoder, progress=bar)

    recover_corpus(settings, corpus_dir, index_dir)
    return CorpusManager.from_settings(settings, reindex, corpus_dir=corpus_dir, index_dir=index_dir)


def cli_actor() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no login name (a container without a passwd entry)
        user = f"uid {os.getuid()}"
    return f"cli:{user}"


def _confirm(question: str, refusal: str) -> bool:
    """Ask on a terminal; without one, refuse with `refusal` (the flag that answers the question)."""
    if not sys.stdin.isatty():
        raise UsageError(refusal)
    try:
        answer = input(f"{question} [y/N] ")
    except EOFError:
        answer = ""
    return answer.strip().lower() in ("y", "yes")


def describe_preview(preview: Preview) -> str:
    sections = len(preview.sections)
    lines = [
        f"{preview.name}: “{preview.title}”",
        f"  {plural(sections, 'section')}, {plural(preview.paragraphs, 'paragraph')}, "
        f"{plural(preview.passages, 'passage')}, {preview.size:,} bytes",
    ]
    if preview.sections:
        shown = preview.sections[:8]
        more = f" … and {sections - len(shown)} more" if sections > len(shown) else ""
        lines.append("  sections: " + "; ".join(shown) + more)
    if preview.replaces:
        lines.append(f"  replaces the current {preview.name} (its text is kept and can be restored)")
    return "\n".join(lines)


def cmd_corpus_add(args: argparse.Namespace, settings: Settings) -> int:
    path: Path = args.file
    try:
        if not path.is_file():
            raise UsageError(f"{path} is not a file")
        check_size(path.stat().st_size)
        with path.open("rb") as fh:
            data = fh.read(MAX_UPLOAD_BYTES + 1)  # never more than the cap, even if the file grows meanwhile
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from exc
    filename = args.name if args.name is not None else path.name
    manager = _corpus_manager(args, settings)
    preview = manager.prepare(filename, data)
    print(describe_preview(preview), flush=True)
    replace = args.replace
    if preview.replaces and not replace:
        replace = _confirm(
            f"{preview.name} already exists. Replace it?",
            f"{preview.name} already exists; use --replace to replace it (its text is kept and can be restored)",
        )
        if not replace:
            print("Cancelled; nothing changed.")
            return 1
    elif not args.yes and not _confirm(
        "Replace it?" if preview.replaces else "Add it?", "nothing changed: confirm with --yes (no terminal to ask on)"
    ):
        print("Cancelled; nothing changed.")
        return 1
    change = manager.add(filename, data, actor=cli_actor(), replace=replace, expected=preview.digest)
    print(change.summary)
    return 0


def cmd_corpus_remove(args: argparse.Namespace, settings: Settings) -> int:
    change = _corpus_manager(args, settings).remove(args.name, actor=cli_actor())
    print(change.summary)
    print(f"Restore it with: python -m bot corpus restore {change.archived_version}")
    return 0


def cmd_corpus_restore(args: argparse.Namespace, settings: Settings) -> int:
    print(_corpus_manager(args, settings).restore(args.version, actor=cli_actor()).summary)
    return 0


def _when(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at))


def cmd_corpus_versions(args: argparse.Namespace, settings: Settings) -> int:
    versions = _corpus_manager(args, settings).versions(args.name)
    if not versions:
        print(f"No archived versions of {args.name}." if args.name else "No archived versions yet.")
        return 0
    for v in versions:
        print(f"{v.id:>5}  {v.name}  {v.reason} {_when(v.archived_at)} by {v.actor}  ({v.size:,} bytes)")
    return 0


def cmd_corpus_list(args: argparse.Namespace, settings: Settings) -> int:
    documents = _corpus_manager(args, settings).list()
    if not documents:
        print("The corpus holds no documents.")
    for doc in documents:
        indexed = f"indexed {doc.indexed_at}" if doc.indexed_at else "not indexed"
        print(f"{doc.name}  “{doc.title}”  {plural(doc.passages, 'passage')}, {doc.size:,} bytes, {indexed}")
    return 0


def cmd_corpus_show(args: argparse.Namespace, settings: Settings) -> int:
    doc = _corpus_manager(args, settings).show(args.name)
    print(f"{doc.name}: “{doc.title}”")
    indexed = f"indexed {doc.indexed_at}" if doc.indexed_at else "not indexed"
    print(f"  {plural(doc.passages, 'passage')}, {doc.size:,} bytes, {indexed}")
    if doc.url:
        print(f"  source: {doc.url}")
    if doc.sections:
        print("  sections: " + "; ".join(doc.sections))
    if not doc.passages:
        print("  nothing to quote (the index skips this file)")
    for text in doc.first_passages:
        print(f"  > {text if len(text) <= 300 else text[:297].rsplit(' ', 1)[0] + ' …'}")
    return 0


def cmd_corpus_history(args: argparse.Namespace, settings: Settings) -> int:
    if args.limit < 1:
        raise UsageError("--limit must be at least 1")
    entries = _corpus_manager(args, settings).history(limit=args.limit, name=args.name)
    if not entries:
        print("No corpus changes recorded yet.")
    for e in entries:
        version = f" (old text: version {e.version})" if e.version else ""
        print(f"{_when(e.at)}  {e.actor}  {e.action} {e.name}{version}  {e.detail}")
    return 0
