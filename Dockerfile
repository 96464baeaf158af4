# Conflict Annotator: migrate, then serve with gunicorn, as a non-root user.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    ANNOTATOR_INSTANCE_PATH=/data ANNOTATOR_BIND=0.0.0.0:8000

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY . .
RUN useradd --uid 1001 --create-home annotator && mkdir -p /data && chown annotator /data
USER annotator
VOLUME /data
EXPOSE 8000
ENTRYPOINT ["/app/docker-entrypoint.sh"]
