# Inputs of the golden image bake. The release workflow sets the model ones from the artifact
# it verified; `environments/*.pkrvars.hcl` hold the per-environment ones.

variable "aws_region" {
  type        = string
  description = "Region the build instance runs in and the AMI is first registered in."

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.aws_region))
    error_message = "The aws_region value must be a region name such as eu-west-1."
  }
}

variable "copy_regions" {
  type        = map(string)
  description = "More regions to copy the AMI to, each mapped to the KMS key ARN for the copy."
  default     = {}

  validation {
    condition = alltrue([
      for region, key in var.copy_regions :
      can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", region))
      && can(regex("^arn:aws[a-z-]*:kms:", key))
    ])
    error_message = "The copy_regions value must map region names to KMS key ARNs."
  }
}

variable "kms_key_id" {
  type        = string
  description = "KMS key (ARN) that encrypts the root volume and the AMI snapshot in aws_region."

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/", var.kms_key_id))
    error_message = "The kms_key_id value must be a KMS key ARN."
  }
}

variable "build_instance_type" {
  type        = string
  description = "GPU type of the fleet's family, so kernels compiled while validating suit it."

  validation {
    condition     = can(regex("^(g4dn|g5|g6|g6e)\\.[0-9]*x?large$", var.build_instance_type))
    error_message = "The build_instance_type value must be of the g4dn, g5, g6 or g6e family."
  }
}

variable "subnet_id" {
  type        = string
  description = "Subnet of the build instance (route to the archives needed); empty: default VPC."
  default     = ""
}

variable "build_instance_profile" {
  type        = string
  description = "Instance profile of the build instance; it must be able to read the artifact."
}

variable "base_ami_name_filter" {
  type        = string
  description = "Name pattern of the base image (Debian 12 for x86_64, as the rehearsal builds)."
  default     = "debian-12-amd64-*"
}

variable "base_ami_owner" {
  type        = string
  description = "Account id that publishes the base image (Debian's cloud team)."
  default     = "136693071363"

  validation {
    condition     = can(regex("^[0-9]{12}$", var.base_ami_owner))
    error_message = "The base_ami_owner value must be a 12-digit account id."
  }
}

variable "ssh_username" {
  type        = string
  description = "Login user of the base image."
  default     = "admin"
}

variable "root_volume_size_gb" {
  type        = number
  description = "Size of the encrypted gp3 root volume, in GiB (driver, CUDA, server, model)."
  default     = 40

  validation {
    condition     = var.root_volume_size_gb >= 30 && var.root_volume_size_gb <= 200
    error_message = "The root_volume_size_gb value must be between 30 and 200."
  }
}

variable "ami_deprecation_days" {
  type        = number
  description = "Days after the bake when the AMI is marked deprecated (still usable, hidden)."
  default     = 180

  validation {
    condition     = var.ami_deprecation_days >= 7 && var.ami_deprecation_days <= 730
    error_message = "The ami_deprecation_days value must be between 7 and 730."
  }
}

variable "environment" {
  type        = string
  description = "Environment the image is baked for, written into a tag."

  validation {
    condition     = contains(["staging", "production"], var.environment)
    error_message = "The environment value must be staging or production."
  }
}

variable "model_name" {
  type        = string
  description = "Name of the model in the artifact (metadata.json name)."

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9._-]{0,63}$", var.model_name))
    error_message = "The model_name value must be lower-case letters, digits, '.', '-' or '_'."
  }
}

variable "model_version" {
  type        = string
  description = "Model release version (semver): its directory on the image, part of the AMI name."

  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+(-[0-9A-Za-z.-]+)?$", var.model_version))
    error_message = "The model_version value must be a semantic version such as 1.4.0."
  }
}

variable "model_artifact_url" {
  type        = string
  description = "Model artifact (.tar.gz) the build instance fetches: s3://bucket/key or https URL."

  validation {
    condition     = can(regex("^(s3|https)://[^ ]+\\.tar\\.gz$", var.model_artifact_url))
    error_message = "The model_artifact_url value must be an s3:// or https:// URL of a .tar.gz."
  }
}

variable "model_artifact_sha256" {
  type        = string
  description = "SHA-256 of the model artifact, hex; the bake fails if the fetched file differs."

  validation {
    condition     = can(regex("^[0-9a-f]{64}$", var.model_artifact_sha256))
    error_message = "The model_artifact_sha256 value must be 64 lower-case hex digits."
  }
}

variable "git_commit" {
  type        = string
  description = "Commit of this repository the server and the template come from."

  validation {
    condition     = can(regex("^[0-9a-f]{40}$", var.git_commit))
    error_message = "The git_commit value must be a full 40-digit commit id."
  }
}

variable "bake_inputs_dir" {
  type        = string
  description = "Output folder of ami/bundle-inputs.sh: server bundle, Node binary, npm."
}

variable "nvidia_driver_branch" {
  type        = string
  description = "NVIDIA driver branch (major version), installed and held; supports CUDA 11.2."
  default     = "535"

  validation {
    condition = (
      can(regex("^[0-9]{3}$", var.nvidia_driver_branch))
      && tonumber(var.nvidia_driver_branch) >= 460
    )
    error_message = "The nvidia_driver_branch value must be a driver major version of 460 or later."
  }
}

variable "cuda_version" {
  type        = string
  description = "CUDA runtime version: tfjs-node-gpu 4.x (libtensorflow 2.9.1) needs 11.2, not 12."
  default     = "11.2"

  validation {
    condition     = var.cuda_version == "11.2"
    error_message = "The cuda_version value must be 11.2: libtensorflow 2.9.1 is built against it."
  }
}

variable "cudnn_version" {
  type        = string
  description = "cuDNN package version for CUDA 11.2 (8.1 series)."
  default     = "8.1.1.33"

  validation {
    condition     = can(regex("^8\\.1\\.[0-9]+\\.[0-9]+$", var.cudnn_version))
    error_message = "The cudnn_version value must be an 8.1 release such as 8.1.1.33."
  }
}

variable "node_version" {
  type        = string
  description = "Node.js version the image runs (22 LTS); must equal the binary in bake_inputs_dir."
  default     = "22.23.5"

  validation {
    condition     = can(regex("^22\\.[0-9]+\\.[0-9]+$", var.node_version))
    error_message = "The node_version value must be a Node.js 22 LTS release."
  }
}

variable "tfjs_version" {
  type        = string
  description = "Version of @tensorflow/tfjs-node-gpu the server's lock file pins (4.x)."
  default     = "4.22.0"

  validation {
    condition     = can(regex("^4\\.[0-9]+\\.[0-9]+$", var.tfjs_version))
    error_message = "The tfjs_version value must be a 4.x release."
  }
}

variable "cloudwatch_agent_package_url" {
  type        = string
  description = "https URL of the CloudWatch agent .deb for amd64 (a versioned path, not latest)."

  validation {
    condition     = can(regex("^https://[^ ]+\\.deb$", var.cloudwatch_agent_package_url))
    error_message = "The cloudwatch_agent_package_url value must be an https URL of a .deb file."
  }
}

variable "cloudwatch_agent_package_sha256" {
  type        = string
  description = "SHA-256 of that CloudWatch agent package, hex."

  validation {
    condition     = can(regex("^[0-9a-f]{64}$", var.cloudwatch_agent_package_sha256))
    error_message = "The cloudwatch_agent_package_sha256 value must be 64 lower-case hex digits."
  }
}
