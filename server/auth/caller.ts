/**
 * Who is calling: set on `ctx.state.caller` by the authenticator, read by the rate limiter and
 * the request log. A separate file so that both can import it without importing each other.
 */

/** How the caller proved who it is. */
export type CallerKind = 'jwt' | 'api-key' | 'anonymous';

/** The caller of one request. */
export interface Caller {
  /**
   * Stable id, prefixed by kind so that a token subject and an API key id never share a rate
   * limit: `jwt:<sub>`, `api-key:<id>`, or `anonymous:<client address>` when auth is off.
   */
  readonly id: string;
  readonly kind: CallerKind;
}

/** The caller set on a context's state, or undefined on paths that need no credentials. */
export function callerOf(state: { caller?: unknown }): Caller | undefined {
  const caller = state.caller as Caller | undefined;
  return caller !== undefined && typeof caller.id === 'string' ? caller : undefined;
}
