"""The commands for running the bot as a service: `backup DIR`, `restore DIR` and `forget` (QUESTION_RETENTION_DAYS)."""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.backup import BackupError, Places, backup, read_backup, restore
from bot.cli.common import UsageError, _with_paths
from bot.config import Settings
from bot.retention import forget_identities
from bot.store import Store, StoreError


def _ops_parser(commands: argparse._SubParsersAction) -> None:
    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        return _with_paths(commands.add_parser(name, help=help_text, description=help_text))

    save = add("backup", "Back up the database (lessons included), the documents and their archive into a new DIR.")
    save.add_argument("dir", type=Path, metavar="DIR", help="a folder that does not exist yet (or is empty)")
    save.set_defaults(func=cmd_backup)

    load = add("restore", "Put a backup back (stop the bot first); the index is rebuilt on the next start.")
    load.add_argument("dir", type=Path, metavar="DIR", help="a folder written by `backup`")
    load.add_argument(
        "--force", action="store_true", help="replace an existing database and documents (moved aside, not deleted)"
    )
    load.set_defaults(func=cmd_restore)

    forget = add("forget", "Remove user and channel IDs from questions older than QUESTION_RETENTION_DAYS.")
    forget.add_argument("--days", type=float, metavar="N", help="this many days instead of QUESTION_RETENTION_DAYS")
    forget.set_defaults(func=cmd_forget)


def _places(args: argparse.Namespace, settings: Settings) -> Places:
    # not common._paths: restoring into a new DATA_DIR must not find the shipped documents copied there first
    return Places(
        database=settings.database,
        corpus_dir=args.corpus or settings.corpus_dir,
        archive_dir=settings.archive_dir,
        index_dir=args.index or settings.index_dir,
    )


def cmd_backup(args: argparse.Namespace, settings: Settings) -> int:
    try:
        manifest = backup(_places(args, settings), args.dir)
    except BackupError as exc:
        raise UsageError(str(exc)) from None
    rows = ", ".join(f"{count} {table.replace('_', ' ')}" for table, count in manifest["rows"].items())
    print(f"Backed up to {args.dir}: {len(manifest['files'])} files; database rows: {rows or 'none'}.")
    return 0


def cmd_restore(args: argparse.Namespace, settings: Settings) -> int:
    places = _places(args, settings)
    try:
        manifest = read_backup(args.dir)
        moved = restore(places, args.dir, force=args.force)
    except BackupError as exc:
        raise UsageError(str(exc)) from None
    print(
        f"Restored the backup of {manifest['created_at']} to {places.database}, {places.corpus_dir} and "
        f"{places.archive_dir}."
    )
    for path in moved:
        print(f"  kept what was there as {path}")
    print("Start the bot again; it rebuilds the index from the restored documents when they differ.")
    return 0


def cmd_forget(args: argparse.Namespace, settings: Settings) -> int:
    days = args.days if args.days is not None else settings.question_retention_days
    if days is None:
        raise UsageError("QUESTION_RETENTION_DAYS is not set; set it (in .env) or pass --days N")
    if not 1 <= days <= 36500:
        raise UsageError(f"--days must be between 1 and 36500, not {days:g}")
    if not settings.database.exists():
        print(f"No database at {settings.database}: nothing to forget.")
        return 0
    try:
        store = Store(settings.database)
    except StoreError as exc:
        raise UsageError(str(exc)) from None
    try:
        forgotten = forget_identities(store, days)
    finally:
        store.close()
    print(f"Questions older than {days:g} days: {forgotten}.")
    return 0
