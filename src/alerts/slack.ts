/**
 * Slack incoming webhook: POST `{text, blocks}`. `text` is the notification/fallback line; the
 * blocks are a header (severity and title), the message, and one field per fact (severity,
 * workspace, droplet, reason, workflow id, value). Slack answers 200 "ok", or a status with a
 * plain-text error ("invalid_payload", "no_service", "channel_is_archived", ...).
 *
 * The webhook URL is itself the secret (its path authorises posting): it is a private field and is
 * scrubbed from every error.
 */
import {
  alertFacts,
  alertFactsLine,
  alertHeadline,
  severityEmoji,
  severityLabel,
  truncate,
  type Alert,
  type AlertChannel,
} from './alert';
import { DEFAULT_ALERT_TIMEOUT_MS, postExpecting2xx } from './http';

export interface SlackChannelOptions {
  webhookUrl: string;
  fetch?: typeof fetch;
  timeoutMs?: number;
}

export class SlackChannel implements AlertChannel {
  readonly name = 'slack';
  readonly #url: string;
  readonly #fetch: typeof fetch;
  readonly #timeoutMs: number;

  constructor(opts: SlackChannelOptions) {
    this.#url = opts.webhookUrl;
    this.#fetch = opts.fetch ?? fetch;
    this.#timeoutMs = opts.timeoutMs ?? DEFAULT_ALERT_TIMEOUT_MS;
  }

  async send(alert: Alert): Promise<void> {
    const path = new URL(this.#url).pathname;
    const secrets = path.length > 1 ? [this.#url, path] : [this.#url];
    await postExpecting2xx({
      channel: this.name,
      url: this.#url,
      body: JSON.stringify(slackPayload(alert)),
      timeoutMs: this.#timeoutMs,
      fetch: this.#fetch,
      secrets,
    });
  }
}

export function slackPayload(alert: Alert): { text: string; blocks: unknown[] } {
  const facts = alertFactsLine(alert);
  const text = `${severityEmoji(alert)} ${escapeMrkdwn(alertHeadline(alert))}${facts ? ` \u2014 ${escapeMrkdwn(facts)}` : ''}`;
  const fields = [
    {
      type: 'mrkdwn',
      text: `*Severity*\n${alert.status === 'resolved' ? `resolved (was ${alert.severity})` : alert.severity}`,
    },
    ...alertFacts(alert).map((f) => ({
      type: 'mrkdwn',
      text: `*${f.label}*\n${escapeMrkdwn(truncate(f.value, 1900))}`,
    })),
  ];
  return {
    text,
    blocks: [
      {
        type: 'header',
        text: {
          type: 'plain_text',
          text: truncate(`${severityEmoji(alert)} ${severityLabel(alert)}: ${alert.title}`, 150),
          emoji: true,
        },
      },
      { type: 'section', text: { type: 'mrkdwn', text: escapeMrkdwn(truncate(alert.message, 2900)) } },
      { type: 'section', fields },
      {
        type: 'context',
        elements: [
          {
            type: 'mrkdwn',
            text: escapeMrkdwn(`key ${alert.key} \u00b7 kind ${alert.kind} \u00b7 genesis-control-plane`),
          },
        ],
      },
    ],
  };
}

/** Slack's mrkdwn reserves &, < and > (links and mentions); everything else is literal. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
