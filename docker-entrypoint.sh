#!/bin/sh
# Refuse to start without a shared secret, migrate once, then hand over to gunicorn.
set -e
if [ -z "$ANNOTATOR_SECRET_KEY" ] && [ ! -s "$ANNOTATOR_INSTANCE_PATH/secret_key" ]; then
  echo "Set ANNOTATOR_SECRET_KEY (all workers and hosts must share it)." >&2
  exit 1
fi
flask --app app db upgrade
exec gunicorn -c gunicorn.conf.py app:app
