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
