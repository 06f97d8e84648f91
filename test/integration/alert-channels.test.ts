/**
 * Every alert channel against one local HTTP receiver that records each request (method, path,
 * headers, raw and JSON body) and can be told to answer with a status, or late, for the next N
 * requests. Asserts the exact payloads of each service's API, the error mapping, the notifier's
 * per-channel report, and that no secret reaches the logs.
 */
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import { AlertDeliveryError, type Alert, type AlertChannel } from '../../src/alerts/alert';
import {
  AlertNotificationError,
  AlertNotifier,
  channelsFromConfig,
  throwIfRetryable,
} from '../../src/alerts/channels';
import { PagerDutyChannel } from '../../src/alerts/pagerduty';
import { SlackChannel } from '../../src/alerts/slack';
import { TelegramChannel } from '../../src/alerts/telegram';
import { signWebhookBody, verifyWebhookSignature, WebhookChannel } from '../../src/alerts/webhook';

/* ------------------------------------------------------------------ the receiver */

interface Recorded {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  raw: string;
  body: any;
}

interface Scripted {
  /** Only requests whose path starts with this take the answer (default: any request). */
  pathPrefix?: string;
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  delayMs?: number;
}

class Receiver {
  readonly requests: Recorded[] = [];
  private readonly script: Scripted[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private server!: Server;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        let body: unknown;
        try {
          body = JSON.parse(raw);
        } catch {
          body = undefined;
        }
        this.requests.push({
          method: req.method ?? '',
          path: req.url ?? '',
          headers: req.headers,
          raw,
          body,
        });
        const path = req.url ?? '';
        const i = this.script.findIndex((a) => !a.pathPrefix || path.startsWith(a.pathPrefix));
        const next = i >= 0 ? this.script.splice(i, 1)[0] : defaultAnswer(path);
        const answer = () => reply(res, next);
        if (next.delayMs) {
          const t = setTimeout(() => {
            this.timers.delete(t);
            answer();
          }, next.delayMs);
          this.timers.add(t);
        } else answer();
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** The next `n` requests (to `answer.pathPrefix`, if given) get this answer instead of the service's success. */
  answerNext(n: number, answer: Scripted): void {
    for (let i = 0; i < n; i++) this.script.push(answer);
  }

  reset(): void {
    this.requests.length = 0;
    this.script.length = 0;
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

function defaultAnswer(path: string): Scripted {
  if (path.includes('/sendMessage')) return { status: 200, body: { ok: true, result: { message_id: 1 } } };
  if (path.startsWith('/pagerduty'))
    return { status: 202, body: { status: 'success', message: 'Event processed' } };
  if (path.startsWith('/slack')) return { status: 200, body: 'ok' };
  return { status: 204 };
}

function reply(res: ServerResponse, a: Scripted): void {
  const text = a.body === undefined ? '' : typeof a.body === 'string' ? a.body : JSON.stringify(a.body);
  res.writeHead(a.status, {
    'content-type': typeof a.body === 'string' ? 'text/plain' : 'application/json',
    ...a.headers,
  });
  res.end(text);
}

/* ------------------------------------------------------------------ fixtures */

const BOT_TOKEN = '123456:AAE-bot-token-SECRET-abcdef';
const CHAT_ID = '-1001234567890';
const ROUTING_KEY = 'R0UTINGKEYSECRET0000000000000000';
const WEBHOOK_SECRET = 'whsec-0123456789-SECRET';
const SLACK_PATH = '/slack/services/T000/B000/SlackHookSECRETpart';

const firing: Alert = {
  key: 'droplet:42:zombie',
  kind: 'droplet_zombie',
  severity: 'critical',
  title: 'Droplet 42 is a zombie',
  message: 'Hard reboot failed 3 times: <timeout> & no heartbeat',
  workspaceId: 'ws-acme',
  dropletId: 42,
  workflowId: 'power-42',
  reason: 'watchdog_heartbeat_timeout',
  status: 'firing',
};
const resolved: Alert = { ...firing, status: 'resolved' };

describe('alert channels', () => {
  const rx = new Receiver();
  let logText = '';
  const logger = pino(
    { level: 'trace' },
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        logText += chunk.toString();
        cb();
      },
    }),
  );
  const errorsSeen: string[] = [];

  const telegram = (opts: { maxRetryAfterS?: number; timeoutMs?: number } = {}) =>
    new TelegramChannel({ botToken: BOT_TOKEN, chatId: CHAT_ID, apiUrl: `${rx.url}/tg`, logger, ...opts });
  const slack = (timeoutMs?: number) => new SlackChannel({ webhookUrl: `${rx.url}${SLACK_PATH}`, timeoutMs });
  const pagerduty = () =>
    new PagerDutyChannel({ routingKey: ROUTING_KEY, eventsUrl: `${rx.url}/pagerduty/v2/enqueue` });
  const webhook = (now?: () => number) =>
    new WebhookChannel({ url: `${rx.url}/hooks/genesis`, secret: WEBHOOK_SECRET, now });

  /** The delivery error a send throws (and keeps its message for the secret check). */
  async function failure(channel: AlertChannel, alert: Alert = firing): Promise<AlertDeliveryError> {
    const err = await channel.send(alert).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AlertDeliveryError);
    errorsSeen.push((err as Error).message);
    return err as AlertDeliveryError;
  }

  beforeAll(() => rx.start());
  beforeEach(() => rx.reset());
  afterAll(async () => {
    await rx.stop();
    // nothing any channel logged or threw names a secret
    const everything = logText + errorsSeen.join('\n');
    expect(logText.length).toBeGreaterThan(0);
    for (const secret of [BOT_TOKEN, ROUTING_KEY, WEBHOOK_SECRET, 'SlackHookSECRETpart', 'SECRET']) {
      expect(everything).not.toContain(secret);
    }
  });

  describe('telegram', () => {
    it('POSTs sendMessage to /bot<token>/ with chat_id and an escaped HTML text naming everything', async () => {
      await telegram().send(firing);
      expect(rx.requests).toHaveLength(1);
      const [req] = rx.requests;
      expect(req.method).toBe('POST');
      expect(req.path).toBe(`/tg/bot${BOT_TOKEN}/sendMessage`);
      expect(req.headers['content-type']).toBe('application/json');
      expect(req.body).toEqual({
        chat_id: CHAT_ID,
        text: expect.any(String),
        parse_mode: 'HTML',
        disable_web_page_preview: true,
      });
      const text: string = req.body.text;
      expect(text).toContain('<b>CRITICAL</b>');
      expect(text).toContain('Droplet 42 is a zombie');
      expect(text).toContain('&lt;timeout&gt; &amp; no heartbeat');
      expect(text).not.toContain('<timeout>');
      for (const fact of ['ws-acme', '42', 'watchdog_heartbeat_timeout', 'power-42', 'droplet:42:zombie']) {
        expect(text).toContain(fact);
      }
    });

    it('marks a resolution as RESOLVED', async () => {
      await telegram().send(resolved);
      expect(rx.requests[0].body.text).toContain('RESOLVED');
    });

    it('treats {ok:false} as an error, even with HTTP 200, and never retries a 400', async () => {
      rx.answerNext(1, {
        status: 400,
        body: { ok: false, error_code: 400, description: 'Bad Request: chat not found' },
      });
      const e400 = await failure(telegram());
      expect(e400).toMatchObject({ channel: 'telegram', status: 400, retryable: false });
      expect(e400.message).toContain('chat not found');

      rx.answerNext(1, { status: 200, body: { ok: false, description: 'odd' } });
      const e200 = await failure(telegram());
      expect(e200.retryable).toBe(false);
      expect(e200.message).toContain('odd');
      expect(rx.requests).toHaveLength(2);
    });

    it('honours a short 429 retry_after by waiting and sending once more', async () => {
      rx.answerNext(1, {
        status: 429,
        body: {
          ok: false,
          error_code: 429,
          description: 'Too Many Requests: retry after 1',
          parameters: { retry_after: 1 },
        },
      });
      const started = Date.now();
      await telegram().send(firing);
      expect(Date.now() - started).toBeGreaterThanOrEqual(950);
      expect(rx.requests).toHaveLength(2);
      expect(rx.requests[1].body).toEqual(rx.requests[0].body);
    });

    it('throws a long 429 retry_after back as retryable with retryAfterMs', async () => {
      rx.answerNext(1, {
        status: 429,
        body: {
          ok: false,
          error_code: 429,
          description: 'Too Many Requests: retry after 60',
          parameters: { retry_after: 60 },
        },
      });
      const err = await failure(telegram());
      expect(err).toMatchObject({ status: 429, retryable: true, retryAfterMs: 60_000 });
      expect(rx.requests).toHaveLength(1);
    });
  });

  describe('slack', () => {
    it('POSTs {text, blocks} naming severity, workspace, droplet, reason and workflow id', async () => {
      await slack().send(firing);
      const [req] = rx.requests;
      expect(req.method).toBe('POST');
      expect(req.path).toBe(SLACK_PATH);
      expect(Object.keys(req.body).sort()).toEqual(['blocks', 'text']);
      const text: string = req.body.text;
      for (const fact of [
        'CRITICAL',
        'Droplet 42 is a zombie',
        'ws-acme',
        'droplet 42',
        'watchdog_heartbeat_timeout',
        'power-42',
      ]) {
        expect(text).toContain(fact);
      }
      const [header, message, facts, context] = req.body.blocks;
      expect(header).toEqual({
        type: 'header',
        text: {
          type: 'plain_text',
          text: expect.stringContaining('CRITICAL: Droplet 42 is a zombie'),
          emoji: true,
        },
      });
      expect(message).toEqual({
        type: 'section',
        text: { type: 'mrkdwn', text: 'Hard reboot failed 3 times: &lt;timeout&gt; &amp; no heartbeat' },
      });
      expect(facts.type).toBe('section');
      expect(facts.fields.map((f: any) => f.text)).toEqual([
        '*Severity*\ncritical',
        '*Workspace*\nws-acme',
        '*Droplet*\n42',
        '*Reason*\nwatchdog_heartbeat_timeout',
        '*Workflow*\npower-42',
      ]);
      expect(context.type).toBe('context');
      expect(context.elements[0].text).toContain('droplet:42:zombie');
    });

    it('says resolved', async () => {
      await slack().send(resolved);
      expect(rx.requests[0].body.text).toContain('[RESOLVED]');
      expect(rx.requests[0].body.blocks[2].fields[0].text).toBe('*Severity*\nresolved (was critical)');
    });
  });

  describe('pagerduty', () => {
    it('triggers, then resolves with the same dedup_key (Events API v2)', async () => {
      const pd = pagerduty();
      await pd.send({ ...firing, value: 97.5, threshold: 90 });
      await pd.send(resolved);
      expect(rx.requests.map((r) => [r.method, r.path])).toEqual([
        ['POST', '/pagerduty/v2/enqueue'],
        ['POST', '/pagerduty/v2/enqueue'],
      ]);
      expect(rx.requests[0].body).toEqual({
        routing_key: ROUTING_KEY,
        event_action: 'trigger',
        dedup_key: 'droplet:42:zombie',
        payload: {
          summary:
            '[CRITICAL] Droplet 42 is a zombie \u2014 workspace ws-acme \u00b7 droplet 42 \u00b7 reason watchdog_heartbeat_timeout \u00b7 workflow power-42 \u00b7 value 97.5 (threshold 90)',
          source: 'genesis-control-plane',
          severity: 'critical',
          component: 'droplet-42',
          group: 'ws-acme',
          custom_details: {
            kind: 'droplet_zombie',
            title: 'Droplet 42 is a zombie',
            message: 'Hard reboot failed 3 times: <timeout> & no heartbeat',
            workspace_id: 'ws-acme',
            droplet_id: 42,
            reason: 'watchdog_heartbeat_timeout',
            workflow_id: 'power-42',
            value: 97.5,
            threshold: 90,
          },
        },
      });
      expect(rx.requests[1].body).toEqual({
        routing_key: ROUTING_KEY,
        event_action: 'resolve',
        dedup_key: 'droplet:42:zombie',
      });
    });

    it('maps a fleet-wide alert to component kind and group fleet, severity as given', async () => {
      await pagerduty().send({
        key: 'watchdog:storm',
        kind: 'watchdog_storm',
        severity: 'warning',
        title: 'Storm',
        message: 'm',
        status: 'firing',
      });
      expect(rx.requests[0].body.payload).toMatchObject({
        severity: 'warning',
        component: 'watchdog_storm',
        group: 'fleet',
      });
    });

    it("reports PagerDuty's invalid-event message on 400, not retryable", async () => {
      rx.answerNext(1, {
        status: 400,
        body: {
          status: 'invalid event',
          message: 'Event object is invalid',
          errors: ['Length of summary is invalid'],
        },
      });
      const err = await failure(pagerduty());
      expect(err).toMatchObject({ status: 400, retryable: false });
      expect(err.message).toContain('Event object is invalid: Length of summary is invalid');
    });
  });

  describe('webhook', () => {
    it('POSTs the alert as JSON with a timestamp and an HMAC-SHA256 signature a receiver can verify', async () => {
      const now = Date.UTC(2030, 0, 1, 12, 0, 0);
      await webhook(() => now).send(firing);
      const [req] = rx.requests;
      expect(req.path).toBe('/hooks/genesis');
      const ts = req.headers['x-genesis-timestamp'] as string;
      const sig = req.headers['x-genesis-signature'] as string;
      expect(ts).toBe(String(now / 1000));
      expect(sig).toMatch(/^sha256=[0-9a-f]{64}$/);
      expect(req.headers['x-genesis-event']).toBe('alert.firing');
      expect(sig).toBe(signWebhookBody(WEBHOOK_SECRET, ts, req.raw));
      expect(req.body).toEqual({
        event: 'alert.firing',
        sent_at: '2030-01-01T12:00:00.000Z',
        alert: {
          key: 'droplet:42:zombie',
          kind: 'droplet_zombie',
          severity: 'critical',
          status: 'firing',
          title: 'Droplet 42 is a zombie',
          message: 'Hard reboot failed 3 times: <timeout> & no heartbeat',
          workspace_id: 'ws-acme',
          droplet_id: 42,
          workflow_id: 'power-42',
          reason: 'watchdog_heartbeat_timeout',
          value: null,
          threshold: null,
        },
      });

      // the receiver's side
      expect(verifyWebhookSignature(WEBHOOK_SECRET, ts, req.raw, sig, 300, now + 10_000)).toBe(true);
      expect(verifyWebhookSignature(WEBHOOK_SECRET, ts, Buffer.from(req.raw), sig, 300, now)).toBe(true);
      expect(verifyWebhookSignature('wrong-secret-0123456789', ts, req.raw, sig, 300, now)).toBe(false);
      expect(
        verifyWebhookSignature(WEBHOOK_SECRET, ts, req.raw.replace('critical', 'info'), sig, 300, now),
      ).toBe(false);
      expect(verifyWebhookSignature(WEBHOOK_SECRET, String(Number(ts) + 1), req.raw, sig, 300, now)).toBe(
        false,
      );
      // an old (replayed) or far-future timestamp
      expect(verifyWebhookSignature(WEBHOOK_SECRET, ts, req.raw, sig, 300, now + 301_000)).toBe(false);
      expect(verifyWebhookSignature(WEBHOOK_SECRET, ts, req.raw, sig, 300, now - 301_000)).toBe(false);
      // malformed input
      for (const bad of [undefined, '', 'sha256=', sig.slice(7), `sha1=${sig.slice(7)}`, `${sig}00`]) {
        expect(verifyWebhookSignature(WEBHOOK_SECRET, ts, req.raw, bad, 300, now)).toBe(false);
      }
      expect(verifyWebhookSignature(WEBHOOK_SECRET, 'abc', req.raw, sig, 300, now)).toBe(false);
      expect(verifyWebhookSignature(WEBHOOK_SECRET, undefined, req.raw, sig, 300, now)).toBe(false);
    });

    it('signs with the current time by default and says resolved', async () => {
      await webhook().send(resolved);
      const [req] = rx.requests;
      expect(req.headers['x-genesis-event']).toBe('alert.resolved');
      expect(req.body.alert.status).toBe('resolved');
      expect(
        verifyWebhookSignature(
          WEBHOOK_SECRET,
          req.headers['x-genesis-timestamp'] as string,
          req.raw,
          req.headers['x-genesis-signature'] as string,
          300,
        ),
      ).toBe(true);
    });
  });

  describe('error mapping', () => {
    const makers: [string, () => AlertChannel, (status: number) => unknown][] = [
      [
        'telegram',
        () => telegram({ maxRetryAfterS: 0 }),
        (s) => ({
          ok: false,
          error_code: s,
          description: `status ${s}`,
          parameters: s === 429 ? { retry_after: 30 } : undefined,
        }),
      ],
      [
        'slack',
        () => slack(),
        (s) => (s === 400 ? 'invalid_payload' : s === 429 ? 'rate_limited' : 'rollup_error'),
      ],
      ['pagerduty', () => pagerduty(), (s) => ({ status: 'error', message: `status ${s}` })],
      ['webhook', () => webhook(), (s) => ({ error: `status ${s}` })],
    ];
    const cases: [number, boolean][] = [
      [500, true],
      [503, true],
      [429, true],
      [400, false],
      [403, false],
      [404, false],
    ];

    it.each(makers)('%s: 5xx and 429 are retryable, other 4xx are not', async (name, make, bodyFor) => {
      for (const [status, retryable] of cases) {
        rx.answerNext(1, {
          status,
          body: bodyFor(status),
          headers: status === 429 ? { 'retry-after': '30' } : {},
        });
        const err = await failure(make());
        expect({ name, status: err.status, retryable: err.retryable }).toEqual({ name, status, retryable });
        expect(err.channel).toBe(name);
        if (status === 429) expect(err.retryAfterMs).toBe(30_000);
      }
      expect(rx.requests).toHaveLength(cases.length);
    });

    it('a request that gets no answer in time is a retryable timeout', async () => {
      rx.answerNext(1, { status: 200, body: 'ok', delayMs: 1500 });
      const err = await failure(slack(150));
      expect(err).toMatchObject({ channel: 'slack', status: undefined, retryable: true });
      expect(err.message).toContain('no answer within 150 ms');
    });

    it('a refused connection is a retryable network error that does not quote the URL', async () => {
      const closed = createServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
      const port = (closed.address() as AddressInfo).port;
      await new Promise((resolve) => closed.close(resolve));
      const tg = new TelegramChannel({
        botToken: BOT_TOKEN,
        chatId: CHAT_ID,
        apiUrl: `http://127.0.0.1:${port}`,
      });
      const err = await failure(tg);
      expect(err).toMatchObject({ channel: 'telegram', status: undefined, retryable: true });
      expect(err.message).toMatch(/network error/);
    });
  });

  describe('notifier', () => {
    const config = () => ({
      telegram: { botToken: BOT_TOKEN, chatId: CHAT_ID, apiUrl: `${rx.url}/tg` },
      slackWebhookUrl: `${rx.url}${SLACK_PATH}`,
      pagerduty: { routingKey: ROUTING_KEY, eventsUrl: `${rx.url}/pagerduty/v2/enqueue` },
      webhook: { url: `${rx.url}/hooks/genesis`, secret: WEBHOOK_SECRET },
    });

    it('builds the configured channels only', () => {
      expect(channelsFromConfig(config(), { logger }).map((c) => c.name)).toEqual([
        'telegram',
        'slack',
        'pagerduty',
        'webhook',
      ]);
      expect(
        channelsFromConfig({ slackWebhookUrl: `${rx.url}${SLACK_PATH}` }, { logger }).map((c) => c.name),
      ).toEqual(['slack']);
      expect(channelsFromConfig({}, { logger })).toEqual([]);
    });

    it('sends to every channel in parallel and reports delivered', async () => {
      const notifier = new AlertNotifier(channelsFromConfig(config(), { logger }), logger);
      const result = await notifier.notify(firing);
      expect(result).toEqual({ delivered: ['telegram', 'slack', 'pagerduty', 'webhook'], failed: [] });
      expect(rx.requests.map((r) => r.path.split('/')[1]).sort()).toEqual([
        'hooks',
        'pagerduty',
        'slack',
        'tg',
      ]);
      expect(() => throwIfRetryable(result)).not.toThrow();
    });

    it('reports a partial failure per channel; throwIfRetryable throws only for a retryable one', async () => {
      rx.answerNext(1, { pathPrefix: '/slack', status: 500, body: 'rollup_error' });
      rx.answerNext(1, {
        pathPrefix: '/pagerduty',
        status: 400,
        body: { status: 'invalid event', message: 'Event object is invalid' },
      });
      const notifier = new AlertNotifier(channelsFromConfig(config(), { logger }), logger);
      const result = await notifier.notify(firing);
      expect(result.delivered).toEqual(['telegram', 'webhook']);
      expect(result.failed).toEqual([
        { channel: 'slack', status: 500, retryable: true, error: 'slack: HTTP 500: rollup_error' },
        {
          channel: 'pagerduty',
          status: 400,
          retryable: false,
          error: 'pagerduty: HTTP 400: Event object is invalid',
        },
      ]);
      expect(rx.requests).toHaveLength(4);

      let thrown: unknown;
      try {
        throwIfRetryable(result);
      } catch (e) {
        thrown = e;
      }
      expect(thrown).toBeInstanceOf(AlertNotificationError);
      expect((thrown as AlertNotificationError).retryable).toBe(true);
      expect((thrown as AlertNotificationError).retryChannels).toEqual(['slack']);
      expect((thrown as Error).message).toContain('slack: HTTP 500');

      // the retry goes to the channel that can still succeed, not to the ones that delivered
      rx.reset();
      const retry = await notifier.notify(firing, { only: (thrown as AlertNotificationError).retryChannels });
      expect(retry).toEqual({ delivered: ['slack'], failed: [] });
      expect(rx.requests.map((r) => r.path)).toEqual([SLACK_PATH]);

      // only non-retryable failures: reported, not thrown
      rx.answerNext(1, { pathPrefix: '/hooks', status: 410, body: 'gone' });
      const refused = await notifier.notify(firing);
      expect(refused.failed).toEqual([
        { channel: 'webhook', status: 410, retryable: false, error: 'webhook: HTTP 410: gone' },
      ]);
      expect(() => throwIfRetryable(refused)).not.toThrow();
      expect(notifier.channelNames).toEqual(['telegram', 'slack', 'pagerduty', 'webhook']);
    });

    it('a channel that throws something unexpected is reported as retryable', async () => {
      const broken: AlertChannel = {
        name: 'broken',
        send: () => Promise.reject(new TypeError('boom')),
      };
      const result = await new AlertNotifier([broken], logger).notify(firing);
      expect(result.failed).toEqual([{ channel: 'broken', error: 'broken: boom', retryable: true }]);
    });

    it('with no channel configured, logs the alert at warn and reports delivered: [log]', async () => {
      const before = logText.length;
      const result = await new AlertNotifier([], logger).notify(firing);
      expect(result).toEqual({ delivered: ['log'], failed: [] });
      const line = JSON.parse(logText.slice(before).trim().split('\n').pop()!);
      expect(line).toMatchObject({
        level: 40,
        alertKey: 'droplet:42:zombie',
        severity: 'critical',
        workspaceId: 'ws-acme',
        dropletId: 42,
        workflowId: 'power-42',
        reason: 'watchdog_heartbeat_timeout',
      });
      expect(line.msg).toContain('Droplet 42 is a zombie');
      expect(rx.requests).toHaveLength(0);
    });

    it('logs deliveries and failures with the alert and channel names, never a secret', async () => {
      // each service answers 500 quoting the channel's own secret back
      rx.answerNext(1, {
        pathPrefix: '/tg',
        status: 500,
        body: { ok: false, error_code: 500, description: `bad bot ${BOT_TOKEN}` },
      });
      rx.answerNext(1, { pathPrefix: '/slack', status: 500, body: `no hook ${rx.url}${SLACK_PATH}` });
      rx.answerNext(1, { pathPrefix: '/pagerduty', status: 500, body: { message: `key ${ROUTING_KEY}` } });
      rx.answerNext(1, { pathPrefix: '/hooks', status: 500, body: `secret ${WEBHOOK_SECRET}` });
      const result = await new AlertNotifier(channelsFromConfig(config(), { logger }), logger).notify(firing);
      expect(result.failed.map((f) => f.channel)).toEqual(['telegram', 'slack', 'pagerduty', 'webhook']);
      for (const f of result.failed) {
        errorsSeen.push(f.error);
        expect(f.error).toContain('[redacted]');
      }
      expect(logText).toContain('alert delivery failed');
      expect(logText).toContain('"channel":"pagerduty"');
      expect(logText).toContain('"alertKey":"droplet:42:zombie"');
      // the secrets themselves are checked in afterAll, on everything logged and thrown in this file
    });
  });
});
