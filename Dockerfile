# Beatlight: one image for every service; `docker run beatlight <command>` (worker, api, replay, ...).
# Configured only by BEATLIGHT_* environment variables (beatlight/settings.py).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    BEATLIGHT_DATA_DIR=/var/lib/beatlight

WORKDIR /app

# Dependencies first, in a layer of their own: code changes do not reinstall GeoPandas.
COPY pyproject.toml README.md ./
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
extra = p['optional-dependencies']; \
print('\n'.join(p['dependencies'] + extra['stream'] + extra['api']))" > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY . .
RUN pip install ".[stream,api]"

# Not root. The working folder takes Faust's data folder and, without
# BEATLIGHT_DATABASE_URL, the SQLite store (BEATLIGHT_DATA_DIR); production uses PostgreSQL.
RUN useradd --create-home --uid 10001 beatlight \
    && mkdir -p /var/lib/beatlight \
    && chown beatlight:beatlight /var/lib/beatlight
USER beatlight
WORKDIR /var/lib/beatlight

# The API (BEATLIGHT_API_PORT). A worker's /metrics and /healthz listen on 127.0.0.1 only.
EXPOSE 8000

ENTRYPOINT ["beatlight"]
CMD ["--help"]
