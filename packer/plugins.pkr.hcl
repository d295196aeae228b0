# Plugins the golden image template needs, pinned exactly so that two bakes of the same commit
# use the same builder code. `packer init packer/` installs them.
packer {
  required_version = ">= 1.10.0"

  required_plugins {
    amazon = {
      source  = "github.com/hashicorp/amazon"
      version = "= 1.3.3"
    }
  }
}
