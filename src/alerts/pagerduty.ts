/**
 * PagerDuty Events API v2: POST <eventsUrl> (https://events.pagerduty.com/v2/enqueue).
 * A firing alert is a `trigger` whose dedup_key is the alert key, so PagerDuty folds repeats into
 * one incident; a resolved alert is a `resolve` with only routing_key, event_action and dedup_key.
 * PagerDuty answers 202 `{status: "success", dedup_key}`; 400 is an invalid event (not retryable),
 * 429 and 5xx are retryable.
 *
 * The routing key is a private field and is scrubbed from every error.
 */
import { alertFactsLine, alertHeadline, truncate, type Alert, type AlertChannel } from './alert';
import { DEFAULT_ALERT_TIMEOUT_MS, postExpecting2xx } from './http';

export const PAGERDUTY_SOURCE = 'genesis-control-plane';

export interface PagerDutyChannelOptions {
  routingKey: string;
  eventsUrl: string;
  fetch?: typeof fetch;
  timeoutMs?: number;
}

export class PagerDutyChannel implements AlertChannel {
  readonly name = 'pagerduty';
  readonly #routingKey: string;
  readonly #url: string;
  readonly #fetch: typeof fetch;
  readonly #timeoutMs: number;

  constructor(opts: PagerDutyChannelOptions) {
    this.#routingKey = opts.routingKey;
    this.#url = opts.eventsUrl;
    this.#fetch = opts.fetch ?? fetch;
    this.#timeoutMs = opts.timeoutMs ?? DEFAULT_ALERT_TIMEOUT_MS;
  }

  async send(alert: Alert): Promise<void> {
    const secrets = [this.#routingKey];
    await postExpecting2xx(
      {
        channel: this.name,
        url: this.#url,
        body: JSON.stringify(pagerDutyEvent(alert, this.#routingKey)),
        timeoutMs: this.#timeoutMs,
        fetch: this.#fetch,
        secrets,
      },
      describeRefusal,
    );
  }
}

export function pagerDutyEvent(alert: Alert, routingKey: string): Record<string, unknown> {
  if (alert.status === 'resolved') {
    return { routing_key: routingKey, event_action: 'resolve', dedup_key: alert.key };
  }
  const facts = alertFactsLine(alert);
  const details: Record<string, unknown> = {
    kind: alert.kind,
    title: alert.title,
    message: alert.message,
    workspace_id: alert.workspaceId,
    droplet_id: alert.dropletId,
    reason: alert.reason,
    workflow_id: alert.workflowId,
    value: alert.value,
    threshold: alert.threshold,
  };
  for (const [k, v] of Object.entries(details)) if (v === undefined) delete details[k];
  return {
    routing_key: routingKey,
    event_action: 'trigger',
    dedup_key: alert.key,
    payload: {
      summary: truncate(`${alertHeadline(alert)}${facts ? ` \u2014 ${facts}` : ''}`, 1024),
      source: PAGERDUTY_SOURCE,
      severity: alert.severity,
      component: alert.dropletId !== undefined ? `droplet-${alert.dropletId}` : alert.kind,
      group: alert.workspaceId ?? 'fleet',
      custom_details: details,
    },
  };
}

/** PagerDuty's 400 body: `{status: "invalid event", message, errors: [...]}`. */
function describeRefusal(text: string): string {
  try {
    const body = JSON.parse(text) as { message?: string; errors?: unknown[] };
    const errors = Array.isArray(body.errors) ? body.errors.map(String).join('; ') : '';
    return [body.message, errors].filter(Boolean).join(': ') || text;
  } catch {
    return text;
  }
}
