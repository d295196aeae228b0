/**
 * The network: a VPC across the configured zones with public subnets for the load balancer and
 * private ones for the instances, and the VPC endpoints the instances use for their own traffic
 * (S3, SSM, CloudWatch, Auto Scaling, SQS), so boot, logs and lifecycle calls never depend on NAT.
 */
import * as aws from '@pulumi/aws';
import * as awsx from '@pulumi/awsx';
import * as pulumi from '@pulumi/pulumi';

import type { StackConfig } from './config';
import { tagsFor } from './tags';

/** Interface endpoints the instances call: Session Manager, logs and metrics, lifecycle, queue. */
export const INTERFACE_ENDPOINT_SERVICES = [
  'ssm',
  'ssmmessages',
  'ec2messages',
  'logs',
  'monitoring',
  'autoscaling',
  'sqs',
] as const;

/** Arguments of the network component. */
export interface NetworkArgs {
  readonly config: StackConfig;
}

/** VPC, subnets, NAT and the endpoints; the security-relevant parts are plain AWS resources. */
export class Network extends pulumi.ComponentResource {
  /** Id of the VPC. */
  readonly vpcId: pulumi.Output<string>;
  /** Public subnets, one per zone: the load balancer lives here. */
  readonly publicSubnetIds: pulumi.Output<string[]>;
  /** Private subnets, one per zone: every instance lives here. */
  readonly privateSubnetIds: pulumi.Output<string[]>;
  /** IPv4 block of the VPC, for rules that admit traffic from inside it only. */
  readonly cidrBlock: string;

  constructor(name: string, args: NetworkArgs, opts?: pulumi.ComponentResourceOptions) {
    super('breed-identifier:infra:Network', name, {}, opts);
    const { config } = args;
    this.cidrBlock = config.vpcCidr;

    const vpc = new awsx.ec2.Vpc(
      `${name}-vpc`,
      {
        cidrBlock: config.vpcCidr,
        availabilityZoneNames: [...config.availabilityZones],
        natGateways: { strategy: config.natGateways },
        subnetStrategy: 'Auto',
        subnetSpecs: [
          { type: 'Public', cidrMask: 24 },
          { type: 'Private', cidrMask: 20 },
        ],
        enableDnsHostnames: true,
        enableDnsSupport: true,
        tags: tagsFor(config, 'network'),
      },
      { parent: this },
    );
    this.vpcId = vpc.vpcId;
    this.publicSubnetIds = vpc.publicSubnetIds;
    this.privateSubnetIds = vpc.privateSubnetIds;

    this.gatewayEndpoint(name, config, vpc);
    this.interfaceEndpoints(name, config);
    this.registerOutputs({ vpcId: this.vpcId, privateSubnetIds: this.privateSubnetIds });
  }

  /** S3 through a gateway endpoint on every route table: free, and no NAT bytes for models. */
  private gatewayEndpoint(name: string, config: StackConfig, vpc: awsx.ec2.Vpc): void {
    new aws.ec2.VpcEndpoint(
      `${name}-s3`,
      {
        vpcId: vpc.vpcId,
        serviceName: `com.amazonaws.${config.region}.s3`,
        vpcEndpointType: 'Gateway',
        routeTableIds: vpc.routeTables.apply((tables) => tables.map((table) => table.id)),
        tags: tagsFor(config, 'network'),
      },
      { parent: this },
    );
  }

  /** Interface endpoints with private DNS, reachable on 443 from inside the VPC only. */
  private interfaceEndpoints(name: string, config: StackConfig): void {
    const endpointGroup = new aws.ec2.SecurityGroup(
      `${name}-endpoints`,
      {
        vpcId: this.vpcId,
        description: 'VPC interface endpoints: HTTPS from inside the VPC',
        ingress: [
          {
            description: 'HTTPS from the VPC',
            protocol: 'tcp',
            fromPort: 443,
            toPort: 443,
            cidrBlocks: [config.vpcCidr],
          },
        ],
        tags: tagsFor(config, 'network'),
      },
      { parent: this },
    );

    for (const service of INTERFACE_ENDPOINT_SERVICES) {
      new aws.ec2.VpcEndpoint(
        `${name}-${service}`,
        {
          vpcId: this.vpcId,
          serviceName: `com.amazonaws.${config.region}.${service}`,
          vpcEndpointType: 'Interface',
          privateDnsEnabled: true,
          subnetIds: this.privateSubnetIds,
          securityGroupIds: [endpointGroup.id],
          tags: tagsFor(config, 'network'),
        },
        { parent: this },
      );
    }
  }
}
