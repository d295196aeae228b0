/**
 * The public entry: an Application Load Balancer in the public subnets, HTTPS with a modern TLS
 * policy (plain HTTP only redirects, except in a dev stack without a certificate), and a target
 * group on the server port whose health check is the server's readiness path. Listener rules
 * forward only the public paths; everything else, `/metrics` and `/health/*` included, gets a
 * fixed 404 at the load balancer.
 */
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

import { PATHS, PUBLIC_API_PREFIX, SERVER_PORT } from '../server/contract';
import { ERROR_CATALOGUE } from '../server/errors';
import type { StackConfig } from './config';
import type { Network } from './network';
import { tagsFor } from './tags';

/** TLS 1.3 with TLS 1.2 restricted to forward-secret AEAD suites. */
export const TLS_POLICY = 'ELBSecurityPolicy-TLS13-1-2-Res-2021-06';

/**
 * Paths of the try-it page forwarded when `tryItPage` is on: the page, its readable API
 * description (`/docs`, served by server/http/page.ts), the OpenAPI document and static files.
 */
export const TRY_IT_PAGE_PATHS = [PATHS.page, '/docs', PATHS.openapi, '/static/*'] as const;

/** Path patterns the load balancer forwards to the fleet, by rule. */
export function forwardedPathPatterns(config: StackConfig): string[][] {
  const api = [`${PUBLIC_API_PREFIX}*`];
  return config.edge.tryItPage ? [api, [...TRY_IT_PAGE_PATHS]] : [api];
}

/** Arguments of the load balancer component. */
export interface LoadBalancerArgs {
  readonly config: StackConfig;
  readonly network: Network;
}

/** ALB, its security group, target group, listeners and listener rules. */
export class LoadBalancer extends pulumi.ComponentResource {
  /** Security group of the load balancer; the fleet admits the server port from it only. */
  readonly securityGroupId: pulumi.Output<string>;
  /** The load balancer. */
  readonly alb: aws.lb.LoadBalancer;
  /** Target group of the inference fleet. */
  readonly targetGroup: aws.lb.TargetGroup;
  /** URL clients call. */
  readonly endpointUrl: pulumi.Output<string>;

  constructor(name: string, args: LoadBalancerArgs, opts?: pulumi.ComponentResourceOptions) {
    super('breed-identifier:infra:LoadBalancer', name, {}, opts);
    const { config, network } = args;
    const tags = tagsFor(config, 'load-balancer');
    const https = config.edge.certificateArn !== undefined;

    const group = this.securityGroup(name, config, network, https);
    this.securityGroupId = group.id;

    this.alb = new aws.lb.LoadBalancer(
      `${name}-alb`,
      {
        loadBalancerType: 'application',
        internal: false,
        subnets: network.publicSubnetIds,
        securityGroups: [group.id],
        dropInvalidHeaderFields: true,
        desyncMitigationMode: 'defensive',
        enableHttp2: true,
        idleTimeout: 60,
        accessLogs: config.edge.accessLogsBucket
          ? { bucket: config.edge.accessLogsBucket, prefix: config.stack, enabled: true }
          : undefined,
        tags,
      },
      { parent: this },
    );

    this.targetGroup = new aws.lb.TargetGroup(
      `${name}-fleet`,
      {
        vpcId: network.vpcId,
        port: SERVER_PORT,
        protocol: 'HTTP',
        targetType: 'instance',
        // Inference answers in well under a second; 30 s drains in-flight uploads with margin.
        deregistrationDelay: 30,
        loadBalancingAlgorithmType: 'least_outstanding_requests',
        healthCheck: {
          path: PATHS.ready,
          port: 'traffic-port',
          protocol: 'HTTP',
          matcher: '200',
          interval: 10,
          timeout: 5,
          healthyThreshold: 2,
          unhealthyThreshold: 3,
        },
        tags,
      },
      { parent: this },
    );

    const publicListener = https
      ? this.httpsListeners(name, config, tags)
      : this.plainListener(name, tags);
    this.forwardRules(name, config, publicListener, tags);

    const scheme = https ? 'https' : 'http';
    this.endpointUrl = pulumi.interpolate`${scheme}://${this.alb.dnsName}`;
    this.registerOutputs({ endpointUrl: this.endpointUrl, dnsName: this.alb.dnsName });
  }

  /** Clients in from the allowed CIDRs; out only to the server port inside the VPC. */
  private securityGroup(
    name: string,
    config: StackConfig,
    network: Network,
    https: boolean,
  ): aws.ec2.SecurityGroup {
    const ports = https ? [443, 80] : [80];
    return new aws.ec2.SecurityGroup(
      `${name}-alb`,
      {
        vpcId: network.vpcId,
        description: 'Load balancer: clients in, server port out to the VPC',
        ingress: ports.map((port) => ({
          description: `HTTP${port === 443 ? 'S' : ''} from allowed clients`,
          protocol: 'tcp',
          fromPort: port,
          toPort: port,
          cidrBlocks: [...config.edge.allowedClientCidrs],
        })),
        egress: [
          {
            description: 'Server port on the fleet',
            protocol: 'tcp',
            fromPort: SERVER_PORT,
            toPort: SERVER_PORT,
            cidrBlocks: [network.cidrBlock],
          },
        ],
        tags: tagsFor(config, 'load-balancer'),
      },
      { parent: this },
    );
  }

  /** HTTPS on 443 (default: 404) and HTTP on 80 answering only with a redirect to HTTPS. */
  private httpsListeners(
    name: string,
    config: StackConfig,
    tags: Record<string, string>,
  ): aws.lb.Listener {
    new aws.lb.Listener(
      `${name}-http`,
      {
        loadBalancerArn: this.alb.arn,
        port: 80,
        protocol: 'HTTP',
        defaultActions: [
          {
            type: 'redirect',
            redirect: { protocol: 'HTTPS', port: '443', statusCode: 'HTTP_301' },
          },
        ],
        tags,
      },
      { parent: this },
    );
    return new aws.lb.Listener(
      `${name}-https`,
      {
        loadBalancerArn: this.alb.arn,
        port: 443,
        protocol: 'HTTPS',
        sslPolicy: TLS_POLICY,
        certificateArn: config.edge.certificateArn,
        defaultActions: [notFoundAction()],
        tags,
      },
      { parent: this },
    );
  }

  /** Plain HTTP on 80 (dev stacks without a certificate), default 404 like the HTTPS one. */
  private plainListener(name: string, tags: Record<string, string>): aws.lb.Listener {
    return new aws.lb.Listener(
      `${name}-http`,
      {
        loadBalancerArn: this.alb.arn,
        port: 80,
        protocol: 'HTTP',
        defaultActions: [notFoundAction()],
        tags,
      },
      { parent: this },
    );
  }

  /** One forward rule per group of public path patterns. */
  private forwardRules(
    name: string,
    config: StackConfig,
    listener: aws.lb.Listener,
    tags: Record<string, string>,
  ): void {
    forwardedPathPatterns(config).forEach((patterns, index) => {
      new aws.lb.ListenerRule(
        `${name}-public-${index === 0 ? 'api' : 'page'}`,
        {
          listenerArn: listener.arn,
          priority: 10 * (index + 1),
          conditions: [{ pathPattern: { values: patterns } }],
          actions: [{ type: 'forward', targetGroupArn: this.targetGroup.arn }],
          tags,
        },
        { parent: this },
      );
    });
  }
}

/** The fixed answer for every path that is not public, in the API's JSON error shape. */
function notFoundAction(): aws.types.input.lb.ListenerDefaultAction {
  const body = { error: { code: 'not_found', message: ERROR_CATALOGUE.not_found.message } };
  return {
    type: 'fixed-response',
    fixedResponse: {
      statusCode: '404',
      contentType: 'application/json',
      messageBody: JSON.stringify(body),
    },
  };
}
