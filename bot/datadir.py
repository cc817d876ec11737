"""DATA_DIR: the first start copies the shipped documents there, so moderators' uploads never write into the checkout.

The layout (bot/config.py, `data_layout`): DATA_DIR/bot.sqlite3, corpus/, corpus-archive/, index/ and encoder/. Only
the folder of documents needs seeding; the database, archive, index and encoder cache are created where first used.
"""

from __future__ import annotations

import logging
import shutil
import uuid

from bot.config import SHIPPED_CORPUS, ConfigError, Settings, data_layout

log = logging.getLogger(__name__)


def seed_corpus(settings: Settings) -> bool:
    """Copy the shipped corpus/ folder to DATA_DIR/corpus when DATA_DIR is set, CORPUS_DIR is not, and that folder
    does not exist yet; True when it did. Atomic: a copy interrupted half-way leaves no corpus folder behind."""
    if settings.data_dir is None:
        return False
    target = data_layout(settings.data_dir)["corpus_dir"]
    if settings.corpus_dir != target or target.exists():
        return False
    staging = target.with_name(f".corpus-seed-{uuid.uuid4().hex[:8]}")
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        shutil.copytree(SHIPPED_CORPUS, staging)
        staging.rename(target)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise ConfigError(f"cannot set up DATA_DIR {settings.data_dir}: {exc.strerror or exc}") from None
    log.warning("copied the shipped documents (%s) to %s; the bot's documents live there now", SHIPPED_CORPUS, target)
    return True
