import assert from 'node:assert/strict';

import { TLS_POLICY } from '../../infra/load-balancer';
import type { RecordedResource } from '../../infra/mocks';
import { integerAbovePattern, MANAGED_RULE_GROUPS } from '../../infra/waf';
import { DEFAULT_MAX_BODY_BYTES, PATHS, PUBLIC_API_PREFIX } from '../../server/contract';
import { ERROR_CATALOGUE } from '../../server/errors';
import { albPatternMatches, input, named, ofType, resourcesOf, runStack } from './support';

const LISTENER = 'aws:lb/listener:Listener';
const RULE = 'aws:lb/listenerRule:ListenerRule';
const ACL = 'aws:wafv2/webAcl:WebAcl';

interface WafRule {
  name: string;
  priority: number;
  action?: { block?: { customResponse?: { responseCode: number; customResponseBodyKey: string } } };
  overrideAction?: Record<string, unknown>;
  statement: Record<string, Record<string, unknown>>;
}

const forwardedPatterns = (resources: RecordedResource[]) =>
  ofType(resources, RULE)
    .filter((rule) => (rule.inputs.actions as { type: string }[]).some((a) => a.type === 'forward'))
    .flatMap((rule) => input<string[]>(rule, 'conditions.0.pathPattern.values'));

const forwarded = (resources: RecordedResource[], path: string) =>
  forwardedPatterns(resources).some((pattern) => albPatternMatches(pattern, path));

describe('infra edge: load balancer and WAF', function () {
  this.timeout(180_000);
  let dev: RecordedResource[];
  let prod: RecordedResource[];

  before(async () => {
    dev = await resourcesOf(runStack('dev'));
    prod = await resourcesOf(runStack('prod'));
  });

  describe('listeners', () => {
    it('no listener rule forwards /metrics or the health endpoints', () => {
      for (const resources of [dev, prod]) {
        for (const path of [PATHS.metrics, PATHS.ready, PATHS.live, '/metrics/', '/health/x']) {
          assert.ok(!forwarded(resources, path), `${path} is forwarded`);
        }
      }
    });

    it('the API is forwarded; everything else gets the JSON 404 at the load balancer', () => {
      for (const resources of [dev, prod]) {
        assert.ok(forwarded(resources, PATHS.identify));
        assert.ok(forwarded(resources, PATHS.models));
        assert.ok(forwardedPatterns(resources).includes(`${PUBLIC_API_PREFIX}*`));
      }
      const https = named(prod, LISTENER, 'edge-https');
      const action = input<Record<string, string>>(https, 'defaultActions.0.fixedResponse');
      assert.equal(action.statusCode, '404');
      assert.deepEqual(JSON.parse(action.messageBody!), {
        error: { code: 'not_found', message: ERROR_CATALOGUE.not_found.message },
      });
    });

    it('the try-it page is forwarded only when the stack enables it', () => {
      assert.ok(forwarded(dev, PATHS.page));
      assert.ok(forwarded(dev, '/static/app.js'));
      assert.ok(forwarded(dev, PATHS.openapi));
      assert.ok(!forwarded(prod, PATHS.page));
      assert.ok(!forwarded(prod, '/static/app.js'));
      assert.deepEqual(forwardedPatterns(prod), [`${PUBLIC_API_PREFIX}*`]);
    });

    it('production serves HTTPS with a TLS 1.3 policy and plain HTTP only redirects', () => {
      const https = named(prod, LISTENER, 'edge-https');
      assert.equal(https.inputs.protocol, 'HTTPS');
      assert.equal(https.inputs.sslPolicy, TLS_POLICY);
      assert.match(TLS_POLICY, /TLS13/);
      assert.match(String(https.inputs.certificateArn), /^arn:aws:acm:eu-west-1:/);
      const http = named(prod, LISTENER, 'edge-http');
      assert.deepEqual(input(http, 'defaultActions.0.redirect'), {
        protocol: 'HTTPS',
        port: '443',
        statusCode: 'HTTP_301',
      });
      for (const rule of ofType(prod, RULE)) {
        assert.equal(
          rule.inputs.listenerArn,
          `arn:aws:lb:eu-west-1:123456789012:edge-https/${https.id}`,
        );
      }
    });

    it('a dev stack without a certificate serves plain HTTP with the same rules', () => {
      assert.deepEqual(
        ofType(dev, LISTENER).map((l) => [l.inputs.port, l.inputs.protocol]),
        [[80, 'HTTP']],
      );
    });

    it('the load balancer drops invalid header fields', () => {
      for (const resources of [dev, prod]) {
        const alb = named(resources, 'aws:lb/loadBalancer:LoadBalancer', 'edge-alb');
        assert.equal(alb.inputs.dropInvalidHeaderFields, true);
        assert.equal(alb.inputs.internal, false);
      }
    });

    it('access logs go to the configured bucket when one is set', async () => {
      const prodAlb = named(prod, 'aws:lb/loadBalancer:LoadBalancer', 'edge-alb');
      assert.equal(prodAlb.inputs.accessLogs, undefined);
      const run = await resourcesOf(runStack('prod', { albAccessLogsBucket: 'pets-alb-logs' }));
      const alb = named(run, 'aws:lb/loadBalancer:LoadBalancer', 'edge-alb');
      assert.deepEqual(alb.inputs.accessLogs, {
        bucket: 'pets-alb-logs',
        prefix: 'prod',
        enabled: true,
      });
    });
  });

  describe('WAF', () => {
    const rulesOf = (resources: RecordedResource[]) =>
      named(resources, ACL, 'waf-acl').inputs.rules as WafRule[];

    it('the web ACL is associated with the load balancer', () => {
      for (const resources of [dev, prod]) {
        const acl = named(resources, ACL, 'waf-acl');
        const associations = ofType(resources, 'aws:wafv2/webAclAssociation:WebAclAssociation');
        assert.equal(associations.length, 1);
        const alb = named(resources, 'aws:lb/loadBalancer:LoadBalancer', 'edge-alb');
        assert.match(
          String(associations[0]!.inputs.resourceArn),
          new RegExp(`loadbalancer/app/edge-alb[^/]*/`),
        );
        assert.ok(alb.id);
        assert.equal(
          associations[0]!.inputs.webAclArn,
          `arn:aws:wafv2:eu-west-1:123456789012:waf-acl/${acl.id}`,
        );
        assert.equal(acl.inputs.scope, 'REGIONAL');
        assert.deepEqual(acl.inputs.defaultAction, { allow: {} });
      }
    });

    it('runs the managed common, known-bad-inputs and IP reputation groups, enforcing', () => {
      const managed = rulesOf(prod).filter((rule) => rule.statement.managedRuleGroupStatement);
      assert.deepEqual(
        managed.map((rule) => rule.statement.managedRuleGroupStatement!.name).sort(),
        [...MANAGED_RULE_GROUPS].sort(),
      );
      assert.deepEqual(
        new Set(MANAGED_RULE_GROUPS),
        new Set([
          'AWSManagedRulesCommonRuleSet',
          'AWSManagedRulesKnownBadInputsRuleSet',
          'AWSManagedRulesAmazonIpReputationList',
        ]),
      );
      for (const rule of managed) {
        assert.equal(rule.statement.managedRuleGroupStatement!.vendorName, 'AWS');
        assert.deepEqual(rule.overrideAction, { none: {} }, `${rule.name} only counts`);
      }
    });

    it('the common rule set does not block uploads for size; the size rule decides', () => {
      const common = rulesOf(prod).find((r) => r.name === 'AWSManagedRulesCommonRuleSet')!;
      assert.deepEqual(common.statement.managedRuleGroupStatement!.ruleActionOverrides, [
        { name: 'SizeRestrictions_BODY', actionToUse: { count: {} } },
      ]);
    });

    it('limits each client IP with a rate-based rule answering 429', () => {
      const rate = rulesOf(prod).find((r) => r.statement.rateBasedStatement)!;
      assert.deepEqual(rate.statement.rateBasedStatement, {
        aggregateKeyType: 'IP',
        limit: 2000,
        evaluationWindowSec: 300,
      });
      assert.equal(
        rate.action?.block?.customResponse?.responseCode,
        ERROR_CATALOGUE.rate_limited.status,
      );
      const devRate = rulesOf(dev).find((r) => r.statement.rateBasedStatement)!;
      assert.equal(devRate.statement.rateBasedStatement!.limit, 500);
    });

    it('blocks declared bodies above the server limit with 413, and no smaller ones', () => {
      const size = rulesOf(prod).find((r) => r.name === 'body-size')!;
      const match = size.statement.regexMatchStatement as {
        regexString: string;
        fieldToMatch: unknown;
      };
      assert.deepEqual(match.fieldToMatch, { singleHeader: { name: 'content-length' } });
      assert.equal(
        size.action?.block?.customResponse?.responseCode,
        ERROR_CATALOGUE.payload_too_large.status,
      );
      const regex = new RegExp(match.regexString);
      assert.ok(regex.test(String(DEFAULT_MAX_BODY_BYTES + 1)));
      assert.ok(!regex.test(String(DEFAULT_MAX_BODY_BYTES)));
      assert.ok(regex.source.length <= 512, 'WAF regex strings are limited to 512 characters');
    });

    it('answers blocks in the API error shape', () => {
      const bodies = named(prod, ACL, 'waf-acl').inputs.customResponseBodies as {
        key: string;
        content: string;
      }[];
      for (const body of bodies) {
        const code = body.key as keyof typeof ERROR_CATALOGUE;
        assert.deepEqual(JSON.parse(body.content), {
          error: { code, message: ERROR_CATALOGUE[code].message },
        });
      }
      const keys = rulesOf(prod).flatMap(
        (r) => r.action?.block?.customResponse?.customResponseBodyKey ?? [],
      );
      assert.deepEqual(keys.sort(), bodies.map((b) => b.key).sort());
    });

    it('logs to an aws-waf-logs- log group with retention, credentials redacted', () => {
      const logGroup = named(prod, 'aws:cloudwatch/logGroup:LogGroup', 'waf-logs');
      assert.equal(logGroup.inputs.name, 'aws-waf-logs-breed-identifier-prod');
      assert.equal(logGroup.inputs.retentionInDays, 90);
      const logging = named(
        prod,
        'aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration',
        'waf-logging',
      );
      assert.deepEqual(logging.inputs.logDestinationConfigs, [
        'arn:aws:logs:eu-west-1:123456789012:log-group:aws-waf-logs-breed-identifier-prod',
      ]);
      assert.deepEqual(logging.inputs.redactedFields, [
        { singleHeader: { name: 'authorization' } },
      ]);
    });
  });

  describe('integerAbovePattern', () => {
    const check = (limit: number, value: number) =>
      new RegExp(integerAbovePattern(limit)).test(String(value));

    it('matches exactly the integers above the limit, around the boundary and far from it', () => {
      for (const limit of [0, 7, 9, 10, 99, 100, 1999, 10_485_760, 99_999_999]) {
        for (let value = Math.max(0, limit - 30); value <= limit + 30; value += 1) {
          assert.equal(check(limit, value), value > limit, `limit ${limit}, value ${value}`);
        }
        for (const value of [0, 1, limit * 10, limit * 10 + 1, Math.floor(limit / 2), 2 ** 40]) {
          assert.equal(check(limit, value), value > limit, `limit ${limit}, value ${value}`);
        }
      }
    });

    it('matches a random sample of values consistently with numeric comparison', () => {
      let seed = 42;
      const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
      for (let i = 0; i < 2000; i += 1) {
        const limit = Math.floor(random() * 10 ** (1 + Math.floor(random() * 9)));
        const value = Math.floor(random() * 10 ** (1 + Math.floor(random() * 10)));
        assert.equal(check(limit, value), value > limit, `limit ${limit}, value ${value}`);
      }
    });

    it('accepts leading zeros but nothing that is not a plain integer', () => {
      const regex = new RegExp(integerAbovePattern(100));
      assert.ok(regex.test('000101'));
      assert.ok(!regex.test('000100'));
      for (const text of ['', ' 101', '101 ', '1e9', '-101', '+101', '10a1', '0x1ff']) {
        assert.ok(!regex.test(text), JSON.stringify(text));
      }
    });

    it('refuses a limit that is not a non-negative safe integer', () => {
      for (const bad of [-1, 1.5, Number.NaN, 2 ** 60]) {
        assert.throws(() => integerAbovePattern(bad), RangeError);
      }
    });
  });
});
