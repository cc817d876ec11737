"""The per-user cooldowns of the Discord layer (bot/discord_app/common.py), without Discord."""

import time

from bot.discord_app.common import Cooldowns


def test_each_user_has_their_own_allowance_and_one_notice_per_window():
    cooldowns = Cooldowns(2, 60)
    assert cooldowns.retry_after(1) == 0 and cooldowns.retry_after(1) == 0
    assert 59 < cooldowns.retry_after(1) <= 60
    assert cooldowns.retry_after(2) == 0  # another user is not held back
    assert cooldowns.should_notify(1) and not cooldowns.should_notify(1)
    unlimited = Cooldowns(1, 0)  # COOLDOWN_SECONDS=0: no limit
    assert unlimited.retry_after(1) == unlimited.retry_after(1) == 0


def test_users_whose_window_passed_are_forgotten_and_the_others_kept():
    cooldowns = Cooldowns(1, 0.2)
    cooldowns.FORGET_AFTER = 3
    for user in range(3):
        cooldowns.retry_after(user)
        cooldowns.should_notify(user)
    time.sleep(0.3)  # their windows pass
    cooldowns.retry_after(10)
    cooldowns.should_notify(10)
    cooldowns.retry_after(11)  # more than FORGET_AFTER users: the passed ones go, user 10 (still waiting) stays
    assert set(cooldowns._buckets) == {10, 11}
    assert set(cooldowns._noticed) == {10}
    assert cooldowns.retry_after(10) > 0
