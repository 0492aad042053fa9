"""Per-member cooldowns on the buttons and commands that call Kling.

A token bucket per (action, member, channel): each action allows a short burst, then one call
every ``every_s`` seconds. A channel holds at most one session, so "per channel" is "per
session" (a thread is its own channel). Frame navigation and anything else that does not call
Kling has no cooldown.

The check is in memory only, so callers run it before acknowledging the interaction: the
refusal is then the first, ephemeral, answer, never a public "thinking…" message. A refused
call does not use up anything.
"""

from __future__ import annotations

from typing import Any

import discord

# The buckets and rules live in bot/ so the web picker (bot.web) applies the same ones.
from bot.cooldowns import (
    IDLE_FORGET_S,
    PREVIEW,
    SELECTION,
    SUBMIT,
    CooldownError,
    CooldownRule,
    Cooldowns,
)
from bot.storage import Job, JobState

__all__ = [
    "IDLE_FORGET_S",
    "PREVIEW",
    "SELECTION",
    "SUBMIT",
    "CooldownError",
    "CooldownRule",
    "Cooldowns",
    "cooldowns_of",
    "enforce_cooldown",
    "refund_submit",
    "refund_unsent_job",
    "submit_wait",
]


def cooldowns_of(client: discord.Client | Any) -> Cooldowns:
    """This bot's cooldowns (`KlingBot.cooldowns`, one set per bot: a restarted or second bot
    has its own)."""
    found = getattr(client, "cooldowns", None)
    if not isinstance(found, Cooldowns):
        raise RuntimeError("this bot keeps no cooldowns")
    return found


def enforce_cooldown(interaction: discord.Interaction, rule: CooldownRule) -> None:
    """Raise CooldownError ("Slow down: try again in N s.") when this member is too quick."""
    wait = cooldowns_of(interaction.client).take(
        rule, interaction.user.id, interaction.channel_id or 0
    )
    if wait is not None:
        raise CooldownError(wait)


def submit_wait(interaction: discord.Interaction) -> float | None:
    """Seconds before this member may submit here (None: now); uses nothing."""
    return cooldowns_of(interaction.client).wait(
        SUBMIT, interaction.user.id, interaction.channel_id or 0
    )


def refund_submit(interaction: discord.Interaction) -> None:
    """The submit this interaction counted never became a job: it does not count."""
    cooldowns_of(interaction.client).refund(
        SUBMIT, interaction.user.id, interaction.channel_id or 0
    )


def refund_unsent_job(client: discord.Client, job: Job) -> None:
    """A job that ended without Kling taking it (refused, or never received) does not count
    against its requester's submit cooldown: a retry right away is welcome."""
    if job.state in (JobState.FAILED, JobState.CANCELLED) and job.kling_task_id is None:
        cooldowns_of(client).refund(SUBMIT, job.requester_id, job.channel_id)
