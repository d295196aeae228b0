/**
 * Per-caller rate limit: one token bucket per caller id, so a caller that floods the instance
 * is refused with 429 while the others keep their share of the GPU. Buckets live in memory,
 * per instance: with N instances behind the load balancer a caller may reach N times the rate,
 * which is why the WAF keeps its own per-address limit in front.
 */
import type Koa from 'koa';

import { appError } from '../errors';
import { callerOf } from './caller';

/** Options of `createRateLimiter`. */
export interface RateLimiterOptions {
  /** Requests per second a caller may sustain. */
  ratePerSecond: number;
  /** Size of each bucket: requests a caller may send at once after being idle. */
  burst: number;
  /** Clock in milliseconds; tests inject one. */
  now?: () => number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** Float error tolerated when a bucket refills to exactly one token. */
const EPSILON = 1e-9;

/** Longest pause between two sweeps of idle buckets, in milliseconds. */
const MAX_SWEEP_INTERVAL_MS = 60_000;

/**
 * Token buckets by caller id. `take` answers 0 when the request may go ahead, else the
 * milliseconds until a token is back.
 */
class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();
  private readonly refillMs: number;
  private sweptAt: number;

  constructor(
    private readonly ratePerMs: number,
    private readonly burst: number,
    start: number,
  ) {
    this.refillMs = burst / ratePerMs;
    this.sweptAt = start;
  }

  take(id: string, now: number): number {
    this.sweep(now);

    const bucket = this.buckets.get(id) ?? { tokens: this.burst, at: now };
    const elapsed = Math.max(0, now - bucket.at);
    bucket.tokens = Math.min(this.burst, bucket.tokens + elapsed * this.ratePerMs);
    bucket.at = now;
    this.buckets.set(id, bucket);

    if (bucket.tokens + EPSILON >= 1) {
      bucket.tokens = Math.max(0, bucket.tokens - 1);
      return 0;
    }
    return (1 - bucket.tokens) / this.ratePerMs;
  }

  /** Drops buckets that have refilled completely: a fresh bucket would be the same. */
  private sweep(now: number): void {
    if (now - this.sweptAt < Math.min(this.refillMs, MAX_SWEEP_INTERVAL_MS)) return;

    this.sweptAt = now;
    for (const [id, bucket] of this.buckets) {
      if (now - bucket.at >= this.refillMs) this.buckets.delete(id);
    }
  }
}

/**
 * Koa middleware that limits each caller (`ctx.state.caller.id`) to `ratePerSecond` with
 * bursts of `burst`, and answers 429 `rate_limited` with `Retry-After` (whole seconds, rounded
 * up) past that. Requests without a caller (health, metrics) are not limited.
 */
export function createRateLimiter(options: RateLimiterOptions): Koa.Middleware {
  const { ratePerSecond, burst } = options;
  if (!Number.isFinite(ratePerSecond) || ratePerSecond <= 0) {
    throw new Error(`ratePerSecond must be a positive number, got ${ratePerSecond}`);
  }
  if (!Number.isInteger(burst) || burst < 1) {
    throw new Error(`burst must be a whole number of at least 1, got ${burst}`);
  }

  const now = options.now ?? Date.now;
  const buckets = new TokenBuckets(ratePerSecond / 1000, burst, now());
  return async (ctx, next) => {
    const caller = callerOf(ctx.state);
    if (caller === undefined) return next();

    const waitMs = buckets.take(caller.id, now());
    if (waitMs > 0) {
      const seconds = Math.max(1, Math.ceil(waitMs / 1000));
      throw appError('rate_limited', undefined, { 'Retry-After': String(seconds) });
    }
    await next();
  };
}
