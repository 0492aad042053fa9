"""An interaction without a server (a DM, a user-installed app) gets a clear answer, also under
`python -O`, instead of an error id: the server-only checks are explicit, not asserts."""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace
from typing import Any

import pytest
from discord import app_commands

from cogs.core.access import guild_and_channel, guild_id_of
from cogs.core.tree import describe_app_command_error


def interaction(guild_id: int | None, channel_id: int | None) -> Any:
    return SimpleNamespace(guild_id=guild_id, channel_id=channel_id)


def test_a_server_channel_gives_its_ids() -> None:
    assert guild_id_of(interaction(5, None)) == 5
    assert guild_and_channel(interaction(5, 7)) == (5, 7)


@pytest.mark.parametrize(("guild_id", "channel_id"), [(None, 7), (5, None), (None, None)])
def test_no_server_is_answered_in_the_member_s_language(
    guild_id: int | None,
    channel_id: int | None,
) -> None:
    with pytest.raises(app_commands.NoPrivateMessage) as refused:
        guild_and_channel(interaction(guild_id, channel_id))
    message = describe_app_command_error(refused.value)
    assert message is not None
    assert message.render("en-US") == (
        "This command works in a server channel, not in direct messages."
    )
    assert message.render("pt-BR") != message.render("en-US")


def test_the_check_holds_under_python_dash_o() -> None:
    code = (
        "from types import SimpleNamespace as S\n"
        "from discord import app_commands\n"
        "from cogs.core.access import guild_id_of\n"
        "try:\n    guild_id_of(S(guild_id=None))\n"
        "except app_commands.NoPrivateMessage:\n    print('refused')\n"
    )
    done = subprocess.run(
        [sys.executable, "-O", "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.stdout.strip() == "refused", done.stderr
