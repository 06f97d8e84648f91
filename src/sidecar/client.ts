/**
 * Talks to one droplet's sidecar agent, protocol v1 (specs/sidecar-v1/PROTOCOL.md).
 *
 * `command()` signs a FRESH RS256 token for every call (the agent refuses a jti it has seen, even
 * one it refused for an action mismatch, so a retry must never reuse a token), with the droplet_id
 * claim the agent was provisioned with (`agentDropletId`: on this fleet usually the droplet's
 * public IPv4, never assumed to be the DigitalOcean id), POSTs `{action, payload}` to
 * `<sidecar_url>/command` with header `X-Genesis-JWT`, enforces a timeout, and turns every outcome
 * into a result or a typed error (see errors.ts):
 *   - a 200 answer with `success: false` is a failure (the agent's `error` text is kept);
 *   - two-level success: a result whose own `success` is false (container actions report docker
 *     failures that way, with no text) is a SidecarActionFailedError naming the action;
 *   - a result that does not have the v1 shape is a SidecarProtocolError naming the field, never
 *     a silent success.
 * The client does not retry by itself: retries belong to the caller (a Temporal activity), and each
 * retry is a new call with a new token.
 *
 * Never logged: the token, the private key, payloads (they may carry credential blobs).
 */
import type { KeyObject } from 'node:crypto';
import type { z } from 'zod';
import type { Logger } from '../logger';
import {
  SidecarActionFailedError,
  SidecarCancelledError,
  SidecarCommandFailedError,
  SidecarError,
  type SidecarErrorContext,
  SidecarForbiddenError,
  SidecarProtocolError,
  SidecarServerError,
  SidecarTimeoutError,
  SidecarUnauthorizedError,
  SidecarUnknownActionError,
  SidecarUnreachableError,
} from './errors';
import { DEFAULT_SIDECAR_JWT_TTL_S, loadPrivateKey, MAX_SIDECAR_JWT_TTL_S, signSidecarJwt } from './jwt';
import {
  commandResponseSchema,
  expectedDropletIdOf,
  INNER_SUCCESS_ACTIONS,
  sidecarHealthSchema,
  sidecarResultSchemas,
  type SidecarAction,
  type SidecarHealth,
  type SidecarPayloads,
  type SidecarResults,
} from './protocol';

export const DEFAULT_SIDECAR_TIMEOUT_MS = 30_000;

export interface SidecarTarget {
  sidecarUrl: string;
  workspaceId: string;
  /** the `droplet_id` claim the agent checks byte for byte: its provisioned DROPLET_ID string */
  agentDropletId: string;
}

export interface SidecarClientDeps {
  /** the dashboard's RSA private key, PEM (or an already parsed KeyObject) */
  privateKey: string | KeyObject;
  logger: Logger;
  /** per-request timeout, default 30 000 ms */
  timeoutMs?: number;
  /** token lifetime, 1..300 s, default 60 (the agent itself refuses only expired tokens) */
  jwtTtlSeconds?: number;
  fetch?: typeof fetch;
  now?: () => number;
}

export interface SidecarCallOptions {
  timeoutMs?: number;
  /** cancellation from the caller, e.g. an activity's cancellation signal */
  signal?: AbortSignal;
}

export interface SidecarCommandOutcome<R = unknown> {
  result: R;
  executionTimeMs?: number;
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
]);

function causeCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let depth = 0; depth < 4 && e && typeof e === 'object'; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}${path}`;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** The first schema issue as `field <path>: <message>` (the whole result when the path is empty). */
function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'malformed';
  const path = issue.path.map(String).join('.');
  return `${path ? `field ${path}` : 'the result'}: ${issue.message}`;
}

function errorText(body: unknown, fallback: string): string {
  if (body && typeof body === 'object' && typeof (body as { error?: unknown }).error === 'string') {
    return (body as { error: string }).error;
  }
  return fallback;
}

export class SidecarClient {
  private readonly key: KeyObject;
  private readonly logger: Logger;
  private readonly timeoutMs: number;
  private readonly ttl: number;
  private readonly fetchImpl: typeof fetch;
  private readonly now: () => number;

  constructor(deps: SidecarClientDeps) {
    this.key = loadPrivateKey(deps.privateKey);
    this.logger = deps.logger;
    this.timeoutMs = deps.timeoutMs ?? DEFAULT_SIDECAR_TIMEOUT_MS;
    this.ttl = deps.jwtTtlSeconds ?? DEFAULT_SIDECAR_JWT_TTL_S;
    this.fetchImpl = deps.fetch ?? fetch;
    this.now = deps.now ?? Date.now;
    if (!(this.timeoutMs > 0)) throw new RangeError('timeoutMs must be positive');
    if (!Number.isInteger(this.ttl) || this.ttl < 1 || this.ttl > MAX_SIDECAR_JWT_TTL_S) {
      throw new RangeError(`jwtTtlSeconds must be an integer in 1..${MAX_SIDECAR_JWT_TTL_S}`);
    }
  }

  /** One command, one fresh token. Resolves with the sidecar's result or throws a SidecarError. */
  async command(
    target: SidecarTarget,
    action: SidecarAction | (string & {}),
    payload: unknown = {},
    opts: SidecarCallOptions = {},
  ): Promise<SidecarCommandOutcome> {
    const ctx: SidecarErrorContext = { dropletId: target.agentDropletId, action };
    const token = await signSidecarJwt(this.key, {
      workspaceId: target.workspaceId,
      dropletId: target.agentDropletId,
      action,
      ttlSeconds: this.ttl,
      now: this.now(),
    });
    const started = performance.now();
    try {
      const { status, body } = await this.exchange(
        joinUrl(target.sidecarUrl, '/command'),
        {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-genesis-jwt': token },
          body: JSON.stringify({ action, payload }),
        },
        ctx,
        opts,
      );
      const outcome = this.interpretCommand(status, body, ctx);
      this.logger.debug(
        {
          workspaceId: target.workspaceId,
          agentDropletId: target.agentDropletId,
          action,
          ms: Math.round(performance.now() - started),
        },
        'sidecar command succeeded',
      );
      return outcome;
    } catch (err) {
      if (err instanceof SidecarError) {
        this.logger.warn(
          {
            workspaceId: target.workspaceId,
            agentDropletId: target.agentDropletId,
            action,
            code: err.code,
            status: err.status,
            retryable: err.retryable,
            ms: Math.round(performance.now() - started),
            err: err.message,
          },
          'sidecar command failed',
        );
      }
      throw err;
    }
  }

  /** GET <sidecar_url>/health (no token needed). */
  async health(sidecarUrl: string, opts: SidecarCallOptions = {}): Promise<SidecarHealth> {
    const ctx: SidecarErrorContext = {};
    const { status, body } = await this.exchange(
      joinUrl(sidecarUrl, '/health'),
      { method: 'GET' },
      ctx,
      opts,
    );
    this.throwForStatus(status, body, ctx);
    const parsed = sidecarHealthSchema.safeParse(body);
    if (!parsed.success)
      throw new SidecarProtocolError(`sidecar /health answer: ${describeIssue(parsed.error)}`, {
        ...ctx,
        status,
      });
    return parsed.data;
  }

  // Typed helpers, one per v1 action: same `{result, executionTimeMs}` as command(), with the
  // payload typed, the result validated (SidecarProtocolError naming the field) and the agent's
  // inner `success` checked (SidecarActionFailedError).

  healthCheck(t: SidecarTarget, o?: SidecarCallOptions) {
    return this.typed(t, 'HEALTH_CHECK', {}, o);
  }
  deployWorkflow(t: SidecarTarget, p: SidecarPayloads['DEPLOY_WORKFLOW'], o?: SidecarCallOptions) {
    return this.typed(t, 'DEPLOY_WORKFLOW', p, o);
  }
  getWorkflow(t: SidecarTarget, p: SidecarPayloads['GET_WORKFLOW'], o?: SidecarCallOptions) {
    return this.typed(t, 'GET_WORKFLOW', p, o);
  }
  updateWorkflow(t: SidecarTarget, p: SidecarPayloads['UPDATE_WORKFLOW'], o?: SidecarCallOptions) {
    return this.typed(t, 'UPDATE_WORKFLOW', p, o);
  }
  activateWorkflow(t: SidecarTarget, p: SidecarPayloads['ACTIVATE_WORKFLOW'], o?: SidecarCallOptions) {
    return this.typed(t, 'ACTIVATE_WORKFLOW', p, o);
  }
  deactivateWorkflow(t: SidecarTarget, p: SidecarPayloads['DEACTIVATE_WORKFLOW'], o?: SidecarCallOptions) {
    return this.typed(t, 'DEACTIVATE_WORKFLOW', p, o);
  }
  deleteWorkflow(t: SidecarTarget, p: SidecarPayloads['DELETE_WORKFLOW'], o?: SidecarCallOptions) {
    return this.typed(t, 'DELETE_WORKFLOW', p, o);
  }
  injectCredential(t: SidecarTarget, p: SidecarPayloads['INJECT_CREDENTIAL'], o?: SidecarCallOptions) {
    return this.typed(t, 'INJECT_CREDENTIAL', p, o);
  }
  rotateCredential(t: SidecarTarget, p: SidecarPayloads['ROTATE_CREDENTIAL'], o?: SidecarCallOptions) {
    return this.typed(t, 'ROTATE_CREDENTIAL', p, o);
  }
  restartN8n(t: SidecarTarget, o?: SidecarCallOptions) {
    return this.typed(t, 'RESTART_N8N', {}, o);
  }
  pullImage(t: SidecarTarget, p: SidecarPayloads['PULL_IMAGE'], o?: SidecarCallOptions) {
    return this.typed(t, 'PULL_IMAGE', p, o);
  }
  swapContainer(t: SidecarTarget, p: SidecarPayloads['SWAP_CONTAINER'], o?: SidecarCallOptions) {
    return this.typed(t, 'SWAP_CONTAINER', p, o);
  }
  getLogs(t: SidecarTarget, p: SidecarPayloads['GET_LOGS'] = {}, o?: SidecarCallOptions) {
    return this.typed(t, 'GET_LOGS', p, o);
  }
  collectMetrics(t: SidecarTarget, p: SidecarPayloads['COLLECT_METRICS'] = {}, o?: SidecarCallOptions) {
    return this.typed(t, 'COLLECT_METRICS', p, o);
  }

  private async typed<A extends SidecarAction>(
    target: SidecarTarget,
    action: A,
    payload: SidecarPayloads[A],
    opts?: SidecarCallOptions,
  ): Promise<SidecarCommandOutcome<SidecarResults[A]>> {
    const { result, executionTimeMs } = await this.command(target, action, payload, opts);
    const ctx = { dropletId: target.agentDropletId, action, status: 200 };
    const parsed = sidecarResultSchemas[action].safeParse(result);
    if (!parsed.success) {
      throw new SidecarProtocolError(`sidecar ${action} result: ${describeIssue(parsed.error)}`, ctx);
    }
    if (INNER_SUCCESS_ACTIONS.has(action) && (parsed.data as { success?: boolean }).success === false) {
      throw new SidecarActionFailedError(ctx, executionTimeMs);
    }
    return { result: parsed.data as SidecarResults[A], executionTimeMs };
  }

  private interpretCommand(status: number, body: unknown, ctx: SidecarErrorContext): SidecarCommandOutcome {
    this.throwForStatus(status, body, ctx);
    const parsed = commandResponseSchema.safeParse(body);
    if (!parsed.success) {
      throw new SidecarProtocolError('sidecar answer is not a {success, result?, error?} object', {
        ...ctx,
        status,
      });
    }
    const env = parsed.data;
    if (!env.success) {
      const error = env.error ?? 'unknown error';
      if (error.startsWith('Unknown command:'))
        throw new SidecarUnknownActionError(error, { ...ctx, status });
      throw new SidecarCommandFailedError(error, { ...ctx, status }, env.execution_time_ms);
    }
    return { result: env.result, executionTimeMs: env.execution_time_ms };
  }

  private throwForStatus(status: number, body: unknown, ctx: SidecarErrorContext): void {
    const c = { ...ctx, status };
    if (status >= 200 && status < 300) return;
    if (status === 401)
      throw new SidecarUnauthorizedError(`sidecar refused: ${errorText(body, 'unauthorized')}`, c);
    if (status === 403) {
      const error = errorText(body, 'forbidden');
      throw new SidecarForbiddenError(`sidecar refused: ${error}`, {
        ...c,
        expectedDropletId: expectedDropletIdOf(error),
      });
    }
    if (status >= 500)
      throw new SidecarServerError(`sidecar error ${status}: ${errorText(body, 'server error')}`, c);
    throw new SidecarProtocolError(`unexpected sidecar status ${status}: ${errorText(body, '')}`, c);
  }

  /** One HTTP exchange with a timeout; network failures become typed errors. */
  private async exchange(
    url: string,
    init: RequestInit,
    ctx: SidecarErrorContext,
    opts: SidecarCallOptions,
  ): Promise<{ status: number; body: unknown }> {
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    if (!URL.canParse(url)) throw new SidecarProtocolError(`sidecar url is not a URL: ${url}`, ctx);
    // cancelled before the request left (e.g. while its token was signed): nothing is sent
    if (opts.signal?.aborted) throw new SidecarCancelledError('sidecar call cancelled by caller', ctx);
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);
    const onCallerAbort = () => controller.abort();
    opts.signal?.addEventListener('abort', onCallerAbort, { once: true });
    try {
      const res = await this.fetchImpl(url, { ...init, signal: controller.signal });
      const text = await res.text();
      return { status: res.status, body: parseJson(text) };
    } catch (err) {
      if (timedOut) throw new SidecarTimeoutError(timeoutMs, ctx, { cause: err });
      if (opts.signal?.aborted)
        throw new SidecarCancelledError('sidecar call cancelled by caller', ctx, { cause: err });
      const code = causeCode(err);
      if (err instanceof TypeError || (code && NETWORK_CODES.has(code))) {
        throw new SidecarUnreachableError(`sidecar unreachable${code ? ` (${code})` : ''}`, ctx, {
          cause: err,
        });
      }
      throw err;
    } finally {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onCallerAbort);
    }
  }
}
