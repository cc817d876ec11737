"""Settings, read from the environment (and a `.env` file loaded by the CLI)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DISCORD_API_BASE = "https://discord.com/api/v10"
DISCORD_GATEWAY_URL = "wss://gateway.discord.gg/"
ENCODER_PRECISIONS = ("fp32", "int8")  # bot/encoder.py: the float ONNX export, or its 8-bit quantised version


class ConfigError(ValueError):
    """A setting has a value the bot cannot use; the message says which and why."""


@dataclass(frozen=True)
class Settings:
    corpus_dir: Path
    index_dir: Path
    embedding_model: str | None
    discord_token: str | None
    log_level: str | None  # None: the command's default (WARNING for the CLI, INFO for the Discord bot)
    database: Path = PROJECT_ROOT / "data" / "bot.sqlite3"
    archive_dir: Path = PROJECT_ROOT / "data" / "corpus-archive"
    encoder_dir: Path = PROJECT_ROOT / "embeddings" / "encoder"
    encoder_precision: str = "fp32"  # what builds and serving embed with (ENCODER_PRECISIONS)
    guild_id: int | None = None
    moderator_role_ids: frozenset[int] = frozenset()
    auto_answer_channel_ids: frozenset[int] = frozenset()
    auto_answer_confidence: float = 0.65
    cooldown_questions: int = 3
    cooldown_seconds: float = 30.0
    api_base: str = DISCORD_API_BASE
    gateway_url: str = DISCORD_GATEWAY_URL
    shard_count: int | None = None  # None: one connection, no sharding
    shard_ids: tuple[int, ...] | None = None  # the shards this process runs; None: all of shard_count
    index_check_seconds: float = 5.0  # how often a serving process looks for a build another process swapped in
    moderator_guild_ids: frozenset[int] = frozenset()  # servers where moderator rules apply; empty: DISCORD_GUILD_ID
    allowed_guild_ids: frozenset[int] = frozenset()  # servers the bot stays in; empty: any server that adds it
    data_dir: Path | None = None  # DATA_DIR: where the defaults of the paths above live instead of the checkout
    question_retention_days: float | None = None  # questions older than this lose who asked and where; None: never
    sources_file: Path = PROJECT_ROOT / "sources.toml"  # git repositories to quote besides the corpus (absent: none)
    sources_dir: Path = PROJECT_ROOT / "data" / "sources"  # their cache repositories and checkouts
    sources_refresh_minutes: float = 0.0  # a running bot syncs the sources this often (0: only on /reindex)
    sources_max_files: int = 20_000  # a source's commit with more files (or bytes) is not checked out
    sources_max_bytes: int = 200 * 1024 * 1024
    sources_git_timeout: float = 300.0  # seconds one git command may take
    scopes_file: Path = PROJECT_ROOT / "scopes.toml"  # topics the bot declines, with where to ask (absent: none)

    @property
    def moderation_guild_ids(self) -> frozenset[int]:
        """The community's own servers, where Manage Server or a moderator role makes someone our moderator:
        MODERATOR_GUILD_IDS, else DISCORD_GUILD_ID, else none (moderation from Discord is off)."""
        if self.moderator_guild_ids:
            return self.moderator_guild_ids
        return frozenset({self.guild_id}) if self.guild_id is not None else frozenset()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env

        def text(name: str) -> str:
            return env.get(name, "").strip()

        def path(name: str, default: Path) -> Path:
            value = text(name)
            return Path(value).expanduser() if value else default

        def ids(name: str) -> frozenset[int]:
            items = [part for part in text(name).replace(",", " ").split() if part]
            bad = [part for part in items if not part.isdigit()]
            if bad:
                raise ConfigError(f"{name} must be Discord IDs (numbers) separated by commas, not {bad[0]!r}")
            return frozenset(int(part) for part in items)

        def number(name: str, default: float, low: float, high: float) -> float:
            value = text(name)
            if not value:
                return default
            try:
                result = float(value)
            except ValueError:
                raise ConfigError(f"{name} must be a number, not {value!r}") from None
            if not low <= result <= high:
                raise ConfigError(f"{name} must be between {low:g} and {high:g}, not {value}")
            return result

        def url(name: str, default: str, schemes: tuple[str, ...]) -> str:
            value = text(name) or default
            if not value.startswith(schemes):
                raise ConfigError(f"{name} must start with {' or '.join(schemes)}, not {value!r}")
            return value

        level = text("LOG_LEVEL").upper() or None
        if level is not None and level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ConfigError(f"LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, not {level!r}")
        guild = ids("DISCORD_GUILD_ID")
        if len(guild) > 1:
            raise ConfigError("DISCORD_GUILD_ID must be a single server ID")
        shard_count, shard_ids = _shards(text("SHARD_COUNT"), text("SHARD_IDS"))
        data = _data_dir(text("DATA_DIR"))
        defaults = data_layout(data) if data is not None else CHECKOUT_LAYOUT
        precision = text("ENCODER_PRECISION").lower() or cls.encoder_precision
        if precision not in ENCODER_PRECISIONS:
            raise ConfigError(f"ENCODER_PRECISION must be {' or '.join(ENCODER_PRECISIONS)}, not {precision!r}")
        retention = number("QUESTION_RETENTION_DAYS", 0.0, 1.0, 36500.0) if text("QUESTION_RETENTION_DAYS") else None
        return cls(
            corpus_dir=path("CORPUS_DIR", defaults["corpus_dir"]),
            index_dir=path("INDEX_DIR", defaults["index_dir"]),
            embedding_model=text("EMBEDDING_MODEL") or None,
            discord_token=text("DISCORD_TOKEN") or None,
            log_level=level,
            database=path("DATABASE_PATH", defaults["database"]),
            archive_dir=path("ARCHIVE_DIR", defaults["archive_dir"]),
            encoder_dir=path("ENCODER_DIR", defaults["encoder_dir"]),
            encoder_precision=precision,
            guild_id=next(iter(guild), None),
            moderator_role_ids=ids("MODERATOR_ROLE_IDS"),
            auto_answer_channel_ids=ids("AUTO_ANSWER_CHANNEL_IDS"),
            auto_answer_confidence=number("AUTO_ANSWER_CONFIDENCE", 0.65, 0.0, 2.0),
            cooldown_questions=int(number("COOLDOWN_QUESTIONS", 3, 1, 1000)),
            cooldown_seconds=number("COOLDOWN_SECONDS", 30.0, 0.0, 86400.0),
            api_base=url("DISCORD_API_BASE", DISCORD_API_BASE, ("http://", "https://")).rstrip("/"),
            gateway_url=url("DISCORD_GATEWAY_URL", DISCORD_GATEWAY_URL, ("ws://", "wss://")),
            shard_count=shard_count,
            shard_ids=shard_ids,
            index_check_seconds=number("INDEX_CHECK_SECONDS", 5.0, 0.0, 3600.0),
            moderator_guild_ids=ids("MODERATOR_GUILD_IDS"),
            allowed_guild_ids=ids("ALLOWED_GUILD_IDS"),
            data_dir=data,
            question_retention_days=retention,
            sources_file=path("SOURCES_FILE", PROJECT_ROOT / "sources.toml"),
            sources_dir=path("SOURCES_DIR", defaults["sources_dir"]),
            sources_refresh_minutes=number("SOURCES_REFRESH_MINUTES", 0.0, 0.0, 7 * 24 * 60.0),
            sources_max_files=int(number("SOURCES_MAX_FILES", 20_000, 1, 10_000_000)),
            sources_max_bytes=int(number("SOURCES_MAX_MB", 200, 0.001, 100_000) * 1024 * 1024),
            sources_git_timeout=number("SOURCES_GIT_TIMEOUT", 300.0, 1.0, 86400.0),
            scopes_file=path("SCOPES_FILE", PROJECT_ROOT / "scopes.toml"),
        )


# Where each path setting points when it is not set: in the source checkout (no DATA_DIR, as it always was), or under
# DATA_DIR, so a server keeps everything it writes outside the checkout (an upgrade replaces the checkout only).
CHECKOUT_LAYOUT: dict[str, Path] = {
    "corpus_dir": PROJECT_ROOT / "corpus",
    "index_dir": PROJECT_ROOT / "embeddings",
    "database": PROJECT_ROOT / "data" / "bot.sqlite3",
    "archive_dir": PROJECT_ROOT / "data" / "corpus-archive",
    "encoder_dir": PROJECT_ROOT / "embeddings" / "encoder",
    "sources_dir": PROJECT_ROOT / "data" / "sources",
}
SHIPPED_CORPUS = PROJECT_ROOT / "corpus"  # copied to DATA_DIR/corpus on first start, when that folder is absent


def data_layout(data_dir: Path) -> dict[str, Path]:
    """DATA_DIR/bot.sqlite3, corpus (the documents, moderators' uploads included), corpus-archive, index, encoder, and
    sources (the git sources' caches and checkouts)."""
    return {
        "corpus_dir": data_dir / "corpus",
        "index_dir": data_dir / "index",
        "database": data_dir / "bot.sqlite3",
        "archive_dir": data_dir / "corpus-archive",
        "encoder_dir": data_dir / "encoder",
        "sources_dir": data_dir / "sources",
    }


def _data_dir(value: str) -> Path | None:
    if not value:
        return None
    data = Path(value).expanduser()
    if not data.is_absolute():
        raise ConfigError(f"DATA_DIR must be an absolute path, not {value!r}")
    if data.exists() and not data.is_dir():
        raise ConfigError(f"DATA_DIR {data} exists but is not a directory")
    return data


def _shards(count_text: str, ids_text: str) -> tuple[int | None, tuple[int, ...] | None]:
    """SHARD_COUNT and SHARD_IDS: how many shards the bot has in all, and which of them this process runs."""
    if not count_text:
        if ids_text:
            raise ConfigError("SHARD_IDS needs SHARD_COUNT (the number of shards in all)")
        return None, None
    if not count_text.isdigit() or int(count_text) < 1:
        raise ConfigError(f"SHARD_COUNT must be a whole number of at least 1, not {count_text!r}")
    count = int(count_text)
    items = [part for part in ids_text.replace(",", " ").split() if part]
    if not items:
        return count, None
    bad = next((part for part in items if not part.isdigit()), None)
    if bad is not None:
        raise ConfigError(f"SHARD_IDS must be shard numbers separated by commas, not {bad!r}")
    shard_ids = tuple(sorted({int(part) for part in items}))
    outside = [shard for shard in shard_ids if shard >= count]
    if outside:
        raise ConfigError(f"SHARD_IDS must be below SHARD_COUNT ({count}): shard {outside[0]} does not exist")
    return count, shard_ids
