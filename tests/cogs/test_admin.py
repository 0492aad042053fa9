"""`/kling-admin settings` through the Discord stand-in: each control saves and re-renders."""

from __future__ import annotations

import discord

from bot.storage import GuildSettings
from tests.cogs.admin_harness import (
    CHANNEL_SELECT,
    ROLE_SELECT,
    BotFactory,
    clock,
    components_of,
    manager_role,
    pick,
    run_bot,
    text_of,
)
from tests.discord_twin import DiscordTwin, TwinMessage
from tests.discord_twin.model import TwinGuild

__all__ = ["clock", "run_bot"]

COMPONENTS_V2 = 1 << 15


def button(message: TwinMessage, custom_id: str) -> dict:
    return next(c for c in components_of(message, 2) if c.get("custom_id") == custom_id)


def select_defaults(message: TwinMessage, custom_id: str) -> list[str]:
    comp = next(c for c in components_of(message, 3) if c["custom_id"] == custom_id)
    return [o["value"] for o in comp["options"] if o.get("default")]


async def test_admin_changes_every_setting_from_one_panel(
    run_bot: BotFactory, discord_twin: DiscordTwin, twin_guild: TwinGuild
) -> None:
    editors = discord_twin.add_role(twin_guild, "Editors")
    mods = manager_role(discord_twin, twin_guild)
    lobby = discord_twin.add_channel(twin_guild, "lobby")
    memes = discord_twin.add_channel(twin_guild, "memes")
    admin = discord_twin.member(twin_guild, "ada", roles=[mods])
    guild_id = twin_guild.id

    async with run_bot() as bot:
        store = bot.store
        handle = await admin.slash("kling-admin settings")
        panel = await handle.response()
        assert panel.ephemeral and panel.visible_to == admin.id
        assert panel.flags & COMPONENTS_V2
        text = text_of(panel)
        assert "**Who may submit paid jobs:** everyone" in text
        assert "**Daily jobs per member:** 10 jobs" in text
        assert "**Jobs running at once on this server:** 3 jobs" in text
        assert "**Default mode:** std" in text
        assert "**Pro mode:** allowed" in text
        assert "**Confirm before submitting:** **on**" in text
        assert "**Sessions open in a new thread:** **off**" in text
        assert "**Channels where the bot is disabled:** none" in text
        assert select_defaults(panel, "kling-admin:daily") == ["10"]
        assert button(panel, "kling-admin:role:everyone")["disabled"] is True
        edits = panel.edit_count

        async def changed() -> TwinMessage:
            nonlocal edits
            message = await discord_twin.wait_until(
                lambda: panel if panel.edit_count > edits else None
            )
            edits = message.edit_count
            return message

        # Submit role: a role select, then back to everyone.
        await pick(admin, panel, "kling-admin:role", [editors])
        panel = await changed()
        assert (await store.get_settings(guild_id)).submit_role_id == editors.id
        assert f"**Who may submit paid jobs:** members with <@&{editors.id}>" in text_of(panel)
        role_select = next(c for c in components_of(panel, ROLE_SELECT))
        assert [(str(d["id"]), d["type"]) for d in role_select["default_values"]] == [
            (str(editors.id), "role")
        ]
        assert button(panel, "kling-admin:role:everyone")["disabled"] is False
        await admin.click(panel, "Allow everyone")
        panel = await changed()
        assert (await store.get_settings(guild_id)).submit_role_id is None
        assert "**Who may submit paid jobs:** everyone" in text_of(panel)

        # Limits: string selects.
        await admin.select(panel, "kling-admin:daily", ["3"])
        panel = await changed()
        assert (await store.get_settings(guild_id)).daily_jobs_per_member == 3
        assert "**Daily jobs per member:** 3 jobs" in text_of(panel)
        assert select_defaults(panel, "kling-admin:daily") == ["3"]
        await admin.select(panel, "kling-admin:daily", ["unlimited"])
        panel = await changed()
        assert (await store.get_settings(guild_id)).daily_jobs_per_member is None
        assert "**Daily jobs per member:** no limit" in text_of(panel)
        await admin.select(panel, "kling-admin:concurrent", ["1"])
        panel = await changed()
        assert (await store.get_settings(guild_id)).concurrent_jobs_per_guild == 1
        assert "**Jobs running at once on this server:** 1 job" in text_of(panel)

        # Mode and the pro toggle stay coherent: pro off forces the default back to std.
        await admin.select(panel, "kling-admin:mode", ["pro"])
        panel = await changed()
        assert (await store.get_settings(guild_id)).default_mode == "pro"
        assert "**Default mode:** pro" in text_of(panel)
        await admin.click(panel, "Turn pro off")
        panel = await changed()
        stored = await store.get_settings(guild_id)
        assert (stored.pro_allowed, stored.default_mode) == (False, "std")
        assert "**Pro mode:** not allowed" in text_of(panel)
        assert "**Default mode:** std" in text_of(panel)
        await admin.click(panel, "Allow pro")
        panel = await changed()
        assert (await store.get_settings(guild_id)).pro_allowed is True

        # Confirmation and threads toggles.
        await admin.click(panel, "Stop asking")
        panel = await changed()
        assert (await store.get_settings(guild_id)).confirm_submits is False
        assert "**Confirm before submitting:** **off**" in text_of(panel)
        await admin.click(panel, "Use threads")
        panel = await changed()
        assert (await store.get_settings(guild_id)).sessions_in_threads is True
        assert "**Sessions open in a new thread:** **on**" in text_of(panel)

        # Disabled channels: a multi channel select; an empty pick turns them all back on.
        await pick(admin, panel, "kling-admin:channels", [lobby, memes])
        panel = await changed()
        assert (await store.get_settings(guild_id)).disabled_channels == {lobby.id, memes.id}
        assert f"<#{lobby.id}>" in text_of(panel) and f"<#{memes.id}>" in text_of(panel)
        picker = next(c for c in components_of(panel, CHANNEL_SELECT))
        assert {str(d["id"]) for d in picker["default_values"]} == {str(lobby.id), str(memes.id)}
        await pick(admin, panel, "kling-admin:channels", [])
        panel = await changed()
        assert (await store.get_settings(guild_id)).disabled_channels == frozenset()

        final = await store.get_settings(guild_id)
        assert final == GuildSettings(
            guild_id=guild_id,
            submit_role_id=None,
            daily_jobs_per_member=None,
            concurrent_jobs_per_guild=1,
            default_mode="std",
            pro_allowed=True,
            confirm_submits=False,
            sessions_in_threads=True,
            disabled_channels=frozenset(),
        )
        # Every change was acknowledged as a deferred update of the panel itself.
        clicks = [r for r in discord_twin.interactions.values() if r.type == 3]
        assert len(clicks) == 12 and all(r.ack_type == 6 for r in clicks)


async def test_settings_survive_a_restart_and_reopen_as_stored(
    run_bot: BotFactory, discord_twin: DiscordTwin, twin_guild: TwinGuild
) -> None:
    admin = discord_twin.member(twin_guild, "ada", roles=[manager_role(discord_twin, twin_guild)])
    async with run_bot():
        panel = await (await admin.slash("kling-admin settings")).response()
        await admin.select(panel, "kling-admin:daily", ["50"])
        await discord_twin.wait_until(lambda: "50 jobs" in text_of(panel))
    async with run_bot():
        panel = await (await admin.slash("kling-admin settings")).response()
        assert "**Daily jobs per member:** 50 jobs" in text_of(panel)


async def test_ordinary_member_is_refused_even_without_discords_permission_gate(
    run_bot: BotFactory, discord_twin: DiscordTwin, twin_guild: TwinGuild
) -> None:
    # The stand-in does not apply default_permissions, like a server that overrode them.
    member = discord_twin.member(twin_guild, "bob")
    async with run_bot() as bot:
        for command in ("kling-admin settings", "kling-admin usage"):
            reply = await (await member.slash(command)).response()
            assert reply.ephemeral
            assert reply.content == (
                "Only members with the Manage Server permission can use `/kling-admin`."
            )
            assert not reply.components and not reply.embeds
        assert await bot.store.get_settings(twin_guild.id) == GuildSettings(twin_guild.id)
        schema = next(c for c in discord_twin.global_commands if c["name"] == "kling-admin")
        assert int(schema["default_member_permissions"]) == (
            discord.Permissions(manage_guild=True).value
        )


async def test_only_the_opening_admin_may_use_the_panel_and_only_while_an_admin(
    run_bot: BotFactory, discord_twin: DiscordTwin, twin_guild: TwinGuild
) -> None:
    mods = manager_role(discord_twin, twin_guild)
    ada = discord_twin.member(twin_guild, "ada", roles=[mods])
    eve = discord_twin.member(twin_guild, "eve", roles=[mods])
    async with run_bot() as bot:
        panel = await (await ada.slash("kling-admin settings")).response()
        # Another admin pressing it (e.g. a forwarded panel) is turned away.
        panel.visible_to = None
        opened = panel.edit_count
        handle = await eve.select(panel, "kling-admin:daily", ["1"])
        refusal = await handle.response()
        assert refusal.visible_to == eve.id and "belongs to another admin" in refusal.content
        assert panel.edit_count == opened

        # Ada loses Manage Server while the panel is open: her next click is refused.
        ada.member.roles.remove(mods.id)
        handle = await ada.select(panel, "kling-admin:daily", ["1"])
        refusal = await handle.response()
        assert "Manage Server" in refusal.content
        assert panel.edit_count == opened
        assert (await bot.store.get_settings(twin_guild.id)).daily_jobs_per_member == 10


async def test_server_owner_and_administrators_count_as_managers(
    run_bot: BotFactory, discord_twin: DiscordTwin, twin_guild: TwinGuild
) -> None:
    boss = discord_twin.add_role(twin_guild, "Boss", discord.Permissions(administrator=True).value)
    root = discord_twin.member(twin_guild, "root", roles=[boss])
    owner = next(m for m in twin_guild.members.values() if m.user.id == twin_guild.owner_id)
    async with run_bot():
        for actor in (root, discord_twin.member(twin_guild, owner.user.username)):
            panel = await (await actor.slash("kling-admin settings")).response()
            assert "Kling settings for this server" in text_of(panel)
