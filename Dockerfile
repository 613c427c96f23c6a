# runtally: one image for every process (ingest, scheduler, api, migrate, simulate).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
# Alembic's home; the wheel carries it as runtally/migrations (pyproject force-include).
COPY migrations ./migrations
RUN pip install . && useradd --system --uid 10001 --no-create-home runtally

USER runtally
EXPOSE 8000
ENTRYPOINT ["runtally"]
CMD ["--help"]
