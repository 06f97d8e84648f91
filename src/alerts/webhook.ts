/**
 * A generic signed webhook: POST a JSON body with
 *   X-Genesis-Timestamp: <unix seconds>
 *   X-Genesis-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" keyed with the secret>
 * A receiver recomputes the HMAC over the raw body it received (`verifyWebhookSignature`), compares
 * in constant time and refuses timestamps outside its tolerance, so a captured request cannot be
 * replayed later. 2xx is delivered; 429/5xx retryable; any other status not.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Alert, AlertChannel } from './alert';
import { DEFAULT_ALERT_TIMEOUT_MS, postExpecting2xx } from './http';

export const SIGNATURE_HEADER = 'X-Genesis-Signature';
export const TIMESTAMP_HEADER = 'X-Genesis-Timestamp';
export const EVENT_HEADER = 'X-Genesis-Event';
export const DEFAULT_SIGNATURE_TOLERANCE_S = 300;

export interface WebhookChannelOptions {
  url: string;
  secret: string;
  fetch?: typeof fetch;
  timeoutMs?: number;
  /** Milliseconds since the epoch; injectable for tests. */
  now?: () => number;
}

export class WebhookChannel implements AlertChannel {
  readonly name = 'webhook';
  readonly #url: string;
  readonly #secret: string;
  readonly #fetch: typeof fetch;
  readonly #timeoutMs: number;
  readonly #now: () => number;

  constructor(opts: WebhookChannelOptions) {
    this.#url = opts.url;
    this.#secret = opts.secret;
    this.#fetch = opts.fetch ?? fetch;
    this.#timeoutMs = opts.timeoutMs ?? DEFAULT_ALERT_TIMEOUT_MS;
    this.#now = opts.now ?? Date.now;
  }

  async send(alert: Alert): Promise<void> {
    const nowMs = this.#now();
    const timestamp = String(Math.floor(nowMs / 1000));
    const body = JSON.stringify(webhookBody(alert, nowMs));
    const secrets = [this.#secret, this.#url];
    await postExpecting2xx({
      channel: this.name,
      url: this.#url,
      body,
      headers: {
        [TIMESTAMP_HEADER]: timestamp,
        [SIGNATURE_HEADER]: signWebhookBody(this.#secret, timestamp, body),
        [EVENT_HEADER]: `alert.${alert.status}`,
      },
      timeoutMs: this.#timeoutMs,
      fetch: this.#fetch,
      secrets,
    });
  }
}

export function webhookBody(alert: Alert, nowMs: number): Record<string, unknown> {
  return {
    event: `alert.${alert.status}`,
    sent_at: new Date(nowMs).toISOString(),
    alert: {
      key: alert.key,
      kind: alert.kind,
      severity: alert.severity,
      status: alert.status,
      title: alert.title,
      message: alert.message,
      workspace_id: alert.workspaceId ?? null,
      droplet_id: alert.dropletId ?? null,
      workflow_id: alert.workflowId ?? null,
      reason: alert.reason ?? null,
      value: alert.value ?? null,
      threshold: alert.threshold ?? null,
    },
  };
}

/** "sha256=<hex HMAC-SHA256 of `${timestamp}.${body}`>". */
export function signWebhookBody(secret: string, timestamp: string | number, body: string | Buffer): string {
  return `sha256=${hmac(secret, String(timestamp), body).toString('hex')}`;
}

/**
 * True when `signature` is the HMAC of "<timestamp>.<body>" with `secret` (compared in constant
 * time) and `timestamp` is whole unix seconds within `toleranceS` of now. `body` must be the raw
 * bytes received, not a re-serialisation.
 */
export function verifyWebhookSignature(
  secret: string,
  timestamp: string | number | undefined,
  body: string | Buffer,
  signature: string | undefined,
  toleranceS = DEFAULT_SIGNATURE_TOLERANCE_S,
  nowMs = Date.now(),
): boolean {
  const ts = String(timestamp ?? '');
  if (!/^\d{1,12}$/.test(ts) || typeof signature !== 'string') return false;
  if (Math.abs(Math.floor(nowMs / 1000) - Number(ts)) > toleranceS) return false;
  const match = /^sha256=([0-9a-fA-F]{64})$/.exec(signature.trim());
  if (!match) return false;
  const expected = hmac(secret, ts, body);
  return timingSafeEqual(expected, Buffer.from(match[1], 'hex'));
}

function hmac(secret: string, timestamp: string, body: string | Buffer): Buffer {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest();
}
