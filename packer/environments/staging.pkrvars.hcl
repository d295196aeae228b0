# Staging bake. The release workflow adds the per-release values on its command line (-var):
# model_name, model_version, model_artifact_url, model_artifact_sha256, git_commit,
# bake_inputs_dir, and the CloudWatch agent package URL and SHA-256 it verified.
aws_region             = "eu-west-1"
kms_key_id             = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
build_instance_type    = "g4dn.xlarge"
build_instance_profile = "breed-identifier-staging-packer"
environment            = "staging"
ami_deprecation_days   = 60
