#!/usr/bin/env bash
# Fetches the model release artifact, checks the artifact's SHA-256 against the one the
# template was given, then has the release tooling unpack and verify it exactly as
# `model:verify` does in CI (safe unpack, every file against SHA256SUMS and nothing unlisted,
# the model loads, the golden photos get their breeds), and installs the verified files
# read-only as MODELS_DIR/<version> with CURRENT_MODEL_LINK pointing at it.
# Any mismatch fails the bake: an image never carries a model that differs from the release.
set -o errexit -o nounset -o pipefail

die() {
  echo "60-install-model: $*" >&2
  exit 1
}

verify_artifact() {
  local file="$1" actual
  actual="$(sha256sum "${file}" | cut -d' ' -f1)"
  [[ "${actual}" == "${MODEL_ARTIFACT_SHA256}" ]] ||
    die "SHA-256 mismatch for the model artifact ${MODEL_ARTIFACT_URL}:" \
      "expected ${MODEL_ARTIFACT_SHA256}, got ${actual}"
}

# The wasm backend runs anywhere, so the check does not depend on the build instance's GPU;
# validate.sh runs the golden photos again on the GPU after the reboot.
unpack_and_verify() {
  local artifact="$1" staging="$2" report line
  if ! report="$(node "${APP_DIR}/dist/server/release/cli.js" verify "${artifact}" \
    --extract-to "${staging}" --backend wasm 2>&1)"; then
    die "model verification failed (artifact ${MODEL_ARTIFACT_URL}):
${report}"
  fi
  while IFS= read -r line; do echo "60-install-model: ${line}"; done <<<"${report}"
}

check_version() {
  local dir="$1" version
  version="$(node -p "require(process.argv[1]).version" "${dir}/metadata.json")"
  [[ "${version}" == "${MODEL_VERSION}" ]] ||
    die "metadata.json says version ${version}, the template says ${MODEL_VERSION}"
}

main() {
  : "${BAKE_DIR:?}" "${APP_DIR:?}" "${MODELS_DIR:?}" "${CURRENT_MODEL_LINK:?}"
  : "${MODEL_ARTIFACT_URL:?}" "${MODEL_ARTIFACT_SHA256:?}" "${MODEL_VERSION:?}"
  local work="${BAKE_DIR}/model" target="${MODELS_DIR}/${MODEL_VERSION}"
  local staging="${MODELS_DIR}/.${MODEL_VERSION}.partial"

  rm -rf "${work}" "${staging}"
  # A failed run leaves nothing half-installed; a successful one has moved staging away.
  trap 'rm -rf "${work}" "${staging}"' EXIT
  install -d -m 0700 "${work}"
  node "${APP_DIR}/dist/server/boot/fetch-artifact.js" \
    "${MODEL_ARTIFACT_URL}" "${work}/artifact.tar.gz"
  verify_artifact "${work}/artifact.tar.gz"

  install -d -m 0755 "${MODELS_DIR}" "${staging}"
  unpack_and_verify "${work}/artifact.tar.gz" "${staging}"
  check_version "${staging}"

  chown -R root:root "${staging}"
  chmod -R a-w,a+rX "${staging}"
  rm -rf "${target}"
  mv "${staging}" "${target}"
  # Replace the link atomically: a reader sees the old target or the new one, never none.
  ln -sfn "${MODEL_VERSION}" "${CURRENT_MODEL_LINK}.new"
  mv -T "${CURRENT_MODEL_LINK}.new" "${CURRENT_MODEL_LINK}"
  trap - EXIT
  rm -rf "${work}"
  echo "60-install-model: ${MODEL_NAME:-model} ${MODEL_VERSION} in ${target}, verified"
}

main "$@"
