/**
 * Structured JSON logs (pino). Secrets are redacted by path wherever they could appear: request
 * headers, config objects, payloads that carry credentials or tokens.
 */
import pino from 'pino';

export type Logger = pino.Logger;

export const redactPaths = [
  'req.headers.authorization',
  'req.headers["x-genesis-jwt"]',
  'headers.authorization',
  'headers["x-genesis-jwt"]',
  '*.token',
  '*.apiKey',
  '*.password',
  '*.secret',
  '*.privateKey',
  '*.encryptedData',
  '*.encrypted_data',
  '*.botToken',
  '*.routingKey',
  'token',
  'apiKey',
  'password',
  'secret',
  'encryptedData',
  'encrypted_data',
];

export function createLogger(options: { level?: string; name?: string } = {}): Logger {
  return pino({
    name: options.name ?? 'genesis-cp',
    level: options.level ?? process.env.LOG_LEVEL ?? 'info',
    redact: { paths: redactPaths, censor: '[redacted]' },
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  });
}
