# Installs exactly as the README says (pip install .), so the image and a fresh machine match.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY cogs ./cogs
RUN pip install . \
    && useradd --create-home --uid 10001 klingbot \
    && mkdir -p /data && chown klingbot /data

USER klingbot
WORKDIR /data
VOLUME ["/data"]
CMD ["kling-bot", "run"]
