"""Discord plumbing shared by every feature: the bot and its services, the tree and its error
handler, the `/kling` group, replies, languages, access checks and cooldowns."""
