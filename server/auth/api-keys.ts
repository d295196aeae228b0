/**
 * API keys for service callers. The server never holds a key, only its SHA-256: a leaked
 * configuration cannot be replayed as a credential. Several keys may be active at once so that
 * a caller can move to a new key before the old one is removed.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** One active API key: the caller id it stands for and the SHA-256 of the key. */
export interface ApiKeyRecord {
  /** Caller id: names the service in logs and keys its rate limit. Not secret. */
  readonly id: string;
  /** SHA-256 digest of the key (32 bytes). */
  readonly sha256: Buffer;
}

/** Caller ids: short, printable, safe to put in a log field. */
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const HASH_PATTERN = /^[0-9a-fA-F]{64}$/;

/** Longest key the server hashes; longer ones are refused before any work is done. */
export const MAX_API_KEY_LENGTH = 256;

/** SHA-256 of a key, in lower-case hex: the form stored in the configuration. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/**
 * Parses `id:sha256hex` entries. `source` names where they came from (a variable or a file) so
 * that the error says what to fix; the error shows the entry's position, never the hash.
 */
export function parseApiKeyEntries(entries: readonly string[], source: string): ApiKeyRecord[] {
  const records: ApiKeyRecord[] = [];
  entries.forEach((raw, index) => {
    const entry = raw.trim();
    if (entry === '' || entry.startsWith('#')) return;

    const colon = entry.indexOf(':');
    const id = colon < 0 ? '' : entry.slice(0, colon);
    const hash = colon < 0 ? '' : entry.slice(colon + 1);
    const where = `${source}: entry ${index + 1}`;
    if (!ID_PATTERN.test(id)) {
      throw new Error(
        `${where} must be "id:sha256hex" with an id of 1-64 letters, digits, ".", "_" or "-"`,
      );
    }
    if (!HASH_PATTERN.test(hash)) {
      throw new Error(`${where} (id "${id}") needs a SHA-256 of 64 hexadecimal digits`);
    }
    records.push({ id, sha256: Buffer.from(hash, 'hex') });
  });
  return records;
}

/** Fails when two entries share an id or a hash: either is a configuration mistake. */
export function assertUniqueApiKeys(records: readonly ApiKeyRecord[], source: string): void {
  const ids = new Set<string>();
  const hashes = new Set<string>();
  for (const record of records) {
    const hex = record.sha256.toString('hex');
    if (ids.has(record.id)) throw new Error(`${source}: the id "${record.id}" appears twice`);
    if (hashes.has(hex)) throw new Error(`${source}: the key of "${record.id}" appears twice`);
    ids.add(record.id);
    hashes.add(hex);
  }
}

/**
 * Returns a function that maps a presented key to its caller id, or `null`. Every stored hash
 * is compared in constant time and the loop never stops early, so the answer time does not
 * tell how many bytes matched or which entry did.
 */
export function createApiKeyMatcher(
  records: readonly ApiKeyRecord[],
): (key: string) => string | null {
  const stored = records.map((record) => ({ id: record.id, sha256: Buffer.from(record.sha256) }));
  return (key) => {
    if (key.length === 0 || key.length > MAX_API_KEY_LENGTH) return null;

    const presented = createHash('sha256').update(key, 'utf8').digest();
    let found: string | null = null;
    for (const record of stored) {
      if (timingSafeEqual(presented, record.sha256) && found === null) found = record.id;
    }
    return found;
  };
}
