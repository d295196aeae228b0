/**
 * The whole stack: validates the configuration first (nothing is declared when it is wrong),
 * then wires the components together and returns the stack outputs.
 */
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

import { AmiLifecycle } from './ami-lifecycle';
import { Batch } from './batch';
import { CapacityReservations } from './capacity-reservation';
import { loadConfig, type StackConfig } from './config';
import { Fleet } from './fleet';
import { resolveGoldenAmi } from './golden-ami';
import { LoadBalancer } from './load-balancer';
import { Network } from './network';
import { Observability } from './observability';
import { Secrets } from './secrets';
import { physicalName } from './tags';
import { Waf } from './waf';

/** What `pulumi stack output` shows. */
export interface StackOutputs {
  readonly endpointUrl: pulumi.Output<string>;
  readonly albDnsName: pulumi.Output<string>;
  readonly fleetGroupName: pulumi.Output<string>;
  readonly batchGroupName: pulumi.Output<string>;
  readonly amiId: pulumi.Output<string>;
  readonly modelVersion: pulumi.Output<string>;
  readonly availabilityZones: pulumi.Output<string[]>;
  readonly inputBucket: pulumi.Output<string>;
  readonly outputBucket: pulumi.Output<string>;
  readonly queueUrl: pulumi.Output<string>;
  readonly secretsParameterPath: string;
  readonly alarmTopicArn: pulumi.Output<string>;
  readonly dashboardName: pulumi.Output<string>;
  readonly metricsScraperSecurityGroupId: pulumi.Output<string>;
}

/** Fails the deployment when a configured zone is not an available zone of the region. */
function checkedZones(config: StackConfig, opts: pulumi.InvokeOutputOptions) {
  return aws.getAvailabilityZonesOutput({ state: 'available' }, opts).apply((found) => {
    const missing = config.availabilityZones.filter((zone) => !found.names.includes(zone));
    if (missing.length > 0) {
      throw new Error(
        `${config.project}:availabilityZones has ${missing.join(', ')}, not available in ` +
          `${config.region} (available: ${found.names.join(', ')})`,
      );
    }
    return [...config.availabilityZones];
  });
}

/** Declares every resource of the stack. */
export function defineStack(): StackOutputs {
  const config = loadConfig();

  const provider = new aws.Provider('aws', { region: config.region as aws.Region });
  const opts: pulumi.ComponentResourceOptions = { providers: [provider] };
  const invoke = { provider };
  const identity = aws.getCallerIdentityOutput({}, invoke);
  const partition = aws.getPartitionOutput({}, invoke).partition;
  const accountId = identity.accountId;
  const ami = resolveGoldenAmi(config, invoke);
  const zones = checkedZones(config, invoke);

  const network = new Network('network', { config }, opts);
  const lb = new LoadBalancer('edge', { config, network }, opts);
  const waf = new Waf('waf', { config, loadBalancerArn: lb.alb.arn }, opts);
  const secrets = new Secrets('secrets', { config, accountId, partition }, opts);
  const batch = new Batch(
    'batch',
    { config, ami, vpcId: network.vpcId, privateSubnetIds: network.privateSubnetIds, partition },
    opts,
  );
  const observability = new Observability(
    'observability',
    {
      config,
      albArnSuffix: lb.alb.arnSuffix,
      targetGroupArnSuffix: lb.targetGroup.arnSuffix,
      fleetGroupName: physicalName(config, 'fleet'),
      batchGroupName: batch.groupName,
      queueName: batch.queueName,
      deadLetterQueueName: batch.deadLetterQueueName,
      webAclName: waf.webAcl.name,
    },
    opts,
  );
  const reservations = new CapacityReservations('baseline', { config }, opts);
  const targetGroupSuffix = lb.targetGroup.arnSuffix;
  const fleet = new Fleet(
    'fleet',
    {
      config,
      ami,
      vpcId: network.vpcId,
      privateSubnetIds: network.privateSubnetIds,
      albSecurityGroupId: lb.securityGroupId,
      targetGroupArn: lb.targetGroup.arn,
      requestCountResourceLabel: pulumi.interpolate`${lb.alb.arnSuffix}/${targetGroupSuffix}`,
      capacityReservationIds: reservations.ids,
      rollbackAlarmNames: observability.rollbackAlarmNames,
      secretsPath: secrets.path,
      secretsParameterArns: secrets.parameterArns,
      secretsKeyArn: secrets.keyArn,
      accountId,
      partition,
    },
    opts,
  );
  if (config.amiRetirement.enabled) {
    new AmiLifecycle('ami-lifecycle', { config, accountId, partition }, opts);
  }

  return {
    endpointUrl: lb.endpointUrl,
    albDnsName: lb.alb.dnsName,
    fleetGroupName: fleet.group.name,
    batchGroupName: batch.groupName,
    amiId: ami.id,
    modelVersion: ami.modelVersion,
    availabilityZones: zones,
    inputBucket: batch.inputBucketName,
    outputBucket: batch.outputBucketName,
    queueUrl: batch.queueUrl,
    secretsParameterPath: secrets.path,
    alarmTopicArn: observability.topicArn,
    dashboardName: observability.dashboardName,
    metricsScraperSecurityGroupId: fleet.metricsScraperSecurityGroup.id,
  };
}
