# The API image: one process per container (scale with replicas or --workers).
FROM python:3.11-slim-bookworm AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY requirements.lock ./
# exactly the packages CI tested: every one pinned and hash-checked, nothing resolved here
RUN pip install --no-cache-dir --require-hashes --no-deps -r requirements.lock
COPY pyproject.toml README.md alembic.ini ./
COPY core core
COPY gnss gnss
COPY parking parking
COPY maas maas
COPY hardware hardware
COPY api api
COPY migrations migrations
# the demo transport network (served until a district imports its own)
COPY tests/data/mobility share/mobility
RUN pip install --no-cache-dir --no-deps --no-build-isolation . && useradd --system --uid 10001 beidou \
  && mkdir -p /data/maas && chown beidou /data/maas
USER beidou
EXPOSE 8000 9000
HEALTHCHECK --interval=10s --timeout=3s --retries=5 \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz').status != 200)"
CMD ["sh", "-c", "beidou db upgrade && exec beidou serve --host 0.0.0.0 --port 8000 --workers ${BEIDOU_WORKERS:-2}"]
