/**
 * The configured alert channels and the notifier that fans one alert out to all of them.
 *
 * `AlertNotifier.notify` sends to every channel in parallel and reports per channel; it never
 * throws. A Temporal activity calls `throwIfRetryable(result)` afterwards so it is retried only
 * when some channel failed in a way a retry can fix (5xx, 429, timeout, network) -- and on the
 * retry it can pass `only` with the channels that failed, so the others are not notified twice.
 *
 * Logs name the alert and the channels, never a token, routing key, webhook URL or secret.
 */
import type { Config } from '../config';
import { ClientError } from '../errors/client-error';
import type { Logger } from '../logger';
import { AlertDeliveryError, type Alert, type AlertChannel } from './alert';
import { PagerDutyChannel } from './pagerduty';
import { SlackChannel } from './slack';
import { TelegramChannel } from './telegram';
import { WebhookChannel } from './webhook';

export interface ChannelDeps {
  logger: Logger;
  fetch?: typeof fetch;
  /** Per-request timeout of every channel. Default 10 s. */
  timeoutMs?: number;
}

export function channelsFromConfig(alerts: Config['alerts'], deps: ChannelDeps): AlertChannel[] {
  const common = { fetch: deps.fetch, timeoutMs: deps.timeoutMs };
  const channels: AlertChannel[] = [];
  if (alerts.telegram)
    channels.push(new TelegramChannel({ ...alerts.telegram, ...common, logger: deps.logger }));
  if (alerts.slackWebhookUrl)
    channels.push(new SlackChannel({ webhookUrl: alerts.slackWebhookUrl, ...common }));
  if (alerts.pagerduty) channels.push(new PagerDutyChannel({ ...alerts.pagerduty, ...common }));
  if (alerts.webhook) channels.push(new WebhookChannel({ ...alerts.webhook, ...common }));
  deps.logger.info({ channels: channels.map((c) => c.name) }, 'alert channels configured');
  return channels;
}

export interface ChannelFailure {
  channel: string;
  error: string;
  retryable: boolean;
  status?: number;
}

export interface NotifyResult {
  delivered: string[];
  failed: ChannelFailure[];
}

/** Name of the pseudo-channel reported when no channel is configured and the alert is only logged. */
export const LOG_CHANNEL = 'log';

export class AlertNotifier {
  constructor(
    private readonly channels: AlertChannel[],
    private readonly logger: Logger,
  ) {}

  get channelNames(): string[] {
    return this.channels.map((c) => c.name);
  }

  /** Sends to every channel (or only the named ones) in parallel; reports what each did. */
  async notify(alert: Alert, opts: { only?: readonly string[] } = {}): Promise<NotifyResult> {
    const context = alertLogContext(alert);
    if (this.channels.length === 0) {
      this.logger.warn(
        { ...context, message: alert.message },
        `ALERT (no alert channel configured): ${alert.title}`,
      );
      return { delivered: [LOG_CHANNEL], failed: [] };
    }
    const targets = opts.only ? this.channels.filter((c) => opts.only?.includes(c.name)) : this.channels;
    const outcomes = await Promise.allSettled(targets.map((c) => c.send(alert)));
    const result: NotifyResult = { delivered: [], failed: [] };
    outcomes.forEach((outcome, i) => {
      const channel = targets[i].name;
      if (outcome.status === 'fulfilled') {
        result.delivered.push(channel);
        return;
      }
      const err = outcome.reason as unknown;
      const failure: ChannelFailure =
        err instanceof AlertDeliveryError
          ? { channel, error: err.message, retryable: err.retryable, status: err.status }
          : // Not a delivery error: a channel bug or an unexpected throw. Retrying is the safe default.
            {
              channel,
              error: `${channel}: ${err instanceof Error ? err.message : String(err)}`,
              retryable: true,
            };
      result.failed.push(failure);
    });
    if (result.delivered.length > 0)
      this.logger.info({ ...context, delivered: result.delivered }, 'alert delivered');
    for (const f of result.failed) {
      this.logger.warn(
        { ...context, channel: f.channel, status: f.status, retryable: f.retryable, err: f.error },
        'alert delivery failed',
      );
    }
    return result;
  }
}

/** Thrown by `throwIfRetryable`: some channel failed and trying again can help. */
export class AlertNotificationError extends ClientError {
  readonly code = 'notification_failed';
  readonly retryable = true;
  constructor(readonly result: NotifyResult) {
    super(
      `alert delivery failed on ${result.failed.map((f) => f.channel).join(', ')}: ` +
        result.failed.map((f) => f.error).join('; '),
    );
  }

  /** The channels worth retrying (pass as `only` on the next attempt). */
  get retryChannels(): string[] {
    return this.result.failed.filter((f) => f.retryable).map((f) => f.channel);
  }
}

/** Throws when at least one channel failed retryably; non-retryable failures alone are only reported. */
export function throwIfRetryable(result: NotifyResult): void {
  if (result.failed.some((f) => f.retryable)) throw new AlertNotificationError(result);
}

function alertLogContext(alert: Alert): Record<string, unknown> {
  return {
    alertKey: alert.key,
    kind: alert.kind,
    severity: alert.severity,
    status: alert.status,
    workspaceId: alert.workspaceId,
    dropletId: alert.dropletId,
    workflowId: alert.workflowId,
    reason: alert.reason,
  };
}
