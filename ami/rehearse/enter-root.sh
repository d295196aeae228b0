#!/usr/bin/env bash
# Runs inside the private namespaces rehearse.sh creates (unshare): mounts what a chroot needs,
# so the mounts disappear with the namespace, then runs the command in the root.
# Usage: enter-root.sh ROOT NO_NETWORK(0|1) NPM_CACHE|"" NPM_CACHE_IN_ROOT COMMAND...
set -o errexit -o nounset -o pipefail

main() {
  local root="$1" no_network="$2" npm_cache="$3" npm_cache_in_root="$4"
  shift 4
  # A fresh network namespace starts with loopback down and nothing else.
  if [[ "${no_network}" == 1 ]]; then ip link set lo up; fi
  mount -t proc proc "${root}/proc"
  mount --rbind /dev "${root}/dev"
  mount -t sysfs sysfs "${root}/sys"
  if [[ -n "${npm_cache}" ]]; then mount --bind "${npm_cache}" "${root}${npm_cache_in_root}"; fi
  exec chroot "${root}" "$@"
}

main "$@"
