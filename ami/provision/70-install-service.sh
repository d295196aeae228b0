#!/usr/bin/env bash
# Places the image's files (systemd units, server settings, CloudWatch agent configuration,
# log rotation), creates the service user and its directories, and enables the boot agent.
# Neither the server unit nor the batch worker unit is enabled: the boot agent starts the one
# the instance's role asks for (the server once the instance is going into service, so a
# warm-pool instance never serves; the worker on the batch group's instances).
set -o errexit -o nounset -o pipefail

die() {
  echo "70-install-service: $*" >&2
  exit 1
}

create_user() {
  if id -u "${SERVICE_NAME}" >/dev/null 2>&1; then return 0; fi
  useradd --system --user-group --no-create-home --home-dir /nonexistent \
    --shell /usr/sbin/nologin "${SERVICE_NAME}"
}

place_files() {
  local rootfs="$1"
  [[ -d "${rootfs}" ]] || die "no files tree at ${rootfs}"
  cp --recursive --no-preserve=ownership,mode "${rootfs}/." /
  find "${rootfs}" -type f -printf '%P\n' | while read -r file; do
    chown root:root "/${file}"
    chmod 0644 "/${file}"
  done
}

create_directories() {
  install -d -m 0755 -o root -g root "$(dirname "${ENV_FILE}")"
  install -d -m 0700 -o root -g root "$(dirname "${SECRETS_ENV_FILE}")"
  install -d -m 0755 -o root -g root "/var/log/${SERVICE_NAME}"
  # The CUDA kernel cache the validation fills, kept in the image.
  install -d -m 0750 -o "${SERVICE_NAME}" -g "${SERVICE_NAME}" "/var/cache/${SERVICE_NAME}"
}

# systemd only warns about an unknown key or a bad value and then ignores it, which would
# quietly drop a hardening option: any warning about our units fails the bake instead.
verify_units() {
  local report
  local -a units=("${SERVER_UNIT}" "${BOOT_AGENT_UNIT}" "${BATCH_UNIT}")
  local -a paths=() patterns=()
  local unit
  for unit in "${units[@]}"; do
    [[ -f "/etc/systemd/system/${unit}" ]] || die "unit ${unit} is missing from the files tree"
    paths+=("/etc/systemd/system/${unit}")
    patterns+=(-e "${unit}")
  done
  report="$(systemd-analyze verify "${paths[@]}" 2>&1 || true)"
  report="$(grep -F "${patterns[@]}" <<<"${report}" || true)"
  [[ -z "${report}" ]] || die "systemd-analyze verify: ${report}"
}

# The units the boot agent starts must stay out of every boot target, whatever a files tree
# or an earlier run did.
check_not_enabled() {
  local unit state
  for unit in "${SERVER_UNIT}" "${BATCH_UNIT}"; do
    state="$(systemctl is-enabled "${unit}" 2>/dev/null || true)"
    [[ "${state}" != enabled* ]] || die "${unit} is enabled; only the boot agent may start it"
  done
}

enable_boot_agent() {
  systemctl enable "${BOOT_AGENT_UNIT}" >/dev/null 2>&1 || die "cannot enable ${BOOT_AGENT_UNIT}"
  # A chroot (the rehearsal) has no running systemd to reload.
  if [[ -d /run/systemd/system ]]; then systemctl daemon-reload; fi
}

main() {
  : "${BAKE_DIR:?}" "${SERVICE_NAME:?}" "${ENV_FILE:?}" "${SECRETS_ENV_FILE:?}"
  : "${SERVER_UNIT:?}" "${BOOT_AGENT_UNIT:?}" "${BATCH_UNIT:?}"
  create_user
  place_files "${BAKE_DIR}/rootfs"
  create_directories
  verify_units
  enable_boot_agent
  check_not_enabled
  echo "70-install-service: ${SERVER_UNIT} and ${BATCH_UNIT} installed," \
    "${BOOT_AGENT_UNIT} enabled"
}

main "$@"
