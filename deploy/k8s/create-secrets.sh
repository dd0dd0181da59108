#!/usr/bin/env bash
# Create the Secrets a real Kliniki installation needs, with random values, in a namespace:
#
#   deploy/k8s/create-secrets.sh [namespace]          (default: kliniki)
#
# The prod overlay contains no Secret (so applying it never overwrites credentials); run this
# once before the first `kubectl apply -k deploy/k8s/overlays/prod`. A secret that already
# exists is kept as it is, so re-running is safe; to rotate one, delete it and run this again
# (deploy/README.md, "Rotating secrets").
#
#   kliniki-jwt                 KLINIKI_JWT_SECRET: the HS256 token key (required even with
#                               OIDC: without it the code would fall back to a public dev key)
#   kliniki-<service>-db        username/password of each service's database role; CloudNativePG
#                               creates the role with this password (label cnpg.io/reload)
#   kliniki-backup-s3           object-store credentials for the PostgreSQL backups, when
#                               BACKUP_S3_ACCESS_KEY_ID and BACKUP_S3_SECRET_ACCESS_KEY are set
#
# kliniki-rabbitmq-default-user is made by the RabbitMQ Cluster Operator, not here.
set -euo pipefail

NAMESPACE="${1:-kliniki}"
SERVICES="registration triage clinical lab pharmacy billing notifier"

# 48 hex characters: safe inside a connection URL without escaping.
random_value() { od -An -N24 -tx1 /dev/urandom | tr -d ' \n'; }

exists() { kubectl --namespace "$NAMESPACE" get secret "$1" >/dev/null 2>&1; }

if ! kubectl get namespace "$NAMESPACE" >/dev/null 2>&1; then
  kubectl create namespace "$NAMESPACE"
fi

if exists kliniki-jwt; then
  echo "kept    secret/kliniki-jwt"
else
  kubectl --namespace "$NAMESPACE" create secret generic kliniki-jwt \
    --from-literal=KLINIKI_JWT_SECRET="$(random_value)"
fi

for service in $SERVICES; do
  name="kliniki-${service}-db"
  if exists "$name"; then
    echo "kept    secret/$name"
    continue
  fi
  kubectl --namespace "$NAMESPACE" create secret generic "$name" \
    --type=kubernetes.io/basic-auth \
    --from-literal=username="kliniki_${service}" \
    --from-literal=password="$(random_value)"
  kubectl --namespace "$NAMESPACE" label secret "$name" cnpg.io/reload=true >/dev/null
done

if exists kliniki-backup-s3; then
  echo "kept    secret/kliniki-backup-s3"
elif [ -n "${BACKUP_S3_ACCESS_KEY_ID:-}" ] && [ -n "${BACKUP_S3_SECRET_ACCESS_KEY:-}" ]; then
  kubectl --namespace "$NAMESPACE" create secret generic kliniki-backup-s3 \
    --from-literal=ACCESS_KEY_ID="$BACKUP_S3_ACCESS_KEY_ID" \
    --from-literal=ACCESS_SECRET_KEY="$BACKUP_S3_SECRET_ACCESS_KEY"
else
  echo "missing secret/kliniki-backup-s3: set BACKUP_S3_ACCESS_KEY_ID and" \
    "BACKUP_S3_SECRET_ACCESS_KEY and run this again, or PostgreSQL backups will fail" >&2
fi
