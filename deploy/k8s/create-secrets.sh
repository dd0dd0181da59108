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
#   kliniki-identity-signing-key KLINIKI_SIGNING_KEY: identity's token signing key (EC P-256,
#                               PEM); to rotate, replace it: identity signs with a new key at
#                               once and keeps the old one published until its tokens expire
#   kliniki-identity-bootstrap  KLINIKI_BOOTSTRAP_ADMIN_PASSWORD: the first admin's one-time
#                               password (printed once; changed at first sign-in)
#   kliniki-<service>-db        username/password of each service's database role; CloudNativePG
#                               creates the role with this password (label cnpg.io/reload)
#   kliniki-backup-s3           object-store credentials for the PostgreSQL backups, when
#                               BACKUP_S3_ACCESS_KEY_ID and BACKUP_S3_SECRET_ACCESS_KEY are set
#
# kliniki-rabbitmq-default-user is made by the RabbitMQ Cluster Operator, not here.
set -euo pipefail

NAMESPACE="${1:-kliniki}"
SERVICES="registration triage clinical lab pharmacy billing notifier identity"

# 48 hex characters: safe inside a connection URL without escaping.
random_value() { od -An -N24 -tx1 /dev/urandom | tr -d ' \n'; }

exists() { kubectl --namespace "$NAMESPACE" get secret "$1" >/dev/null 2>&1; }

if ! kubectl get namespace "$NAMESPACE" >/dev/null 2>&1; then
  kubectl create namespace "$NAMESPACE"
fi

if exists kliniki-identity-signing-key; then
  echo "kept    secret/kliniki-identity-signing-key"
else
  kubectl --namespace "$NAMESPACE" create secret generic kliniki-identity-signing-key \
    --from-literal=KLINIKI_SIGNING_KEY="$(openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256)"
fi

if exists kliniki-identity-bootstrap; then
  echo "kept    secret/kliniki-identity-bootstrap"
else
  bootstrap="$(random_value)"
  kubectl --namespace "$NAMESPACE" create secret generic kliniki-identity-bootstrap \
    --from-literal=KLINIKI_BOOTSTRAP_ADMIN_PASSWORD="$bootstrap"
  echo "first admin: sign in as 'admin' with $bootstrap and choose a new password"
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
