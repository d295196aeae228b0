#!/usr/bin/env bash
# Fetches the model release artifact, checks the artifact's SHA-256 against the one the
# template was given, unpacks it, checks every file against the artifact's SHA256SUMS, and
# installs it read-only as MODELS_DIR/<version> with CURRENT_MODEL_LINK pointing at it.
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

verify_files() {
  local dir="$1" report listed present
  [[ -f "${dir}/SHA256SUMS" ]] || die "the artifact has no SHA256SUMS manifest"
  if ! report="$(cd "${dir}" && sha256sum --check --strict --quiet SHA256SUMS 2>&1)"; then
    die "SHA-256 check of the model files failed (artifact ${MODEL_ARTIFACT_URL}):
${report}"
  fi
  # Every file must be listed too: an unlisted file would be loaded but never checked.
  listed="$(sed -E 's/^[0-9a-f]{64} [ *]//' "${dir}/SHA256SUMS" | sort)"
  present="$(cd "${dir}" && find . -type f ! -name SHA256SUMS -printf '%P\n' | sort)"
  if [[ "${listed}" != "${present}" ]]; then
    die "files in the artifact differ from SHA256SUMS:" \
      "$(diff <(echo "${listed}") <(echo "${present}") | grep '^[<>]' | tr '\n' ' ')"
  fi
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
  tar --extract --gzip --file "${work}/artifact.tar.gz" --directory "${staging}" \
    --no-same-owner --no-same-permissions
  verify_files "${staging}"
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
  echo "60-install-model: ${MODEL_NAME:-model} ${MODEL_VERSION} in ${target}, SHA-256 verified"
}

main "$@"
