"""Settings, read from the environment (and a `.env` file loaded by the CLI)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class ConfigError(ValueError):
    """A setting has a value the bot cannot use; the message says which and why."""


@dataclass(frozen=True)
class Settings:
    corpus_dir: Path
    index_dir: Path
    embedding_model: str | None
    discord_token: str | None
    log_level: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env

        def path(name: str, default: Path) -> Path:
            value = env.get(name, "").strip()
            return Path(value).expanduser() if value else default

        level = env.get("LOG_LEVEL", "").strip().upper() or "WARNING"
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ConfigError(f"LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, not {level!r}")
        return cls(
            corpus_dir=path("CORPUS_DIR", PROJECT_ROOT / "corpus"),
            index_dir=path("INDEX_DIR", PROJECT_ROOT / "embeddings"),
            embedding_model=env.get("EMBEDDING_MODEL", "").strip() or None,
            discord_token=env.get("DISCORD_TOKEN", "").strip() or None,
            log_level=level,
        )
