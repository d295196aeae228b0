/**
 * A small client for the EC2 instance metadata service that only speaks IMDSv2: every read
 * carries a session token obtained with a PUT, because the image's launch template turns the
 * token-less IMDSv1 off and the stand-in used by the tests refuses it too.
 */

/** Default address of the instance metadata service. */
export const DEFAULT_IMDS_BASE_URL = 'http://169.254.169.254';

/** Options of {@link ImdsClient}. */
export interface ImdsOptions {
  /** Lifetime asked for each session token, in seconds (IMDS caps it at 21600). */
  tokenTtlSeconds?: number;
  /** Time allowed for one HTTP exchange, in milliseconds. */
  timeoutMs?: number;
  /** Attempts per request; the service can be briefly unreachable early in a boot. */
  attempts?: number;
  /** Pause between attempts, in milliseconds (doubled after each failure). */
  retryDelayMs?: number;
}

/** Raised when the metadata service answers with an unexpected status or cannot be reached. */
export class ImdsError extends Error {
  override readonly name = 'ImdsError';
}

/** Reads instance metadata over IMDSv2. */
export class ImdsClient {
  readonly #baseUrl: string;
  readonly #options: Required<ImdsOptions>;
  #token: string | null = null;

  /** @param baseUrl scheme, host and port of the service, without a trailing path. */
  constructor(baseUrl: string = DEFAULT_IMDS_BASE_URL, options: ImdsOptions = {}) {
    this.#baseUrl = baseUrl.replace(/\/+$/, '');
    this.#options = {
      tokenTtlSeconds: options.tokenTtlSeconds ?? 21600,
      timeoutMs: options.timeoutMs ?? 2000,
      attempts: options.attempts ?? 5,
      retryDelayMs: options.retryDelayMs ?? 200,
    };
  }

  /**
   * Reads `/latest/meta-data/<path>`; resolves to null when the service answers 404 (the item
   * does not exist, for example the lifecycle state of an instance outside any group).
   */
  async getMetadata(path: string): Promise<string | null> {
    const url = `${this.#baseUrl}/latest/meta-data/${path.replace(/^\/+/, '')}`;
    return this.#withRetries(async () => {
      let response = await this.#request(url, 'GET', await this.#sessionToken());

      // A token can expire between two reads of a long boot: fetch a new one once.
      if (response.status === 401) {
        this.#token = null;
        response = await this.#request(url, 'GET', await this.#sessionToken());
      }
      if (response.status === 404) return null;
      if (response.status !== 200) {
        throw new ImdsError(`metadata ${path}: HTTP ${response.status}`);
      }
      return (await response.text()).trim();
    });
  }

  async #sessionToken(): Promise<string> {
    if (this.#token) return this.#token;

    const response = await fetch(`${this.#baseUrl}/latest/api/token`, {
      method: 'PUT',
      headers: { 'X-aws-ec2-metadata-token-ttl-seconds': String(this.#options.tokenTtlSeconds) },
      signal: AbortSignal.timeout(this.#options.timeoutMs),
    });
    if (response.status !== 200) {
      throw new ImdsError(`metadata token: HTTP ${response.status}`);
    }
    const token = (await response.text()).trim();
    if (!token) throw new ImdsError('metadata token: empty answer');
    this.#token = token;
    return token;
  }

  #request(url: string, method: string, token: string): Promise<Response> {
    return fetch(url, {
      method,
      headers: { 'X-aws-ec2-metadata-token': token },
      signal: AbortSignal.timeout(this.#options.timeoutMs),
    });
  }

  async #withRetries<T>(step: () => Promise<T>): Promise<T> {
    let delay = this.#options.retryDelayMs;
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await step();
      } catch (error) {
        if (attempt >= this.#options.attempts) throw asImdsError(error);
        await new Promise((resolve) => setTimeout(resolve, delay));
        delay *= 2;
      }
    }
  }
}

function asImdsError(error: unknown): ImdsError {
  if (error instanceof ImdsError) return error;
  const detail = error instanceof Error ? error.message : String(error);
  return new ImdsError(`metadata service unreachable: ${detail}`);
}
