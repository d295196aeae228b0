/**
 * Prints the image layout from the contract as `NAME=value` lines, the same variables the
 * Packer template gives every provisioner (`local.provision_env`), so that the rehearsal runs
 * the provisioners with values taken from the contract itself rather than a third copy.
 */
import { IMAGE_LAYOUT, PATHS, SERVER_PORT, SERVICE_NAME } from '../contract';

/** The layout variables, by name. */
export function layoutEnvironment(): Record<string, string> {
  return {
    SERVICE_NAME,
    APP_DIR: IMAGE_LAYOUT.appDir,
    MODELS_DIR: IMAGE_LAYOUT.modelsDir,
    CURRENT_MODEL_LINK: IMAGE_LAYOUT.currentModelLink,
    ENV_FILE: IMAGE_LAYOUT.envFile,
    INSTANCE_ENV_FILE: IMAGE_LAYOUT.instanceEnvFile,
    SECRETS_ENV_FILE: IMAGE_LAYOUT.secretsEnvFile,
    SERVER_UNIT: IMAGE_LAYOUT.serverUnit,
    BOOT_AGENT_UNIT: IMAGE_LAYOUT.bootAgentUnit,
    BATCH_UNIT: IMAGE_LAYOUT.batchUnit,
    SERVER_PORT: String(SERVER_PORT),
    READY_PATH: PATHS.ready,
    MODELS_PATH: PATHS.models,
  };
}

if (require.main === module) {
  for (const [name, value] of Object.entries(layoutEnvironment())) console.log(`${name}=${value}`);
}
