#!/usr/bin/env bash
# Installs the few Debian packages the later steps and the running image need, from the base
# image's own archive, and removes unattended upgrades: the image is replaced, never patched in
# place, and an unattended kernel or driver upgrade would break the NVIDIA module on a reboot.
set -o errexit -o nounset -o pipefail

readonly PACKAGES=(
  ca-certificates
  curl
  logrotate
  xz-utils
)

main() {
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # dpkg reports every unpacked file on stdout; errors still reach stderr.
  apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
  apt-get purge -y -qq unattended-upgrades >/dev/null 2>&1 || true
  echo "10-install-base-packages: ${PACKAGES[*]}"
}

main "$@"
