#!/usr/bin/env bash
# Installs the NVIDIA driver of one pinned branch from Debian's non-free archive, built for the
# running kernel, and holds the driver and the kernel so that no later upgrade can separate the
# module from the kernel it was built for. The module loads after the reboot that follows.
set -o errexit -o nounset -o pipefail

readonly SOURCES_FILE=/etc/apt/sources.list.d/debian.sources
readonly PIN_FILE=/etc/apt/preferences.d/nvidia-driver-branch

die() {
  echo "20-install-nvidia-driver: $*" >&2
  exit 1
}

enable_non_free() {
  [[ -f "${SOURCES_FILE}" ]] || die "${SOURCES_FILE} missing: not a Debian 12 base image?"
  # Only a line that lists main alone is widened, so a second run changes nothing.
  sed -i 's/^Components: main$/Components: main contrib non-free non-free-firmware/' \
    "${SOURCES_FILE}"
}

pin_branch() {
  cat >"${PIN_FILE}" <<PIN
Package: nvidia-* libnvidia-* libcuda1 libnvcuvid1 libnvoptix1 firmware-nvidia-*
Pin: version ${NVIDIA_DRIVER_BRANCH}.*
Pin-Priority: 1001
PIN
}

main() {
  if [[ "${BAKE_PROFILE}" == "rehearsal" ]]; then
    echo "20-install-nvidia-driver: skipped (BAKE_PROFILE=rehearsal, no GPU)"
    return 0
  fi
  : "${NVIDIA_DRIVER_BRANCH:?set the driver branch}"
  local kernel
  kernel="$(uname -r)"

  export DEBIAN_FRONTEND=noninteractive
  enable_non_free
  pin_branch
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends \
    "linux-headers-${kernel}" \
    nvidia-driver \
    nvidia-kernel-dkms \
    nvidia-smi \
    firmware-misc-nonfree

  local installed
  installed="$(dpkg-query --show --showformat='${Version}' nvidia-driver)"
  [[ "${installed}" == "${NVIDIA_DRIVER_BRANCH}."* ]] ||
    die "nvidia-driver ${installed} is not of branch ${NVIDIA_DRIVER_BRANCH}"

  apt-mark hold nvidia-driver nvidia-kernel-dkms nvidia-smi \
    "linux-image-${kernel}" "linux-headers-${kernel}" >/dev/null
  echo "20-install-nvidia-driver: ${installed} for kernel ${kernel}, held"
}

main "$@"
