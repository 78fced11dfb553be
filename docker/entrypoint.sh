#!/bin/sh
# Container entry point.
#   serve            (default) run gunicorn; with MIGRATE_ON_START=1, migrate first
#   worker           run background work: change sets and the recurring jobs (no cron needed)
#   migrate          apply migrations (which also create the cache table), then exit
#   manage ARGS...   any manage.py command, e.g. `manage createsuperuser`
set -eu
cd "$(dirname "$0")/.."

migrate() {
    python manage.py migrate --noinput
}

command="${1:-serve}"
[ $# -gt 0 ] && shift
case "$command" in
    serve)
        if [ "${MIGRATE_ON_START:-0}" = "1" ]; then
            migrate
        fi
        exec gunicorn --config gunicorn.conf.py statusadmin.wsgi
        ;;
    worker)
        exec python manage.py worker
        ;;
    migrate)
        migrate
        ;;
    manage)
        exec python manage.py "$@"
        ;;
    *)
        exec "$command" "$@"
        ;;
esac
