# The build instance and the image it becomes: a GPU instance of the fleet's family from the
# Debian 12 base image, an encrypted gp3 root, IMDSv2 only, and an AMI that keeps requiring
# IMDSv2, is tagged with what it carries and deprecates itself.
source "amazon-ebs" "golden" {
  region               = var.aws_region
  instance_type        = var.build_instance_type
  subnet_id            = var.subnet_id
  iam_instance_profile = var.build_instance_profile
  ssh_username         = var.ssh_username
  ena_support          = true

  source_ami_filter {
    filters = {
      name                = var.base_ami_name_filter
      architecture        = "x86_64"
      virtualization-type = "hvm"
      root-device-type    = "ebs"
    }
    owners      = [var.base_ami_owner]
    most_recent = true
  }

  # IMDSv2 only on the build instance, as on the fleet.
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  launch_block_device_mappings {
    device_name           = "/dev/xvda"
    volume_type           = "gp3"
    volume_size           = var.root_volume_size_gb
    iops                  = 3000
    throughput            = 250
    encrypted             = true
    kms_key_id            = var.kms_key_id
    delete_on_termination = true
  }

  ami_name           = local.ami_name
  ami_description    = "breed-identifier ${var.model_name} ${var.model_version} ${var.git_commit}"
  encrypt_boot       = true
  kms_key_id         = var.kms_key_id
  ami_regions        = keys(local.region_kms_key_ids)
  region_kms_key_ids = local.region_kms_key_ids
  imds_support       = "v2.0"
  deprecate_at       = local.deprecate_at

  tags          = local.ami_tags
  snapshot_tags = local.ami_tags
  run_tags = {
    Name                       = "packer-${local.ami_name}"
    "breed-identifier:service" = "breed-identifier"
  }
}
