// Runs fauxqs (a local server speaking the SQS and S3 APIs) for the batch tests. fauxqs needs
// Node 22, so the tests start this file with the Node 22 binary from node_modules. The init
// config (queues, redrive policies, buckets) comes as the first argument; the address is
// printed as one JSON line once the server listens; stdin closing or SIGTERM stops it.
import { startFauxqs } from 'fauxqs';

const init = JSON.parse(process.argv[2] ?? '{}');
const server = await startFauxqs({ port: 0, host: '127.0.0.1', logger: false, init });
process.stdout.write(`${JSON.stringify({ address: server.address, port: server.port })}\n`);

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  await server.stop();
  process.exit(0);
}
process.on('SIGTERM', stop);
process.stdin.on('end', stop);
process.stdin.resume();
