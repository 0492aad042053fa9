# Installs exactly as the README says (pip install .), so the image and a fresh machine match.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md LICENSE ./
COPY bot ./bot
COPY cogs ./cogs
RUN pip install . \
    && useradd --create-home --uid 10001 klingbot \
    && mkdir -p /data && chown klingbot /data

# Never root: the bot only needs its data folder (database, media, heartbeat).
USER klingbot
WORKDIR /data
VOLUME ["/data"]

# Healthy only while the bot is connected to Discord (it rewrites data/heartbeat.json every
# 15 s and whenever the gateway connects or drops).
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["kling-bot", "health"]

# SIGTERM (docker stop) closes the bot gracefully: running job steps finish their writes.
STOPSIGNAL SIGTERM
CMD ["kling-bot", "run"]
