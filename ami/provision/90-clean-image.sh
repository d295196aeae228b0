#!/usr/bin/env bash
# Removes everything that must not be shared by every instance started from the image: the
# validation's secrets, SSH host keys and authorized keys, the machine id, cloud-init's state,
# logs, package caches and shell history. Keeps the CUDA kernel cache on purpose.
set -o errexit -o nounset -o pipefail

booted() {
  [[ -d /run/systemd/system ]]
}

stop_server() {
  if booted; then systemctl stop "${SERVER_UNIT}" 2>/dev/null || true; fi
}

remove_secrets_and_inputs() {
  rm -f "${SECRETS_ENV_FILE}" "${INSTANCE_ENV_FILE}"
  rm -rf "${BAKE_DIR}" /root/.npm /root/.cache /root/.config
}

reset_identity() {
  rm -f /etc/ssh/ssh_host_*
  find /root /home -name authorized_keys -type f -delete 2>/dev/null || true
  # An empty machine-id (not a missing one) makes systemd generate a new one on first boot.
  truncate -s 0 /etc/machine-id
  rm -f /var/lib/dbus/machine-id
  if command -v cloud-init >/dev/null; then cloud-init clean --logs --seed >/dev/null; fi
  rm -rf /var/lib/cloud/instances /var/lib/cloud/instance
}

clean_caches_and_logs() {
  apt-get clean
  rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
  find /var/log -type f \( -name '*.gz' -o -name '*.[0-9]' -o -name '*.old' \) -delete
  find /var/log -type f ! -path '/var/log/journal/*' -exec truncate -s 0 {} +
  if booted; then
    journalctl --rotate >/dev/null 2>&1 || true
    journalctl --vacuum-time=1s >/dev/null 2>&1 || true
  fi
  find /root /home -maxdepth 2 -type f -name '.*_history' -delete 2>/dev/null || true
}

main() {
  : "${SERVER_UNIT:?}" "${SECRETS_ENV_FILE:?}" "${INSTANCE_ENV_FILE:?}" "${BAKE_DIR:?}"
  stop_server
  remove_secrets_and_inputs
  reset_identity
  clean_caches_and_logs
  echo "90-clean-image: done"
}

main "$@"
