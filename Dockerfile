# Installs like the README: the same pins (requirements/constraints.txt), no extras.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
# Dependencies first, in their own layer: it is rebuilt only when pyproject.toml or the pins
# change, not on every code change. Their list is read from pyproject.toml, so it cannot drift.
COPY pyproject.toml ./
COPY requirements/constraints.txt ./requirements/
RUN python -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' > /tmp/dependencies.txt \
    && pip install -c requirements/constraints.txt -r /tmp/dependencies.txt \
    && rm /tmp/dependencies.txt

# Then the code, installed without touching the dependencies above.
COPY README.md LICENSE ./
COPY bot ./bot
COPY cogs ./cogs
RUN pip install --no-deps -c requirements/constraints.txt .

# The bot runs in /app: ./config.toml is read from here when present (bind-mount one at
# /app/config.toml, or set everything from the environment: KLING_BOT__SECTION__KEY), and the
# default [storage] paths land in /app/data (database, media, heartbeat), the volume.
COPY docker/entrypoint.sh /usr/local/bin/kling-bot-entrypoint
RUN groupadd --gid 10001 klingbot \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /app klingbot \
    && mkdir -p /app/data && chown klingbot:klingbot /app/data
WORKDIR /app
VOLUME ["/app/data"]

# Never runs the bot as root: the entrypoint gives /app/data to PUID:PGID (default 10001, the
# klingbot user), so a bind-mounted host folder works, then drops root (see the script).
ENTRYPOINT ["kling-bot-entrypoint"]

# Healthy only while the bot is connected to Discord (it rewrites data/heartbeat.json every
# 15 s and whenever the gateway connects or drops).
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["kling-bot", "health"]

# SIGTERM (docker stop) closes the bot gracefully: running job steps finish their writes.
STOPSIGNAL SIGTERM
CMD ["kling-bot", "run"]
