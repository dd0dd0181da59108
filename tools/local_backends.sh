#!/usr/bin/env bash
# Make sure this machine's PostgreSQL and RabbitMQ can carry `make run`, `make test` and
# `make bench`: both running, PostgreSQL allowing enough connections (eight services with a pool
# each, more in the suite), RabbitMQ with the consistent-hash exchange the partitioned consumers
# route through. Acts only on a local server it can manage (pg_ctlcluster, rabbitmq-server);
# otherwise it says what the server needs and leaves it alone.
set -uo pipefail

log() { echo "local-backends: $*"; }
MIN_CONNECTIONS=300

cluster() { ls /etc/postgresql 2>/dev/null | head -1; }

ensure_postgres() {
  if pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then return 0; fi
  if ! command -v pg_ctlcluster >/dev/null || [ -z "$(cluster)" ]; then
    log "PostgreSQL is not answering on 127.0.0.1:5432 and is not managed here: start it"; return 0
  fi
  log "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(cluster)" main start
  for _ in $(seq 60); do pg_isready -h 127.0.0.1 -p 5432 -q && return 0; sleep 1; done
  log "PostgreSQL did not start"; return 1
}

ensure_postgres_connections() {
  local have
  have=$(psql -h 127.0.0.1 -U postgres -Atc "show max_connections" 2>/dev/null || echo "")
  if [ -z "$have" ] || [ "$have" -ge "$MIN_CONNECTIONS" ]; then return 0; fi
  if ! command -v pg_ctlcluster >/dev/null || [ -z "$(cluster)" ]; then
    log "PostgreSQL allows ${have} connections; set max_connections to ${MIN_CONNECTIONS} or more"
    return 0
  fi
  log "raising PostgreSQL max_connections from ${have} to ${MIN_CONNECTIONS} (a restart)"
  psql -h 127.0.0.1 -U postgres -qc "alter system set max_connections = ${MIN_CONNECTIONS}"
  pg_ctlcluster --skip-systemctl-redirect "$(cluster)" main restart
  for _ in $(seq 60); do pg_isready -h 127.0.0.1 -p 5432 -q && return 0; sleep 1; done
  log "PostgreSQL did not come back"; return 1
}

ensure_rabbitmq() {
  if ! command -v rabbitmqctl >/dev/null; then
    log "RabbitMQ is not managed here: make sure it runs with rabbitmq_consistent_hash_exchange"
    return 0
  fi
  if ! rabbitmqctl -q status >/dev/null 2>&1; then
    log "starting RabbitMQ"
    rabbitmq-server -detached || true
    timeout 120 rabbitmqctl await_startup || { log "RabbitMQ did not start"; return 1; }
  fi
  if ! rabbitmq-plugins -q is_enabled rabbitmq_consistent_hash_exchange >/dev/null 2>&1; then
    rabbitmq-plugins enable rabbitmq_consistent_hash_exchange \
      || log "could not enable rabbitmq_consistent_hash_exchange: enable it on the broker"
  fi
}

ensure_postgres && ensure_postgres_connections && ensure_rabbitmq
