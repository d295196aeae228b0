#!/usr/bin/env bash
# Installs the CloudWatch agent from a pinned package checked against its SHA-256. Its
# configuration (server logs, GPU metrics) is a template placed by 70-install-service; the
# boot agent fills in the stack name and starts the CloudWatch agent on every boot.
set -o errexit -o nounset -o pipefail

die() {
  echo "80-install-cloudwatch-agent: $*" >&2
  exit 1
}

main() {
  if [[ "${BAKE_PROFILE}" == "rehearsal" ]]; then
    echo "80-install-cloudwatch-agent: skipped (BAKE_PROFILE=rehearsal, package not on the archive)"
    return 0
  fi
  : "${CLOUDWATCH_AGENT_PACKAGE_URL:?}" "${CLOUDWATCH_AGENT_PACKAGE_SHA256:?}"
  local work actual
  work="$(mktemp -d)"
  trap 'rm -rf "${work}"' EXIT

  curl --fail --silent --show-error --location --retry 5 \
    --output "${work}/agent.deb" "${CLOUDWATCH_AGENT_PACKAGE_URL}"
  actual="$(sha256sum "${work}/agent.deb" | cut -d' ' -f1)"
  [[ "${actual}" == "${CLOUDWATCH_AGENT_PACKAGE_SHA256}" ]] ||
    die "SHA-256 mismatch for ${CLOUDWATCH_AGENT_PACKAGE_URL}: got ${actual}"
  dpkg --install "${work}/agent.deb" >/dev/null
  # Started by the boot agent once its configuration names the stack.
  systemctl disable amazon-cloudwatch-agent.service >/dev/null 2>&1 || true
  echo "80-install-cloudwatch-agent: installed"
}

main "$@"
