# The bake: stage the inputs, run the numbered provisioners, reboot onto the NVIDIA driver,
# validate on the GPU (which also fills the CUDA kernel cache the image keeps), clean up,
# check the cleanup, and record the AMI ids for the release workflow.
build {
  name    = "golden-ami"
  sources = ["source.amazon-ebs.golden"]

  provisioner "shell" {
    inline = [
      "rm -rf ${local.bake_dir}",
      "mkdir -p ${local.bake_dir}/rootfs ${local.bake_dir}/inputs",
    ]
  }

  # Trailing slashes: copy the directories' contents, not the directories.
  provisioner "file" {
    source      = "${path.root}/../ami/rootfs/"
    destination = "${local.bake_dir}/rootfs"
  }

  provisioner "file" {
    source      = "${var.bake_inputs_dir}/"
    destination = "${local.bake_dir}/inputs"
  }

  provisioner "shell" {
    execute_command  = local.sudo_execute
    environment_vars = local.provision_env
    scripts = [
      "${path.root}/../ami/provision/10-install-base-packages.sh",
      "${path.root}/../ami/provision/20-install-nvidia-driver.sh",
      "${path.root}/../ami/provision/30-install-cuda-runtime.sh",
      "${path.root}/../ami/provision/40-install-node.sh",
      "${path.root}/../ami/provision/50-install-server.sh",
      "${path.root}/../ami/provision/60-install-model.sh",
      "${path.root}/../ami/provision/70-install-service.sh",
      "${path.root}/../ami/provision/80-install-cloudwatch-agent.sh",
    ]
  }

  # The driver's kernel module loads on the next boot; the GPU checks need it.
  provisioner "shell" {
    execute_command   = local.sudo_execute
    inline            = ["systemctl reboot"]
    expect_disconnect = true
  }

  provisioner "shell" {
    pause_before     = "30s"
    execute_command  = "sudo env {{ .Vars }} bash '{{ .Path }}' serve"
    environment_vars = local.provision_env
    script           = "${path.root}/../ami/validate.sh"
  }

  provisioner "shell" {
    execute_command  = local.sudo_execute
    environment_vars = local.provision_env
    script           = "${path.root}/../ami/provision/90-clean-image.sh"
  }

  provisioner "shell" {
    execute_command  = "sudo env {{ .Vars }} bash '{{ .Path }}' clean"
    environment_vars = local.provision_env
    script           = "${path.root}/../ami/validate.sh"
  }

  post-processor "manifest" {
    output     = "${path.root}/manifest.json"
    strip_path = true
    custom_data = {
      model_name    = var.model_name
      model_version = var.model_version
      model_sha256  = var.model_artifact_sha256
      git_commit    = var.git_commit
    }
  }
}
