/**
 * Telegram Bot API: POST <apiUrl>/bot<token>/sendMessage with an HTML-formatted text.
 *
 * Telegram answers `{ok: true, result}` or `{ok: false, error_code, description, parameters}`;
 * ok:false is an error whatever the HTTP status. A 429 carries `parameters.retry_after` (seconds):
 * when it is short (<= maxRetryAfterS) the message is sent once more after that wait, otherwise
 * the error is thrown (retryable, with retryAfterMs) for the caller's retry policy.
 *
 * The token lives only in the request URL: it is a private field and is scrubbed from every error.
 */
import type { Logger } from '../logger';
import {
  AlertDeliveryError,
  alertFacts,
  severityEmoji,
  severityLabel,
  truncate,
  type Alert,
  type AlertChannel,
} from './alert';
import { DEFAULT_ALERT_TIMEOUT_MS, deliveryError, postJson, retryAfterMs } from './http';

export interface TelegramChannelOptions {
  botToken: string;
  chatId: string;
  apiUrl: string;
  fetch?: typeof fetch;
  timeoutMs?: number;
  /** Longest retry_after (seconds) waited out inside one send. Default 5. */
  maxRetryAfterS?: number;
  sleep?: (ms: number) => Promise<void>;
  logger?: Logger;
}

interface TelegramAnswer {
  ok?: boolean;
  error_code?: number;
  description?: string;
  parameters?: { retry_after?: number; migrate_to_chat_id?: number };
}

export class TelegramChannel implements AlertChannel {
  readonly name = 'telegram';
  readonly #token: string;
  readonly #chatId: string;
  readonly #apiUrl: string;
  readonly #fetch: typeof fetch;
  readonly #timeoutMs: number;
  readonly #maxRetryAfterMs: number;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #logger?: Logger;

  constructor(opts: TelegramChannelOptions) {
    this.#token = opts.botToken;
    this.#chatId = opts.chatId;
    this.#apiUrl = opts.apiUrl.replace(/\/+$/, '');
    this.#fetch = opts.fetch ?? fetch;
    this.#timeoutMs = opts.timeoutMs ?? DEFAULT_ALERT_TIMEOUT_MS;
    this.#maxRetryAfterMs = (opts.maxRetryAfterS ?? 5) * 1000;
    this.#sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.#logger = opts.logger;
  }

  async send(alert: Alert): Promise<void> {
    const body = JSON.stringify({
      chat_id: this.#chatId,
      text: formatTelegramText(alert),
      parse_mode: 'HTML',
      disable_web_page_preview: true,
    });
    try {
      await this.#post(body);
    } catch (err) {
      const wait = err instanceof AlertDeliveryError && err.status === 429 ? err.retryAfterMs : undefined;
      if (wait === undefined || wait > this.#maxRetryAfterMs) throw err;
      this.#logger?.info(
        { channel: this.name, alertKey: alert.key, retryAfterMs: wait },
        'telegram rate limit: waiting',
      );
      await this.#sleep(wait);
      await this.#post(body);
    }
  }

  async #post(body: string): Promise<void> {
    const secrets = [this.#token];
    const res = await postJson({
      channel: this.name,
      url: `${this.#apiUrl}/bot${this.#token}/sendMessage`,
      body,
      timeoutMs: this.#timeoutMs,
      fetch: this.#fetch,
      secrets,
    });
    let answer: TelegramAnswer | undefined;
    try {
      answer = JSON.parse(res.text) as TelegramAnswer;
    } catch {
      answer = undefined;
    }
    if (res.status >= 200 && res.status < 300 && answer?.ok === true) return;
    const status = res.status >= 200 && res.status < 300 ? (answer?.error_code ?? res.status) : res.status;
    const retryAfterS = answer?.parameters?.retry_after;
    const wait = typeof retryAfterS === 'number' ? retryAfterS * 1000 : retryAfterMs(res.headers);
    const detail = answer?.description ?? (answer ? 'ok:false' : `unexpected answer: ${res.text}`);
    // A 2xx without ok:true is a refusal; retry it only when Telegram's error code says so.
    throw deliveryError(this.name, status, detail, secrets, {
      retryAfterMs: wait,
      retryable: status >= 200 && status < 300 ? false : undefined,
    });
  }
}

/** The message text in Telegram's HTML subset; every dynamic part is escaped. */
export function formatTelegramText(alert: Alert): string {
  const lines = [
    `${severityEmoji(alert)} <b>${severityLabel(alert)}</b> \u00b7 <b>${escapeHtml(truncate(alert.title, 200))}</b>`,
    escapeHtml(truncate(alert.message, 3000)),
    '',
    ...alertFacts(alert).map((f) => `<b>${f.label}:</b> <code>${escapeHtml(truncate(f.value, 200))}</code>`),
    `<b>Key:</b> <code>${escapeHtml(truncate(alert.key, 200))}</code>`,
  ];
  return lines.join('\n');
}

/** Telegram's HTML parse mode needs <, > and & escaped (and " inside attributes). */
export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
