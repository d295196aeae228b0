/**
 * Prometheus metrics: requests and latency by route and status, inference time, batch size,
 * queue depth, model load time. Served at `/metrics`, scraped from inside the VPC only.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Every metric the server exports, on a registry of its own (tests run several servers). */
export class Metrics {
  readonly registry = new Registry();

  readonly requests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests answered, by route, method and status.',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [this.registry],
  });

  readonly requestSeconds = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time from request to response, by route, method and status.',
    labelNames: ['route', 'method', 'status'] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10],
    registers: [this.registry],
  });

  readonly inferenceSeconds = new Histogram({
    name: 'inference_duration_seconds',
    help: 'Time the model takes for one batch.',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2],
    registers: [this.registry],
  });

  readonly batchSize = new Histogram({
    name: 'inference_batch_size',
    help: 'Images per batch handed to the model (before padding).',
    buckets: [1, 2, 4, 8, 16, 32, 64],
    registers: [this.registry],
  });

  readonly queueDepth = new Gauge({
    name: 'inference_queue_depth',
    help: 'Requests waiting for the model.',
    registers: [this.registry],
  });

  readonly modelLoadSeconds = new Gauge({
    name: 'model_load_seconds',
    help: 'Time from the start of model loading to warm.',
    registers: [this.registry],
  });

  readonly modelInfo = new Gauge({
    name: 'model_info',
    help: 'The model served (value 1), with its name, version and backend.',
    labelNames: ['name', 'version', 'backend'] as const,
    registers: [this.registry],
  });

  readonly ready = new Gauge({
    name: 'server_ready',
    help: '1 when the model is warm and the server is not draining.',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  /** Records one batch (the core's batch observer). */
  observeBatch(batch: { size: number; ms: number }): void {
    this.batchSize.observe(batch.size);
    this.inferenceSeconds.observe(batch.ms / 1000);
  }
}
