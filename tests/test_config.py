"""Settings read from the environment: the sharding settings and how often the index directory is checked."""

from __future__ import annotations

import pytest

from bot.config import ConfigError, Settings


def test_without_shard_settings_the_bot_is_not_sharded():
    settings = Settings.from_env({})
    assert (settings.shard_count, settings.shard_ids, settings.index_check_seconds) == (None, None, 5.0)


@pytest.mark.parametrize(
    ("count", "ids", "expected"),
    [
        ("2", "", (2, None)),  # every shard in this process
        ("4", "1,3", (4, (1, 3))),
        ("4", " 3, 1 ,1 ", (4, (1, 3))),
        ("1", "0", (1, (0,))),
    ],
)
def test_shard_settings(count: str, ids: str, expected: tuple):
    settings = Settings.from_env({"SHARD_COUNT": count, "SHARD_IDS": ids})
    assert (settings.shard_count, settings.shard_ids) == expected


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SHARD_COUNT": "0"}, "SHARD_COUNT must be a whole number of at least 1, not '0'"),
        ({"SHARD_COUNT": "two"}, "SHARD_COUNT must be a whole number of at least 1, not 'two'"),
        ({"SHARD_COUNT": "-1"}, "SHARD_COUNT must be a whole number of at least 1, not '-1'"),
        ({"SHARD_COUNT": "2", "SHARD_IDS": "0,x"}, "SHARD_IDS must be shard numbers separated by commas, not 'x'"),
        ({"SHARD_COUNT": "2", "SHARD_IDS": "1,2"}, "SHARD_IDS must be below SHARD_COUNT (2): shard 2 does not exist"),
        ({"SHARD_IDS": "0"}, "SHARD_IDS needs SHARD_COUNT (the number of shards in all)"),
        ({"INDEX_CHECK_SECONDS": "soon"}, "INDEX_CHECK_SECONDS must be a number, not 'soon'"),
    ],
)
def test_bad_shard_settings_are_named(env: dict[str, str], message: str):
    with pytest.raises(ConfigError) as raised:
        Settings.from_env(env)
    assert str(raised.value) == message


def test_moderation_is_at_home_only_and_off_without_a_home():
    assert Settings.from_env({}).moderation_guild_ids == frozenset()
    assert Settings.from_env({"DISCORD_GUILD_ID": "11"}).moderation_guild_ids == {11}
    both = Settings.from_env({"DISCORD_GUILD_ID": "11", "MODERATOR_GUILD_IDS": "12, 13"})
    assert both.moderation_guild_ids == {12, 13}
    assert Settings.from_env({"ALLOWED_GUILD_IDS": "5,6"}).allowed_guild_ids == {5, 6}
    with pytest.raises(ConfigError, match="MODERATOR_GUILD_IDS must be Discord IDs"):
        Settings.from_env({"MODERATOR_GUILD_IDS": "my-server"})


def test_the_encoder_precision_is_fp32_or_int8():
    assert Settings.from_env({}).encoder_precision == Settings.encoder_precision
    assert Settings.from_env({"ENCODER_PRECISION": "INT8"}).encoder_precision == "int8"
    assert Settings.from_env({"ENCODER_PRECISION": "fp32"}).encoder_precision == "fp32"
    with pytest.raises(ConfigError, match="ENCODER_PRECISION must be fp32 or int8, not 'fp16'"):
        Settings.from_env({"ENCODER_PRECISION": "fp16"})
