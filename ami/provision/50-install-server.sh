#!/usr/bin/env bash
# Installs the built server with its production dependencies only. The install runs here, on
# the image, so that the native binding of @tensorflow/tfjs-node-gpu is fetched for this
# operating system at bake time; the binding is then loaded once to prove it works. npm comes
# from the bake inputs and is not left on the image.
set -o errexit -o nounset -o pipefail

die() {
  echo "50-install-server: $*" >&2
  exit 1
}

npm_ci() {
  local dir="$1"
  local -a flags=(--omit=dev --no-audit --no-fund --loglevel=warn)
  # Without a GPU the binding's install script would try to download libtensorflow for
  # nothing; the server then runs on the wasm backend, as on a developer's machine.
  if [[ "${BAKE_PROFILE}" == "rehearsal" ]]; then flags+=(--ignore-scripts); fi
  (
    cd "${dir}"
    HOME="${BAKE_DIR}/home" node "${BAKE_DIR}/inputs/npm/bin/npm-cli.js" ci "${flags[@]}"
  )
}

check_binding() {
  local dir="$1" version
  if [[ "${BAKE_PROFILE}" == "rehearsal" ]]; then
    echo "50-install-server: tfjs-node-gpu binding check skipped (BAKE_PROFILE=rehearsal)"
    return 0
  fi
  version="$(cd "${dir}" &&
    node -p "require('@tensorflow/tfjs-node-gpu').version.tfjs")" ||
    die "@tensorflow/tfjs-node-gpu does not load"
  [[ "${version}" == "${TFJS_VERSION}" ]] ||
    die "@tensorflow/tfjs-node-gpu is ${version}, expected ${TFJS_VERSION}"
}

main() {
  : "${BAKE_DIR:?}" "${APP_DIR:?}" "${TFJS_VERSION:?}"
  local bundle="${BAKE_DIR}/inputs/server.tar.gz" staging="${APP_DIR}.new"
  [[ -f "${bundle}" ]] || die "no server bundle at ${bundle}"

  rm -rf "${staging}"
  install -d -m 0755 "${staging}"
  tar --extract --gzip --file "${bundle}" --directory "${staging}" --no-same-owner
  [[ -f "${staging}/dist/server/main.js" ]] || die "bundle has no dist/server/main.js"
  npm_ci "${staging}"
  check_binding "${staging}"

  # Swap in whole, so a re-run never leaves a mix of two installs.
  chown -R root:root "${staging}"
  chmod -R go-w "${staging}"
  rm -rf "${APP_DIR}.old"
  if [[ -d "${APP_DIR}" ]]; then mv "${APP_DIR}" "${APP_DIR}.old"; fi
  mv "${staging}" "${APP_DIR}"
  rm -rf "${APP_DIR}.old"
  echo "50-install-server: installed in ${APP_DIR}"
}

main "$@"
