/**
 * Local stand-ins for the services the boot agent calls: the instance metadata service (IMDSv2
 * only: a read without a valid session token gets 401), SSM Parameter Store (JSON protocol)
 * and Auto Scaling (query protocol), each a small HTTP server on 127.0.0.1 that records what it
 * was asked. The agent talks to them through the real AWS SDK clients.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One recorded request. */
export interface Recorded {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A running stand-in. */
export interface StandIn {
  url: string;
  requests: Recorded[];
  close(): Promise<void>;
}

type Handler = (request: Recorded, response: http.ServerResponse) => void;

async function listen(handler: Handler): Promise<StandIn> {
  const requests: Recorded[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const recorded: Recorded = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(recorded);
      handler(recorded, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** State of the metadata stand-in that a test may change while the agent runs. */
export interface ImdsState {
  /** Target lifecycle state; null answers 404 (instance outside any group). */
  targetState: string | null;
  instanceId: string;
  region: string;
  /** Tokens issued so far; removing one makes it expire. */
  tokens: Set<string>;
}

/** The metadata stand-in: PUT /latest/api/token, then token-authenticated GETs. */
export async function startImds(state: ImdsState): Promise<StandIn> {
  let issued = 0;
  return listen((request, response) => {
    if (request.method === 'PUT' && request.url === '/latest/api/token') {
      const ttl = Number(request.headers['x-aws-ec2-metadata-token-ttl-seconds']);
      if (!(ttl >= 1 && ttl <= 21600)) return send(response, 400, 'bad ttl');
      issued += 1;
      const token = `token-${issued}`;
      state.tokens.add(token);
      return send(response, 200, token);
    }
    const token = request.headers['x-aws-ec2-metadata-token'];
    if (typeof token !== 'string' || !state.tokens.has(token)) return send(response, 401, '');
    if (request.method !== 'GET') return send(response, 405, '');

    const items: Record<string, string | null> = {
      '/latest/meta-data/autoscaling/target-lifecycle-state': state.targetState,
      '/latest/meta-data/instance-id': state.instanceId,
      '/latest/meta-data/placement/region': state.region,
    };
    const value = items[request.url];
    if (value === undefined || value === null) return send(response, 404, 'Not Found');
    return send(response, 200, value);
  });
}

/** What the AWS stand-in answers and has seen. */
export interface AwsState {
  /** SSM parameters by full name; `failSsm` makes every SSM call a server error. */
  parameters: Record<string, string>;
  failSsm: boolean;
  groupName: string;
  /** When false, CompleteLifecycleAction answers "no active lifecycle action". */
  pendingAction: boolean;
  /** Every CompleteLifecycleAction call, as its decoded form fields. */
  completions: Record<string, string>[];
  /** Every RecordLifecycleActionHeartbeat call, likewise. */
  heartbeats: Record<string, string>[];
}

/** SSM (JSON 1.1) and Auto Scaling (query protocol) on one port, told apart by their headers. */
export async function startAws(state: AwsState): Promise<StandIn> {
  return listen((request, response) => {
    const target = request.headers['x-amz-target'];
    if (typeof target === 'string') return answerSsm(state, target, request, response);
    return answerAutoScaling(state, new URLSearchParams(request.body), response);
  });
}

function answerSsm(
  state: AwsState,
  target: string,
  request: Recorded,
  response: http.ServerResponse,
): void {
  if (state.failSsm) return sendJson(response, 500, { __type: 'InternalServerError' });
  if (target !== 'AmazonSSM.GetParametersByPath') {
    return sendJson(response, 400, { __type: 'UnknownOperationException' });
  }
  const input = JSON.parse(request.body) as { Path: string; WithDecryption?: boolean };
  if (input.WithDecryption !== true) {
    return sendJson(response, 400, { __type: 'ValidationException', message: 'no decryption' });
  }
  const prefix = `${input.Path}/`;
  const parameters = Object.entries(state.parameters)
    .filter(([name]) => name.startsWith(prefix))
    .map(([Name, Value]) => ({ Name, Value, Type: 'SecureString' }));
  return sendJson(response, 200, { Parameters: parameters });
}

function answerAutoScaling(
  state: AwsState,
  form: URLSearchParams,
  response: http.ServerResponse,
): void {
  const action = form.get('Action');
  if (action === 'DescribeAutoScalingInstances') {
    const id = form.get('InstanceIds.member.1') ?? '';
    return sendXml(
      response,
      200,
      `<DescribeAutoScalingInstancesResponse><DescribeAutoScalingInstancesResult>` +
        `<AutoScalingInstances><member><InstanceId>${id}</InstanceId>` +
        `<AutoScalingGroupName>${state.groupName}</AutoScalingGroupName>` +
        `</member></AutoScalingInstances></DescribeAutoScalingInstancesResult>` +
        `<ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata>` +
        `</DescribeAutoScalingInstancesResponse>`,
    );
  }
  if (action === 'RecordLifecycleActionHeartbeat') {
    state.heartbeats.push(Object.fromEntries(form.entries()));
    return sendXml(
      response,
      200,
      `<RecordLifecycleActionHeartbeatResponse><RecordLifecycleActionHeartbeatResult/>` +
        `<ResponseMetadata><RequestId>r4</RequestId></ResponseMetadata>` +
        `</RecordLifecycleActionHeartbeatResponse>`,
    );
  }
  if (action === 'CompleteLifecycleAction') {
    state.completions.push(Object.fromEntries(form.entries()));
    if (!state.pendingAction) {
      return sendXml(
        response,
        400,
        `<ErrorResponse><Error><Type>Sender</Type><Code>ValidationError</Code>` +
          `<Message>No active Lifecycle Action found with instance ID ${form.get('InstanceId')}` +
          `</Message></Error><RequestId>r2</RequestId></ErrorResponse>`,
      );
    }
    return sendXml(
      response,
      200,
      `<CompleteLifecycleActionResponse><CompleteLifecycleActionResult/>` +
        `<ResponseMetadata><RequestId>r3</RequestId></ResponseMetadata>` +
        `</CompleteLifecycleActionResponse>`,
    );
  }
  return sendXml(
    response,
    400,
    `<ErrorResponse><Error><Code>InvalidAction</Code></Error></ErrorResponse>`,
  );
}

/** A server whose readiness path answers 503 until `ready` is set. */
export async function startReadiness(flag: { ready: boolean }): Promise<StandIn> {
  return listen((_request, response) => send(response, flag.ready ? 200 : 503, ''));
}

function send(response: http.ServerResponse, status: number, body: string): void {
  response.writeHead(status, { 'Content-Type': 'text/plain' }).end(body);
}

function sendJson(response: http.ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'Content-Type': 'application/x-amz-json-1.1' });
  response.end(JSON.stringify(body));
}

function sendXml(response: http.ServerResponse, status: number, body: string): void {
  response.writeHead(status, { 'Content-Type': 'text/xml' }).end(body);
}
