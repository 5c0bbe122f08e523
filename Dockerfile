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

# Not root: state (Faust tables, stores) lives in /var/lib/beatlight, a volume.
RUN useradd --create-home --uid 10001 beatlight \
    && mkdir -p /var/lib/beatlight \
    && chown beatlight:beatlight /var/lib/beatlight
USER beatlight
WORKDIR /var/lib/beatlight

ENTRYPOINT ["beatlight"]
CMD ["--help"]
