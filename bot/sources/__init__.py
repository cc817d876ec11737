"""Git repositories as sources of documents: `sources.toml` (config), fetching and checking out (git), and syncing
them into the index (sync)."""

from bot.sources.config import SourcesError, SourceSpec, load_sources, redact
from bot.sources.git import Limits, SyncError
from bot.sources.sync import (
    SourceResult,
    SourcesSetup,
    SyncReport,
    describe_sync,
    live_roots,
    read_state,
    sync_sources,
)

__all__ = [
    "Limits",
    "SourceResult",
    "SourceSpec",
    "SourcesError",
    "SourcesSetup",
    "SyncError",
    "SyncReport",
    "describe_sync",
    "live_roots",
    "load_sources",
    "read_state",
    "redact",
    "sync_sources",
]
