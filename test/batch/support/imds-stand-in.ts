/**
 * A stand-in for the EC2 instance metadata service that speaks IMDSv2 only: a token from
 * `PUT /latest/api/token` (with a TTL header) must accompany every read, and
 * `spot/instance-action` answers 404 until the test posts an interruption notice.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The running stand-in. */
export interface ImdsStandIn {
  url: string;
  /** Reads of the notice item that carried a valid token. */
  polls(): number;
  /** Reads refused for a missing or wrong token. */
  refused(): number;
  /** Publishes (or, with null, withdraws) the notice. */
  setNotice(notice: { action: string; time: string } | null): void;
  close(): Promise<void>;
}

/** Starts the stand-in on a free local port. */
export async function startImdsStandIn(): Promise<ImdsStandIn> {
  const tokens = new Set<string>();
  let notice: string | null = null;
  let polls = 0;
  let refused = 0;

  const server: Server = createServer((req, res) => {
    if (req.method === 'PUT' && req.url === '/latest/api/token') {
      if (!req.headers['x-aws-ec2-metadata-token-ttl-seconds']) return end(res, 400, '');
      const token = `token-${tokens.size + 1}`;
      tokens.add(token);
      return end(res, 200, token);
    }
    const token = req.headers['x-aws-ec2-metadata-token'];
    if (typeof token !== 'string' || !tokens.has(token)) {
      refused += 1;
      return end(res, 401, '');
    }
    if (req.method === 'GET' && req.url === '/latest/meta-data/spot/instance-action') {
      polls += 1;
      return notice === null ? end(res, 404, 'Not Found') : end(res, 200, notice);
    }
    return end(res, 404, 'Not Found');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    polls: () => polls,
    refused: () => refused,
    setNotice: (value) => (notice = value === null ? null : JSON.stringify(value)),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function end(res: import('node:http').ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain' });
  res.end(body);
}
