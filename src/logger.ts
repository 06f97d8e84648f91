/**
 * Structured JSON logs (pino). Secrets are redacted by path wherever they could appear: request
 * headers, config objects, payloads that carry credentials or tokens.
 */
import { asyncLocalStorage as activityContext } from '@temporalio/activity';
import pino from 'pino';
import { currentLogContext } from './observability/log-context';

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

/**
 * Inside an activity, every line names the workflow and the activity it belongs to (the line's
 * own fields, e.g. dropletId and workspaceId, come on top); elsewhere nothing is added.
 */
export function activityBindings(): Record<string, unknown> {
  const ctx = activityContext.getStore();
  if (!ctx) return {};
  const i = ctx.info;
  return {
    workflowId: i.workflowExecution?.workflowId,
    runId: i.workflowExecution?.runId,
    workflowType: i.workflowType,
    activityType: i.activityType,
    attempt: i.attempt,
  };
}

export function createLogger(
  options: { level?: string; name?: string; destination?: pino.DestinationStream } = {},
): Logger {
  const opts: pino.LoggerOptions = {
    // inside an activity: its workflow and activity ids, and the workspace and droplet it is about
    mixin: () => ({ ...activityBindings(), ...currentLogContext() }),
    name: options.name ?? 'genesis-cp',
    level: options.level ?? process.env.LOG_LEVEL ?? 'info',
    redact: { paths: redactPaths, censor: '[redacted]' },
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  return options.destination ? pino(opts, options.destination) : pino(opts);
}
