#!/usr/bin/env bash
# In-image post-conditions, in two phases run by the bake:
#   validate.sh serve  after the reboot: the GPU is visible (GPU profile), the server starts
#                      from its unit on the expected backend, answers the release's golden
#                      photos with their breeds; this run also fills the CUDA kernel cache
#                      where the GPU needs kernels compiled from PTX.
#   validate.sh clean  after 90-clean-image: nothing instance-specific or secret is left.
# Outside a booted system (the rehearsal's chroot) the server is started the way its unit
# would start it, as the service user with the unit's environment files.
set -o errexit -o nounset -o pipefail

readonly READY_TIMEOUT_S=600
readonly VALIDATION_KEY_ID=bake-validation

fail() {
  echo "validate: FAILED: $*" >&2
  exit 1
}

booted() {
  [[ -d /run/systemd/system ]]
}

expected_backend() {
  if [[ "${BAKE_PROFILE}" == "rehearsal" ]]; then echo wasm; else echo tensorflow-gpu; fi
}

check_gpu() {
  if [[ "${BAKE_PROFILE}" == "rehearsal" ]]; then
    echo "validate: GPU checks skipped (BAKE_PROFILE=rehearsal)"
    return 0
  fi
  local gpus
  gpus="$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader)" ||
    fail "nvidia-smi does not see a GPU"
  [[ -n "${gpus}" ]] || fail "nvidia-smi lists no GPU"
  [[ "${gpus}" == *", ${NVIDIA_DRIVER_BRANCH}."* ]] ||
    fail "driver is not of branch ${NVIDIA_DRIVER_BRANCH}: ${gpus}"
  echo "validate: GPU ${gpus}"
}

# A throw-away API key, so the server starts with authentication on as in production; its
# hash goes where the boot agent puts the real secrets and is removed by 90-clean-image.
make_validation_key() {
  local key hash
  key="$(head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 40)"
  hash="$(printf '%s' "${key}" | sha256sum | cut -d' ' -f1)"
  install -d -m 0700 "$(dirname "${SECRETS_ENV_FILE}")"
  (
    umask 077
    printf 'AUTH_API_KEY_HASHES="%s:%s"\n' "${VALIDATION_KEY_ID}" "${hash}" >"${SECRETS_ENV_FILE}"
  )
  printf '%s' "${key}"
}

# Exports the variables of an environment file (NAME=value or NAME="value" lines).
export_env_file() {
  local file="$1" name value
  [[ -f "${file}" ]] || return 0
  while IFS='=' read -r name value; do
    [[ "${name}" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || continue
    value="${value#\"}"
    value="${value%\"}"
    export "${name}=${value}"
  done <"${file}"
}

start_server() {
  if booted; then
    systemctl start "${SERVER_UNIT}"
    return 0
  fi
  (
    export_env_file "${ENV_FILE}"
    export_env_file "${INSTANCE_ENV_FILE}"
    export_env_file "${SECRETS_ENV_FILE}"
    export BACKEND
    BACKEND="$(expected_backend)"
    cd "${APP_DIR}"
    exec setpriv --reuid="${SERVICE_NAME}" --regid="${SERVICE_NAME}" --init-groups \
      node "${APP_DIR}/dist/server/main.js" >>"/var/log/${SERVICE_NAME}/server.log" 2>&1
  ) &
  echo "$!" >"${BAKE_DIR}/server.pid"
}

stop_server() {
  if booted; then
    systemctl stop "${SERVER_UNIT}"
  elif [[ -f "${BAKE_DIR}/server.pid" ]]; then
    kill "$(cat "${BAKE_DIR}/server.pid")" 2>/dev/null || true
    rm -f "${BAKE_DIR}/server.pid"
  fi
}

wait_until_ready() {
  local url="http://127.0.0.1:${SERVER_PORT}${READY_PATH}" waited=0
  until curl --silent --fail --output /dev/null "${url}"; do
    ((waited += 1))
    if ((waited > READY_TIMEOUT_S)); then
      tail -n 20 "/var/log/${SERVICE_NAME}/server.log" >&2 || true
      fail "server not ready after ${READY_TIMEOUT_S}s at ${url}"
    fi
    sleep 1
  done
  echo "validate: server ready after ${waited}s"
}

check_backend() {
  local key="$1" backend
  local description
  description="$(curl --silent --fail --header "Authorization: ApiKey ${key}" \
    "http://127.0.0.1:${SERVER_PORT}${MODELS_PATH}")" || fail "could not read ${MODELS_PATH}"
  backend="$(node -p 'JSON.parse(process.argv[1]).backend' "${description}")"
  [[ "${backend}" == "$(expected_backend)" ]] ||
    fail "server runs on ${backend}, expected $(expected_backend)"
  echo "validate: backend ${backend}"
}

check_golden_photos() {
  local key="$1"
  BREED_API_KEY="${key}" node "${APP_DIR}/dist/server/release/cli.js" smoke \
    "${CURRENT_MODEL_LINK}" \
    --url "http://127.0.0.1:${SERVER_PORT}" \
    --expect-version "${MODEL_VERSION}" ||
    fail "the golden photos were not identified as the release expects"
}

phase_serve() {
  check_gpu
  local key
  key="$(make_validation_key)"
  trap stop_server EXIT
  start_server
  wait_until_ready
  check_backend "${key}"
  check_golden_photos "${key}"
  stop_server
  trap - EXIT
  # Reported, not required: libtensorflow ships compiled kernels for some GPUs (T4) and PTX
  # that is compiled here, and cached, only for newer ones (A10G, L4).
  local cached
  cached="$(find "/var/cache/${SERVICE_NAME}" -type f | wc -l)"
  echo "validate: CUDA kernel cache holds ${cached} files"
  echo "validate: serve phase passed"
}

phase_clean() {
  local leftovers=()
  [[ ! -e "${SECRETS_ENV_FILE}" ]] || leftovers+=("${SECRETS_ENV_FILE}")
  [[ ! -e "${INSTANCE_ENV_FILE}" ]] || leftovers+=("${INSTANCE_ENV_FILE}")
  [[ ! -e "${BAKE_DIR}" ]] || leftovers+=("${BAKE_DIR}")
  [[ ! -s /etc/machine-id ]] || leftovers+=(/etc/machine-id)
  mapfile -t -O "${#leftovers[@]}" leftovers < <(
    find /etc/ssh -maxdepth 1 -name 'ssh_host_*' 2>/dev/null
    find /root /home -name authorized_keys -type f 2>/dev/null
    find /root /home -maxdepth 2 -name '.*_history' -type f 2>/dev/null
    find /var/lib/apt/lists -type f ! -name lock 2>/dev/null
    # Login accounting files are written again by the bake's own SSH session.
    find /var/log -type f -size +0 ! -path '/var/log/journal/*' \
      ! -name wtmp ! -name btmp ! -name lastlog ! -name faillog 2>/dev/null
    find /var/lib/cloud/instances -mindepth 1 -maxdepth 1 2>/dev/null
  )
  ((${#leftovers[@]} == 0)) || fail "left behind: ${leftovers[*]}"

  [[ -x /usr/local/bin/node ]] || fail "node missing"
  [[ -f "${CURRENT_MODEL_LINK}/SHA256SUMS" ]] || fail "model missing at ${CURRENT_MODEL_LINK}"
  [[ -z "$(find "$(readlink -f "${CURRENT_MODEL_LINK}")" -perm /222 -print -quit)" ]] ||
    fail "model files are writable"
  local agent_state server_state
  agent_state="$(systemctl is-enabled "${BOOT_AGENT_UNIT}" 2>/dev/null || true)"
  [[ "${agent_state}" == enabled ]] ||
    fail "${BOOT_AGENT_UNIT} is ${agent_state:-unknown}, not enabled"
  # No [Install] section: "static", started only by the boot agent.
  server_state="$(systemctl is-enabled "${SERVER_UNIT}" 2>/dev/null || true)"
  [[ "${server_state}" == static ]] ||
    fail "${SERVER_UNIT} is ${server_state:-unknown}; it must be static (started by the boot agent)"
  echo "validate: clean phase passed"
}

main() {
  : "${BAKE_PROFILE:?}" "${BAKE_DIR:?}" "${SERVICE_NAME:?}" "${APP_DIR:?}" "${ENV_FILE:?}"
  : "${INSTANCE_ENV_FILE:?}" "${SECRETS_ENV_FILE:?}" "${CURRENT_MODEL_LINK:?}"
  : "${SERVER_UNIT:?}" "${BOOT_AGENT_UNIT:?}" "${SERVER_PORT:?}" "${READY_PATH:?}"
  : "${MODELS_PATH:?}" "${MODEL_VERSION:?}"
  case "${1:-}" in
    serve) phase_serve ;;
    clean) phase_clean ;;
    *) fail "usage: validate.sh serve|clean" ;;
  esac
}

main "$@"
