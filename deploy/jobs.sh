#!/usr/bin/env bash
# Applies one workload of deploy/k8s/jobs with the admin image of one release, the same way from
# Jenkins (deploy/Jenkinsfile, stage Deploy) and from an operator's shell (deploy/README.md):
#
#   REGISTRY=10.0.0.5:5000/infralogs TAG=<release tag> deploy/jobs.sh replication|bootstrap|migrate|retention
#
# The manifests name the image release.invalid/infralogs/vault-bootstrap:unset (a name that can
# never be pulled, so applying them directly fails at once). This script writes a kustomize overlay
# in a temporary folder that sets $REGISTRY/vault-bootstrap:$TAG, the image the Jenkinsfile pushed
# for that tag, and applies it with kubectl's built-in kustomize. Nothing in the checkout is edited.
# A Job is immutable: its previous run is deleted first, then the script waits for the new one and
# prints its log. `retention` is a CronJob: applied once, it runs by itself every day.
#
# JOBS_OVERLAY_DIR=<dir> only writes the overlay there (for `kubectl kustomize <dir>` and the tests).
set -euo pipefail

say() { printf '[jobs] %s\n' "$*" >&2; }
die() { printf '[jobs] ERROR: %s\n' "$*" >&2; exit 1; }

job=${1:-}
case "$job" in
  replication) name=mysql-replication kind=job ;;
  bootstrap) name=vault-bootstrap kind=job ;;
  migrate) name=schema-migrate kind=job ;;
  retention) name=store-retention kind=cronjob ;;
  *) die "usage: REGISTRY=… TAG=… $0 replication|bootstrap|migrate|retention" ;;
esac
[ -n "${REGISTRY:-}" ] || die "set REGISTRY (e.g. 10.0.0.5:5000/infralogs), where the Jenkinsfile pushes"
[ -n "${TAG:-}" ] || die "set TAG to the release's tag (the commit, git rev-parse --short=12 HEAD)"
[[ "$TAG" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || die "TAG \"$TAG\" is not an image tag"

jobs_dir=$(cd "$(dirname "$0")/k8s/jobs" && pwd)
if [ -n "${JOBS_OVERLAY_DIR:-}" ]; then
  overlay=$JOBS_OVERLAY_DIR
  mkdir -p "$overlay"
else
  overlay=$(mktemp -d)
  trap 'rm -rf "$overlay"' EXIT
fi
cat >"$overlay/kustomization.yaml" <<YAML
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - $(realpath --relative-to="$overlay" "$jobs_dir")
images:
  - name: release.invalid/infralogs/vault-bootstrap
    newName: ${REGISTRY}/vault-bootstrap
    newTag: '${TAG}'
YAML
[ -z "${JOBS_OVERLAY_DIR:-}" ] || exit 0

command -v kubectl >/dev/null || die "kubectl is not installed"
say "$job: $kind/$name with $REGISTRY/vault-bootstrap:$TAG"
if [ "$kind" = job ]; then
  kubectl -n infralogs delete job "$name" --ignore-not-found >&2
fi
kubectl apply -k "$overlay" -l "infralogs.io/job=$job" >&2
[ "$kind" = job ] || exit 0

# Until the Job completes or fails (kubectl wait watches one condition only), at most 15 minutes.
for _ in $(seq 1 180); do
  state=$(kubectl -n infralogs get job "$name" \
    -o jsonpath='{range .status.conditions[?(@.status=="True")]}{.type} {end}')
  case "$state" in
    *Complete*)
      kubectl -n infralogs logs "job/$name" >&2 || true
      say "$job: complete"
      exit 0
      ;;
    *Failed*)
      kubectl -n infralogs logs "job/$name" >&2 || true
      die "$job failed (kubectl -n infralogs describe job $name)"
      ;;
  esac
  sleep 5
done
die "$job did not finish within 15 minutes (kubectl -n infralogs describe job $name)"
