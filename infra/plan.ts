/**
 * The offline plan: `npm run infra:plan -- <stack | Pulumi.<stack>.yaml>` runs the Pulumi program
 * under the same mocks as the tests, with the stack's configuration and Pulumi.yaml's defaults,
 * and prints what `pulumi up` would create as a tree (type, name, key inputs), then the stack
 * outputs. No AWS account and no Pulumi CLI are needed. A configuration error prints the fixes
 * and exits with status 1.
 */
import { type RecordedResource } from './mocks';
import { runWithMocks } from './run-with-mocks';
import { loadStackSettings, stackFilePath } from './stack-files';

/** Inputs never printed: noise (tags, long documents) or secrets (parameter values). */
const HIDDEN_INPUTS = new Set([
  'tags',
  'tagsAll',
  'value',
  'dashboardBody',
  'code',
  'userData',
  'assumeRolePolicy',
  '__defaults',
]);

/** Longest value printed as is; longer ones are cut. */
const MAX_VALUE_LENGTH = 90;

/** Flattens inputs to `path=value` pairs of their scalar leaves, skipping hidden inputs. */
export function keyInputs(inputs: Record<string, unknown>): string[] {
  const pairs: string[] = [];
  const visit = (value: unknown, path: string): void => {
    if (value === undefined || value === null) return;
    if (Array.isArray(value)) {
      if (value.every((item) => typeof item !== 'object')) {
        pairs.push(`${path}=[${value.join(',')}]`);
        return;
      }
      value.forEach((item, index) => visit(item, `${path}[${index}]`));
      return;
    }
    if (typeof value === 'object') {
      for (const [key, inner] of Object.entries(value as Record<string, unknown>)) {
        if (!HIDDEN_INPUTS.has(key)) visit(inner, path ? `${path}.${key}` : key);
      }
      return;
    }
    const text = String(value);
    pairs.push(
      `${path}=${text.length > MAX_VALUE_LENGTH ? `${text.slice(0, MAX_VALUE_LENGTH)}...` : text}`,
    );
  };
  visit(inputs, '');
  return pairs;
}

/** Renders the resources as a tree under their parents, inputs indented under each. */
export function renderTree(resources: readonly RecordedResource[]): string[] {
  const lines: string[] = [];
  const children = (parent?: RecordedResource) => resources.filter((r) => r.parent === parent);
  const walk = (parent: RecordedResource | undefined, indent: string): void => {
    for (const resource of children(parent)) {
      const kind = resource.custom ? resource.type : `${resource.type} (component)`;
      lines.push(`${indent}+ ${kind}  ${resource.name}`);
      for (const pair of keyInputs(resource.inputs)) lines.push(`${indent}    ${pair}`);
      walk(resource, `${indent}  `);
    }
  };
  walk(undefined, '');
  return lines;
}

async function main(argv: string[]): Promise<number> {
  const target = argv[0];
  if (!target || argv.length > 1) {
    console.error('usage: npm run infra:plan -- <stack name | Pulumi.<stack>.yaml>');
    return 2;
  }
  const settings = loadStackSettings(target);
  const run = await runWithMocks(settings);
  if (run.error) {
    console.error(`plan for stack ${settings.stack} failed:\n${run.error.message}`);
    return 1;
  }
  const shown = run.mocks.tree.filter((r) => r.type !== 'pulumi:providers:aws');
  const count = shown.filter((r) => r.custom).length;
  console.log(`Plan for stack ${settings.stack} (${stackFilePath(target)}): ${count} resources`);
  console.log('(offline: Pulumi mocks stand in for AWS; ids and ARNs below are made up)\n');
  for (const line of renderTree(shown)) console.log(line);
  console.log('\nOutputs:');
  for (const [key, value] of Object.entries(run.outputs)) {
    console.log(`  ${key} = ${typeof value === 'string' ? value : JSON.stringify(value)}`);
  }
  return 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: Error) => {
      console.error(err.message);
      process.exit(1);
    },
  );
}
