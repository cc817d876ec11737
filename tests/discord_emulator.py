"""The emulator's old address, kept for bot/bench.py (`make bench`), which imports it from here.

The emulator is the package tests/emulator/; tests import it from there. Once bot/bench.py imports
``tests.emulator``, this file can go.
"""

from tests.emulator import (
    DiscordAPIError,
    DiscordEmulator,
    Interaction,
    UserFile,
    point_discord_py_at,
    running_client,
)

__all__ = [
    "DiscordAPIError",
    "DiscordEmulator",
    "Interaction",
    "UserFile",
    "point_discord_py_at",
    "running_client",
]
