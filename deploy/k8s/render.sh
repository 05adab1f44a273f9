#!/usr/bin/env bash
# Renders each overlay into rendered/<overlay>.yaml with `kubectl kustomize`: what
# `kubectl apply -k overlays/<overlay>` applies, for review, for clusters without kustomize
# (`kubectl apply -f rendered/cpu-only.yaml`), and for tests/deploy/k8s_test.py, which checks
# that these files are current and validates them.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p rendered
for overlay in overlays/*/; do
  name=$(basename "$overlay")
  {
    echo "# Rendered from deploy/k8s/overlays/$name by deploy/k8s/render.sh: do not edit."
    kubectl kustomize "$overlay"
  } > "rendered/$name.yaml"
  echo "rendered/$name.yaml"
done
