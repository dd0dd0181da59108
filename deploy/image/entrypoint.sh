#!/bin/sh
# Entry point of every Kliniki image (deploy/Dockerfile).
#
#   serve     (default) run the service on its contract port
#   migrate   create this service's database if missing and apply its migrations, one replica
#             at a time (a PostgreSQL advisory lock), then exit
#   <other>   run it as a command, e.g. `python -m kliniki.migrate --help`
set -eu

: "${KLINIKI_SERVICE_NAME:?KLINIKI_SERVICE_NAME must name the service, e.g. triage}"

case "${1:-serve}" in
  serve)
    # exec: uvicorn becomes PID 1 and receives SIGTERM itself (graceful shutdown, see Dockerfile).
    exec uvicorn --factory "${KLINIKI_SERVICE_NAME}.main:create_app" \
      --host "${UVICORN_HOST:-0.0.0.0}" \
      --port "${KLINIKI_PORT:-$(cat /etc/kliniki/port)}" \
      --timeout-graceful-shutdown "${UVICORN_TIMEOUT_GRACEFUL_SHUTDOWN:-20}" \
      --loop uvloop --http httptools \
      --ws-max-size 65536 \
      --ws "$(cat /etc/kliniki/ws)" \
      --timeout-keep-alive 75 \
      --no-access-log
    ;;
  migrate)
    exec python /opt/kliniki/migrate_with_lock.py
    ;;
  *)
    exec "$@"
    ;;
esac
