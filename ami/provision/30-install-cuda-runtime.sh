#!/usr/bin/env bash
# Installs the CUDA 11.2 runtime and cuDNN 8.1 libraries that libtensorflow 2.9.1 (inside
# @tensorflow/tfjs-node-gpu 4.x) loads; it does not work with CUDA 12. NVIDIA publishes these
# versions only for older distributions, so the packages are downloaded from NVIDIA's Ubuntu
# 20.04 repository through apt (which checks the repository's signature and each package's
# hash), and only their shared libraries are copied into CUDA_DIR: no toolkit, no compiler,
# nothing registered with dpkg that could pull other packages in.
set -o errexit -o nounset -o pipefail

readonly REPO_URL=https://developer.download.nvidia.com/compute/cuda/repos/ubuntu2004/x86_64
readonly REPO_KEY_FINGERPRINT=EB693B3035CD5710E231E123A4B469963BF863CC
readonly CUDA_DIR=/opt/cuda-11.2
readonly LD_CONF=/etc/ld.so.conf.d/cuda-11-2.conf
# Shared objects libtensorflow 2.9.1 opens at start-up.
readonly REQUIRED_LIBRARIES=(
  libcudart.so.11.0
  libcublas.so.11
  libcublasLt.so.11
  libcufft.so.10
  libcurand.so.10
  libcusolver.so.11
  libcusparse.so.11
  libcudnn.so.8
)

die() {
  echo "30-install-cuda-runtime: $*" >&2
  exit 1
}

# apt with its own sources, lists and cache under the work directory, so the system's sources
# never mention NVIDIA's Ubuntu repository.
private_apt() {
  local work="$1"
  shift
  apt-get \
    -o "Dir::Etc::SourceList=${work}/sources.list" \
    -o "Dir::Etc::SourceParts=${work}/sources.list.d" \
    -o "Dir::State::Lists=${work}/lists" \
    -o "Dir::Cache::Archives=${work}/archives" \
    -o "APT::Get::List-Cleanup=0" \
    "$@"
}

fetch_repository_key() {
  local work="$1" fingerprint
  curl --fail --silent --show-error --location --retry 5 \
    --output "${work}/key.pub" "${REPO_URL}/3bf863cc.pub"
  fingerprint="$(gpg --show-keys --with-colons "${work}/key.pub" |
    awk -F: '$1 == "fpr" { print $10; exit }')"
  [[ "${fingerprint}" == "${REPO_KEY_FINGERPRINT}" ]] ||
    die "NVIDIA repository key fingerprint ${fingerprint} is not ${REPO_KEY_FINGERPRINT}"
  gpg --dearmor --output "${work}/key.gpg" "${work}/key.pub"
}

download_packages() {
  local work="$1" suffix="${CUDA_VERSION//./-}"
  mkdir -p "${work}/lists/partial" "${work}/archives/partial" "${work}/debs" \
    "${work}/sources.list.d"
  echo "deb [signed-by=${work}/key.gpg] ${REPO_URL}/ /" >"${work}/sources.list"
  private_apt "${work}" update -qq
  (
    cd "${work}/debs"
    private_apt "${work}" download -qq \
      "cuda-cudart-${suffix}" \
      "libcublas-${suffix}" \
      "libcufft-${suffix}" \
      "libcurand-${suffix}" \
      "libcusolver-${suffix}" \
      "libcusparse-${suffix}" \
      "libcudnn8=${CUDNN_VERSION}-1+cuda${CUDA_VERSION}"
  )
}

install_libraries() {
  local work="$1" deb
  mkdir -p "${work}/root"
  for deb in "${work}"/debs/*.deb; do
    dpkg-deb --extract "${deb}" "${work}/root"
  done
  rm -rf "${CUDA_DIR}"
  install -d -m 0755 "${CUDA_DIR}/lib64"
  find "${work}/root" \( -type f -o -type l \) -name 'lib*.so.*' \
    -exec cp --no-dereference --preserve=links,mode -t "${CUDA_DIR}/lib64" {} +
  echo "${CUDA_DIR}/lib64" >"${LD_CONF}"
  ldconfig
}

check_libraries() {
  local library
  for library in "${REQUIRED_LIBRARIES[@]}"; do
    ldconfig -p | grep -q "${library} " || die "${library} not found after installation"
  done
}

main() {
  if [[ "${BAKE_PROFILE}" == "rehearsal" ]]; then
    echo "30-install-cuda-runtime: skipped (BAKE_PROFILE=rehearsal, no GPU)"
    return 0
  fi
  : "${CUDA_VERSION:?set the CUDA version}" "${CUDNN_VERSION:?set the cuDNN version}"
  local work
  work="$(mktemp -d)"
  trap 'rm -rf "${work}"' EXIT

  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gpg >/dev/null
  fetch_repository_key "${work}"
  download_packages "${work}"
  install_libraries "${work}"
  check_libraries
  echo "30-install-cuda-runtime: CUDA ${CUDA_VERSION}, cuDNN ${CUDNN_VERSION} in ${CUDA_DIR}"
}

main "$@"
