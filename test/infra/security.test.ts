import assert from 'node:assert/strict';

import type { RecordedResource } from '../../infra/mocks';
import { SECRETS, SERVER_PORT } from '../../server/contract';
import {
  input,
  list,
  named,
  ofType,
  resourcesOf,
  runStack,
  statements,
  type Statement,
} from './support';

const SG = 'aws:ec2/securityGroup:SecurityGroup';
const ROLE_POLICY = 'aws:iam/rolePolicy:RolePolicy';

interface Rule {
  protocol: string;
  fromPort: number;
  toPort: number;
  cidrBlocks?: string[];
  securityGroups?: string[];
}

const rules = (group: RecordedResource, direction: 'ingress' | 'egress') =>
  (group.inputs[direction] as Rule[] | undefined) ?? [];

const covers = (rule: Rule, port: number) =>
  rule.protocol === '-1' || (rule.fromPort <= port && port <= rule.toPort);

for (const stack of ['dev', 'prod'] as const) {
  describe(`infra security policies (${stack} stack)`, function () {
    this.timeout(180_000);
    let resources: RecordedResource[];

    before(async () => {
      resources = await resourcesOf(runStack(stack));
    });

    it('instances are reachable only from the ALB (and VPC scrapers) on the server port', () => {
      const instances = named(resources, SG, 'fleet-instances');
      const alb = named(resources, SG, 'edge-alb');
      const scraper = named(resources, SG, 'fleet-metrics-scraper');
      const ingress = rules(instances, 'ingress');

      assert.ok(ingress.length > 0);
      for (const rule of ingress) {
        assert.equal(rule.protocol, 'tcp');
        assert.equal(rule.fromPort, SERVER_PORT);
        assert.equal(rule.toPort, SERVER_PORT);
        assert.deepEqual(rule.cidrBlocks ?? [], [], 'no CIDR may reach the instances directly');
        for (const source of rule.securityGroups ?? []) {
          assert.ok([alb.id, scraper.id].includes(source), `unexpected source group ${source}`);
        }
      }
      const fromAlb = ingress.filter((rule) => rule.securityGroups?.includes(alb.id ?? ''));
      assert.equal(fromAlb.length, 1, 'exactly one rule admits the load balancer');
    });

    it('the scraper group reaches only the server port, inside the VPC', () => {
      const scraper = named(resources, SG, 'fleet-metrics-scraper');
      assert.deepEqual(rules(scraper, 'ingress'), []);
      for (const rule of rules(scraper, 'egress')) {
        assert.equal(rule.fromPort, SERVER_PORT);
        assert.deepEqual(rule.cidrBlocks, [
          input(named(resources, 'awsx:ec2:Vpc', 'network-vpc'), 'cidrBlock'),
        ]);
      }
    });

    it('the load balancer sends traffic only to the server port inside the VPC', () => {
      const egress = rules(named(resources, SG, 'edge-alb'), 'egress');
      const vpcCidr = input<string>(named(resources, 'awsx:ec2:Vpc', 'network-vpc'), 'cidrBlock');
      assert.deepEqual(
        egress.map((rule) => [rule.fromPort, rule.toPort, rule.cidrBlocks]),
        [[SERVER_PORT, SERVER_PORT, [vpcCidr]]],
      );
    });

    it('batch workers accept no inbound traffic at all', () => {
      assert.deepEqual(rules(named(resources, SG, 'batch-instances'), 'ingress'), []);
    });

    it('nothing opens SSH, and no launch template carries a key pair', () => {
      for (const group of ofType(resources, SG)) {
        for (const rule of rules(group, 'ingress')) {
          assert.ok(!covers(rule, 22), `${group.name} opens port 22`);
        }
      }
      for (const template of ofType(resources, 'aws:ec2/launchTemplate:LaunchTemplate')) {
        assert.equal(template.inputs.keyName, undefined, `${template.name} has a key pair`);
      }
    });

    it('only the load balancer listens to the internet, on 80 and 443', () => {
      for (const group of ofType(resources, SG)) {
        for (const rule of rules(group, 'ingress')) {
          if (!(rule.cidrBlocks ?? []).includes('0.0.0.0/0')) continue;
          assert.equal(group.name, 'edge-alb', `${group.name} is open to the world`);
          assert.ok([80, 443].includes(rule.fromPort) && rule.fromPort === rule.toPort);
        }
      }
    });

    it('every launch template requires IMDSv2 with a hop limit of 1', () => {
      const templates = ofType(resources, 'aws:ec2/launchTemplate:LaunchTemplate');
      assert.equal(templates.length, 2);
      for (const template of templates) {
        assert.equal(input(template, 'metadataOptions.httpTokens'), 'required', template.name);
        assert.equal(input(template, 'metadataOptions.httpPutResponseHopLimit'), 1, template.name);
      }
    });

    it('every volume is encrypted gp3', () => {
      for (const template of ofType(resources, 'aws:ec2/launchTemplate:LaunchTemplate')) {
        const devices = template.inputs.blockDeviceMappings as { ebs: Record<string, unknown> }[];
        assert.ok(devices.length > 0);
        for (const device of devices) {
          assert.equal(device.ebs.encrypted, 'true', template.name);
          assert.equal(device.ebs.volumeType, 'gp3', template.name);
        }
      }
    });

    it('every bucket is encrypted, versioned, not public and refuses plain HTTP', () => {
      const buckets = ofType(resources, 'aws:s3/bucket:Bucket');
      assert.equal(buckets.length, 2);
      for (const bucket of buckets) {
        const about = (type: string) =>
          ofType(resources, type).filter((r) => r.inputs.bucket === bucket.id);
        const [encryption] = about(
          'aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration',
        );
        assert.ok(encryption, `${bucket.name} has no encryption`);
        assert.match(
          String(input(encryption, 'rules.0.applyServerSideEncryptionByDefault.sseAlgorithm')),
          /^(AES256|aws:kms)$/,
        );

        const [block] = about('aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock');
        assert.ok(block, `${bucket.name} has no public access block`);
        for (const flag of [
          'blockPublicAcls',
          'blockPublicPolicy',
          'ignorePublicAcls',
          'restrictPublicBuckets',
        ]) {
          assert.equal(block.inputs[flag], true, `${bucket.name} ${flag}`);
        }
        const [versioning] = about('aws:s3/bucketVersioning:BucketVersioning');
        assert.equal(input(versioning!, 'versioningConfiguration.status'), 'Enabled');
        assert.equal(
          about('aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration').length,
          1,
        );

        const [policy] = about('aws:s3/bucketPolicy:BucketPolicy');
        const deny = statements(policy!.inputs.policy).find((s) => s.Effect === 'Deny');
        assert.deepEqual(deny?.Condition, { Bool: { 'aws:SecureTransport': 'false' } });
        assert.equal(
          statements(policy!.inputs.policy).filter((s) => s.Effect === 'Allow').length,
          0,
          'bucket policies grant nothing',
        );
      }
    });

    it('no IAM statement allows * on *, and none allows every action of a service on *', () => {
      const documents = [
        ...ofType(resources, ROLE_POLICY).map((p) => p.inputs.policy),
        ...ofType(resources, 'aws:iam/role:Role').map((r) => r.inputs.assumeRolePolicy),
      ];
      assert.ok(documents.length >= 4);
      for (const statement of documents.flatMap(statements)) {
        if (statement.Effect !== 'Allow') continue;
        const actions = list(statement.Action);
        const targets = list(statement.Resource);
        assert.ok(!actions.includes('*'), `statement ${statement.Sid} allows every action`);
        if (targets.includes('*')) {
          for (const action of actions) {
            assert.match(action, /^[a-z0-9]+:(Describe|List|Get)[A-Za-z]+$/, `${action} on *`);
          }
        }
      }
    });

    it('instances get only the SSM core and CloudWatch agent managed policies', () => {
      const attached = ofType(resources, 'aws:iam/rolePolicyAttachment:RolePolicyAttachment').map(
        (a) => String(a.inputs.policyArn).split('/').pop(),
      );
      assert.deepEqual(
        new Set(attached),
        new Set(['AmazonSSMManagedInstanceCore', 'CloudWatchAgentServerPolicy']),
      );
    });

    it('secrets are SecureString parameters under the stack path, named by the contract', () => {
      const parameters = ofType(resources, 'aws:ssm/parameter:Parameter');
      assert.ok(parameters.length > 0);
      const key = named(resources, 'aws:kms/key:Key', 'secrets-key');
      for (const parameter of parameters) {
        const name = String(parameter.inputs.name);
        const prefix = `${SECRETS.parameterPathPrefix}/${stack}/`;
        assert.ok(name.startsWith(prefix), name);
        assert.ok(Object.keys(SECRETS.parameters).includes(name.slice(prefix.length)), name);
        assert.equal(parameter.inputs.type, 'SecureString');
        assert.equal(
          parameter.inputs.keyId,
          `arn:aws:kms:eu-west-1:123456789012:secrets-key/${key.id}`,
        );
      }
    });

    it('only the fleet role may read the secrets: parameter path and key', () => {
      const readers = new Map<string, Statement[]>();
      for (const policy of ofType(resources, ROLE_POLICY)) {
        const reading = statements(policy.inputs.policy).filter((s) =>
          list(s.Action).some((action) => /^(ssm:GetParameter|kms:Decrypt)/.test(action)),
        );
        if (reading.length > 0) readers.set(policy.name, reading);
      }
      assert.deepEqual([...readers.keys()], ['fleet-instance-inline']);

      const path = `${SECRETS.parameterPathPrefix}/${stack}`;
      const ssm = readers
        .get('fleet-instance-inline')!
        .find((s) => list(s.Action).includes('ssm:GetParametersByPath'));
      assert.deepEqual(list(ssm?.Resource), [
        `arn:aws:ssm:eu-west-1:123456789012:parameter${path}`,
        `arn:aws:ssm:eu-west-1:123456789012:parameter${path}/*`,
      ]);
      const kms = readers
        .get('fleet-instance-inline')!
        .find((s) => list(s.Action).includes('kms:Decrypt'));
      const key = named(resources, 'aws:kms/key:Key', 'secrets-key');
      assert.deepEqual(list(kms?.Resource), [
        `arn:aws:kms:eu-west-1:123456789012:secrets-key/${key.id}`,
      ]);
      assert.deepEqual(kms?.Condition, {
        StringEquals: { 'kms:ViaService': 'ssm.eu-west-1.amazonaws.com' },
      });
    });

    it('the fleet completes lifecycle actions of its own group only', () => {
      const policy = named(resources, ROLE_POLICY, 'fleet-instance-inline');
      const hook = statements(policy.inputs.policy).find((s) =>
        list(s.Action).includes('autoscaling:CompleteLifecycleAction'),
      );
      assert.deepEqual(list(hook?.Resource), [
        'arn:aws:autoscaling:eu-west-1:123456789012:autoScalingGroup:*:' +
          `autoScalingGroupName/breed-identifier-${stack}-fleet`,
      ]);
    });
  });
}
