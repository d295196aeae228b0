# Production bake: built on the fleet's GPU family in the primary region, copied to the
# recovery region under that region's key. Per-release values come from the release workflow
# on its command line (see staging.pkrvars.hcl).
aws_region             = "eu-west-1"
kms_key_id             = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
build_instance_type    = "g5.xlarge"
build_instance_profile = "breed-identifier-production-packer"
environment            = "production"
ami_deprecation_days   = 180
root_volume_size_gb    = 50

copy_regions = {
  "eu-central-1" = "arn:aws:kms:eu-central-1:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321"
}
