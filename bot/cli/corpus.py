"""`python -m bot corpus ...`: the subcommands that manage the documents (add, remove, restore, versions, list, show,
history) and their parser, and the recovery of a corpus change a kill interrupted, which runs before an index loads."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import time
from pathlib import Path

from bot.cli.common import UsageError, _notify, _paths, _ProgressBar, _with_paths
from bot.config import Settings
from bot.corpus import MAX_UPLOAD_BYTES, CorpusManager, Preview, check_size, plural
from bot.embedding import Embedder
from bot.encoder import query_embedder
from bot.index import BuildReport, build_index


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
        encoder = query_embedder(
            settings.encoder_dir, Embedder.from_setting(settings.embedding_model), settings.encoder_precision
        )
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
