#!/bin/bash
# One database and one login role per service, each role owning only its own database
# (database-per-service on one PostgreSQL server). Run by the postgres image on the first start
# of an empty data volume; safe to run again later, e.g. after adding a service or to apply
# changed passwords from deploy/.env:
#
#   docker compose --project-directory deploy -f deploy/compose.yaml \
#     exec postgres /docker-entrypoint-initdb.d/10-kliniki-databases.sh
#
# Passwords come from <SERVICE>_DB_PASSWORD (deploy/.env, passed in by compose.yaml).
set -euo pipefail

SERVICES="registration triage clinical lab pharmacy billing notifier identity"

for service in $SERVICES; do
  var="$(echo "$service" | tr '[:lower:]' '[:upper:]')_DB_PASSWORD"
  password="${!var:-}"
  if [ -z "$password" ]; then
    echo "10-kliniki-databases: $var is not set; set it in deploy/.env" >&2
    exit 1
  fi
  # psql variables (:"ident" / :'literal') quote the names and the password safely; the
  # heredoc is quoted so the shell leaves them alone.
  psql -v ON_ERROR_STOP=1 --quiet --username "${POSTGRES_USER:-postgres}" --dbname postgres \
    -v role="kliniki_${service}" -v db="kliniki_${service}" -v password="$password" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN', :'role')
  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \gexec
ALTER ROLE :"role" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'password';
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'role')
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec
-- Only the owner (and the superuser) may connect: no service can open another's database.
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
SQL
  echo "10-kliniki-databases: database kliniki_${service} and role kliniki_${service} ready"
done
