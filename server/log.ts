/**
 * Structured JSON logs (pino): fixed messages, data in fields, one line per request. Headers
 * that carry credentials are redacted wherever they might be logged.
 */
import pino, { type Logger } from 'pino';
import { SERVICE_NAME } from './contract';

/** Paths pino blanks out of every log line. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers.cookie',
  'headers.authorization',
  'headers["x-api-key"]',
];

/** The process logger; `destination` lets tests capture the output. */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const options = {
    level,
    base: { service: SERVICE_NAME, pid: process.pid },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return destination ? pino(options, destination) : pino(options);
}
