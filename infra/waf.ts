/**
 * AWS WAF in front of the load balancer: the AWS managed IP reputation, known-bad-inputs and
 * common rule groups, a rate limit per client IP, and a body size rule that agrees with the
 * server's limit, all answering in the API's JSON error shape; logs go to a log group with
 * retention, with credentials redacted.
 */
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

import { SERVICE_NAME } from '../server/contract';
import { ERROR_CATALOGUE, type ErrorCode } from '../server/errors';
import type { StackConfig } from './config';
import { tagsFor } from './tags';

/** AWS managed rule groups the web ACL runs, in priority order after the stack's own rules. */
export const MANAGED_RULE_GROUPS = [
  'AWSManagedRulesAmazonIpReputationList',
  'AWSManagedRulesKnownBadInputsRuleSet',
  'AWSManagedRulesCommonRuleSet',
] as const;

/** Headers that carry credentials (bearer tokens and API keys alike); WAF logs never show them. */
export const REDACTED_HEADERS = ['authorization'] as const;

/**
 * A regular expression matching the decimal integers greater than `limit` (leading zeros
 * allowed). WAF inspects at most the first 8 KiB of a body behind an ALB, so it cannot measure
 * a 10 MiB upload; the declared `Content-Length` is the only size it can judge. The server
 * still enforces the limit on the bytes it reads, for chunked uploads without a length.
 */
export function integerAbovePattern(limit: number): string {
  if (!Number.isSafeInteger(limit) || limit < 0) throw new RangeError(`bad limit ${limit}`);
  const digits = String(limit);
  const alternatives = [`[1-9]\\d{${digits.length},}`];
  for (let i = 0; i < digits.length; i += 1) {
    const digit = Number(digits[i]);
    if (digit === 9) continue;
    const rest = digits.length - i - 1;
    const tail = rest > 0 ? `\\d{${rest}}` : '';
    // Same digits up to i, a larger digit at i, anything after: a larger number of equal length.
    alternatives.push(`${digits.slice(0, i)}[${digit + 1}-9]${tail}`);
  }
  return `^0*(${alternatives.join('|')})$`;
}

/** Arguments of the WAF component. */
export interface WafArgs {
  readonly config: StackConfig;
  /** ARN of the load balancer the web ACL protects. */
  readonly loadBalancerArn: pulumi.Input<string>;
}

/** The web ACL, its association with the ALB, and its logging. */
export class Waf extends pulumi.ComponentResource {
  /** The web ACL. */
  readonly webAcl: aws.wafv2.WebAcl;
  /** Log group receiving the WAF logs. */
  readonly logGroupName: pulumi.Output<string>;

  constructor(name: string, args: WafArgs, opts?: pulumi.ComponentResourceOptions) {
    super('breed-identifier:infra:Waf', name, {}, opts);
    const { config } = args;
    const tags = tagsFor(config, 'waf');
    const metricPrefix = `${SERVICE_NAME}-${config.stack}`;

    this.webAcl = new aws.wafv2.WebAcl(
      `${name}-acl`,
      {
        scope: 'REGIONAL',
        description: `${SERVICE_NAME} ${config.stack}: managed rules, rate and size limits`,
        defaultAction: { allow: {} },
        customResponseBodies: (['rate_limited', 'payload_too_large'] as const).map(responseBody),
        rules: [
          ...MANAGED_RULE_GROUPS.slice(0, 1).map((group) => managedRule(group, 0, metricPrefix)),
          rateRule(config, metricPrefix),
          sizeRule(config, metricPrefix),
          ...MANAGED_RULE_GROUPS.slice(1).map((group, i) =>
            managedRule(group, 3 + i, metricPrefix),
          ),
        ],
        visibilityConfig: visibility(`${metricPrefix}-acl`),
        tags,
      },
      { parent: this },
    );

    new aws.wafv2.WebAclAssociation(
      `${name}-alb`,
      { resourceArn: args.loadBalancerArn, webAclArn: this.webAcl.arn },
      { parent: this },
    );

    // WAF delivers only to log groups whose name starts with `aws-waf-logs-`.
    const logGroup = new aws.cloudwatch.LogGroup(
      `${name}-logs`,
      {
        name: `aws-waf-logs-${SERVICE_NAME}-${config.stack}`,
        retentionInDays: config.logRetentionDays,
        tags,
      },
      { parent: this },
    );
    this.logGroupName = logGroup.name;

    new aws.wafv2.WebAclLoggingConfiguration(
      `${name}-logging`,
      {
        resourceArn: this.webAcl.arn,
        logDestinationConfigs: [logGroup.arn],
        redactedFields: REDACTED_HEADERS.map((header) => ({ singleHeader: { name: header } })),
      },
      { parent: this },
    );
    this.registerOutputs({ webAclArn: this.webAcl.arn, logGroupName: this.logGroupName });
  }
}

function visibility(metricName: string): aws.types.input.wafv2.WebAclVisibilityConfig {
  return { cloudwatchMetricsEnabled: true, metricName, sampledRequestsEnabled: true };
}

function responseBody(code: ErrorCode): aws.types.input.wafv2.WebAclCustomResponseBody {
  const body = { error: { code, message: ERROR_CATALOGUE[code].message } };
  return { key: code, content: JSON.stringify(body), contentType: 'APPLICATION_JSON' };
}

function blockWith(code: ErrorCode): aws.types.input.wafv2.WebAclRuleAction {
  const responseCode = ERROR_CATALOGUE[code].status;
  return { block: { customResponse: { responseCode, customResponseBodyKey: code } } };
}

/**
 * A managed rule group, enforcing. The common rule set's own body size rule blocks anything
 * over 8 KiB, which is every photo upload, so it only counts; `body-size` below enforces the
 * server's real limit instead.
 */
function managedRule(
  group: (typeof MANAGED_RULE_GROUPS)[number],
  priority: number,
  metricPrefix: string,
): aws.types.input.wafv2.WebAclRule {
  const overrides =
    group === 'AWSManagedRulesCommonRuleSet'
      ? [{ name: 'SizeRestrictions_BODY', actionToUse: { count: {} } }]
      : undefined;
  return {
    name: group,
    priority,
    overrideAction: { none: {} },
    statement: {
      managedRuleGroupStatement: { vendorName: 'AWS', name: group, ruleActionOverrides: overrides },
    },
    visibilityConfig: visibility(`${metricPrefix}-${group}`),
  };
}

/** Per client IP, over a 5-minute window, answered with 429 like the server's own limit. */
function rateRule(config: StackConfig, metricPrefix: string): aws.types.input.wafv2.WebAclRule {
  return {
    name: 'rate-per-ip',
    priority: 1,
    action: blockWith('rate_limited'),
    statement: {
      rateBasedStatement: {
        aggregateKeyType: 'IP',
        limit: config.edge.wafRateLimit,
        evaluationWindowSec: 300,
      },
    },
    visibilityConfig: visibility(`${metricPrefix}-rate-per-ip`),
  };
}

/** Declared bodies above the server's limit get 413 before they reach an instance. */
function sizeRule(config: StackConfig, metricPrefix: string): aws.types.input.wafv2.WebAclRule {
  return {
    name: 'body-size',
    priority: 2,
    action: blockWith('payload_too_large'),
    statement: {
      regexMatchStatement: {
        regexString: integerAbovePattern(config.edge.maxBodyBytes),
        fieldToMatch: { singleHeader: { name: 'content-length' } },
        textTransformations: [{ priority: 0, type: 'NONE' }],
      },
    },
    visibilityConfig: visibility(`${metricPrefix}-body-size`),
  };
}
