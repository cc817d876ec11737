"""`python -m bot sources sync | list`: the git repositories of sources.toml, fetched into the index or listed."""

from __future__ import annotations

import argparse
import json
from typing import Any

from bot.cli.common import UsageError, _notify, _paths, _ProgressBar, _with_paths
from bot.config import Settings
from bot.embedding import Embedder
from bot.encoder import query_embedder
from bot.index import current_build, read_manifest
from bot.index.store import IndexError_
from bot.sources import SourcesSetup, describe_sync, read_state, sync_sources


def _sources_parser(commands: argparse._SubParsersAction) -> None:
    help_text = "Sync the git repositories listed in sources.toml into the index, or list them."
    sources = commands.add_parser("sources", help=help_text, description=help_text)
    actions = sources.add_subparsers(dest="sources_command", required=True, metavar="ACTION")
    sync_help = "Fetch every source and update the index (only documents whose bytes changed are embedded)."
    sync = _with_paths(actions.add_parser("sync", help=sync_help, description=sync_help))
    sync.set_defaults(func=cmd_sources_sync)
    list_help = "Each source with its commit, when it was last synced and its number of documents."
    listing = _with_paths(actions.add_parser("list", help=list_help, description=list_help))
    listing.add_argument("--json", action="store_true", help="one JSON array")
    listing.set_defaults(func=cmd_sources_list)


def cmd_sources_sync(args: argparse.Namespace, settings: Settings) -> int:
    setup = SourcesSetup.from_settings(settings)
    if not setup.specs and not settings.sources_file.exists():
        _notify(f"There is no sources file ({settings.sources_file}); only the corpus directory is indexed.")
    corpus_dir, index_dir = _paths(args, settings)
    encoder = query_embedder(
        settings.encoder_dir, Embedder.from_setting(settings.embedding_model), settings.encoder_precision
    )
    with _ProgressBar() as bar:
        report = sync_sources(setup, corpus_dir, index_dir, encoder, progress=bar, notify=_notify)
    print(describe_sync(report))
    if report.errors:
        raise UsageError(f"{len(report.errors)} of {len(setup.specs)} sources could not be synced (see above)")
    return 0


def source_rows(settings: Settings, index_dir: Any) -> list[dict[str, Any]]:
    """Each source of sources.toml (and each the index still holds that the file no longer lists)."""
    setup = SourcesSetup.from_settings(settings)
    state = read_state(setup.directory)
    try:
        build = current_build(index_dir)
        manifest = read_manifest(build) if build else {}
    except IndexError_:
        manifest = {}
    served = {item["name"]: item for item in manifest.get("sources", [])}
    indexed: dict[str, str] = manifest.get("indexed", {})
    rows = []
    for spec in setup.specs:
        entry = state.get(spec.name, {})
        rows.append(
            {
                "name": spec.name,
                "git": spec.shown_url,
                "branch": spec.branch,
                "commit": served.get(spec.name, {}).get("commit"),
                "synced_at": entry.get("synced_at"),
                "documents": sum(1 for n in indexed if n.startswith(f"{spec.name}/")),
                "link": spec.link,
                "error": entry.get("error"),
            }
        )
    for name, item in served.items():
        if name not in {spec.name for spec in setup.specs}:
            rows.append(
                {
                    "name": name,
                    "git": None,
                    "branch": None,
                    "commit": item.get("commit"),
                    "synced_at": state.get(name, {}).get("synced_at"),
                    "documents": sum(1 for n in indexed if n.startswith(f"{name}/")),
                    "link": item.get("link"),
                    "error": "no longer in the sources file: its documents leave the index at the next sync",
                }
            )
    return rows


def cmd_sources_list(args: argparse.Namespace, settings: Settings) -> int:
    _, index_dir = _paths(args, settings)
    rows = source_rows(settings, index_dir)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
        return 0
    if not rows:
        print(f"No sources: {settings.sources_file} lists none, so only the corpus directory is indexed.")
        return 0
    for row in rows:
        commit = (row["commit"] or "")[:12] or "not synced yet"
        synced = row["synced_at"] or "never"
        print(f"{row['name']}: {row['git'] or '(removed)'}{' @ ' + row['branch'] if row['branch'] else ''}")
        print(f"  commit {commit}, last synced {synced}, {row['documents']} documents")
        if row["error"]:
            print(f"  last problem: {row['error']}")
    return 0
