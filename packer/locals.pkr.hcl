# Values derived from the variables, and the image layout shared with server/contract.ts
# (test/ami/contract.test.ts fails if any literal here drifts from it).
locals {
  # One timestamp for the whole build, so the name and the deprecation date agree.
  build_time   = timestamp()
  build_stamp  = formatdate("YYYYMMDDhhmmss", local.build_time)
  ami_name     = "breed-identifier-${var.model_name}-${var.model_version}-${local.build_stamp}"
  deprecate_at = timeadd(local.build_time, "${var.ami_deprecation_days * 24}h")

  # Every region the AMI is registered in, the build region included, with its key
  # (the plugin wants the build region listed when each region has its own key).
  region_kms_key_ids = merge({ (var.aws_region) = var.kms_key_id }, var.copy_regions)

  ami_tags = {
    "Name"                           = local.ami_name
    "Environment"                    = var.environment
    "breed-identifier:service"       = "breed-identifier"
    "breed-identifier:model-name"    = var.model_name
    "breed-identifier:model-version" = var.model_version
    "breed-identifier:model-sha256"  = var.model_artifact_sha256
    "breed-identifier:git-commit"    = var.git_commit
    "breed-identifier:nvidia-driver" = var.nvidia_driver_branch
    "breed-identifier:cuda"          = var.cuda_version
    "breed-identifier:cudnn"         = var.cudnn_version
    "breed-identifier:node"          = var.node_version
    "breed-identifier:tfjs"          = var.tfjs_version
  }

  # Where the provisioners find their inputs on the build instance.
  bake_dir = "/tmp/breed-bake"

  # Environment of every provisioner: the image layout, then this bake's inputs.
  provision_env = [
    "BAKE_PROFILE=gpu",
    "BAKE_DIR=${local.bake_dir}",
    "SERVICE_NAME=breed-identifier",
    "APP_DIR=/opt/breed-identifier/app",
    "MODELS_DIR=/opt/breed-identifier/models",
    "CURRENT_MODEL_LINK=/opt/breed-identifier/models/current",
    "ENV_FILE=/etc/breed-identifier/server.env",
    "INSTANCE_ENV_FILE=/etc/breed-identifier/instance.env",
    "SECRETS_ENV_FILE=/var/lib/breed-identifier/secrets.env",
    "SERVER_UNIT=breed-identifier.service",
    "BOOT_AGENT_UNIT=breed-identifier-boot.service",
    "BATCH_UNIT=breed-identifier-batch.service",
    "SERVER_PORT=8080",
    "READY_PATH=/health/ready",
    "MODELS_PATH=/v1/models",
    "AWS_REGION=${var.aws_region}",
    "MODEL_NAME=${var.model_name}",
    "MODEL_VERSION=${var.model_version}",
    "MODEL_ARTIFACT_URL=${var.model_artifact_url}",
    "MODEL_ARTIFACT_SHA256=${var.model_artifact_sha256}",
    "NVIDIA_DRIVER_BRANCH=${var.nvidia_driver_branch}",
    "CUDA_VERSION=${var.cuda_version}",
    "CUDNN_VERSION=${var.cudnn_version}",
    "NODE_VERSION=${var.node_version}",
    "TFJS_VERSION=${var.tfjs_version}",
    "CLOUDWATCH_AGENT_PACKAGE_URL=${var.cloudwatch_agent_package_url}",
    "CLOUDWATCH_AGENT_PACKAGE_SHA256=${var.cloudwatch_agent_package_sha256}",
  ]

  # Run each script as root with the environment above (the base image's user has sudo).
  sudo_execute = "sudo env {{ .Vars }} bash '{{ .Path }}'"
}
