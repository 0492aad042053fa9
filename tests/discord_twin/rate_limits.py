"""Injected 429 responses: a test says which route is rate limited, how often and how long."""

from __future__ import annotations

import re
from dataclasses import dataclass

from aiohttp import web

from .errors import json_response


@dataclass
class RateLimitRule:
    method: str | None
    pattern: re.Pattern[str]
    times: int
    retry_after: float
    is_global: bool
    hits: int = 0


class RateLimiter:
    def __init__(self) -> None:
        self.rules: list[RateLimitRule] = []
        self.served: list[str] = []

    def add(
        self,
        path_regex: str,
        *,
        method: str | None = None,
        times: int = 1,
        retry_after: float = 0.2,
        is_global: bool = False,
    ) -> RateLimitRule:
        """Answer the next `times` matching requests (path below /api/v10) with a 429."""
        rule = RateLimitRule(
            method.upper() if method else None,
            re.compile(path_regex),
            times,
            retry_after,
            is_global,
        )
        self.rules.append(rule)
        return rule

    def check(self, method: str, path: str) -> web.Response | None:
        for rule in self.rules:
            if rule.hits >= rule.times:
                continue
            if rule.method is not None and rule.method != method:
                continue
            if not rule.pattern.search(path):
                continue
            rule.hits += 1
            self.served.append(f"{method} {path}")
            scope = "global" if rule.is_global else "user"
            headers = {
                # Without Via, discord.py takes a 429 for a Cloudflare ban and gives up.
                "Via": "1.1 google",
                "Retry-After": str(max(1, round(rule.retry_after))),
                "X-RateLimit-Scope": scope,
            }
            if rule.is_global:
                headers["X-RateLimit-Global"] = "true"
            body = {
                "message": "You are being rate limited.",
                "retry_after": rule.retry_after,
                "global": rule.is_global,
                "code": 0,
            }
            return json_response(body, status=429, headers=headers)
        return None
