/**
 * The one HTTP exchange every alert channel makes: POST a JSON body with a timeout
 * (AbortSignal.timeout), read the whole answer, and turn "no answer" into a retryable
 * AlertDeliveryError. Channels whose service accepts with any 2xx use `postExpecting2xx`; the
 * others read the status and body themselves (each service answers in its own shape) and build
 * their errors with `deliveryError`.
 *
 * Secrets (bot token in the URL path, routing key, webhook URL) are scrubbed out of every message
 * this module builds: fetch's own errors can quote the URL they failed on.
 */
import { parseRetryAfterMs } from '../errors/retry-after';
import { AlertDeliveryError, isRetryableStatus } from './alert';

export const DEFAULT_ALERT_TIMEOUT_MS = 10_000;

export interface PostJsonRequest {
  channel: string;
  url: string;
  body: string;
  headers?: Record<string, string>;
  timeoutMs: number;
  fetch: typeof fetch;
  /** Strings that must never appear in an error message. */
  secrets: readonly string[];
}

export interface PostJsonAnswer {
  status: number;
  headers: Headers;
  text: string;
}

export async function postJson(req: PostJsonRequest): Promise<PostJsonAnswer> {
  let res: Response;
  try {
    res = await req.fetch(req.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'genesis-control-plane',
        ...req.headers,
      },
      body: req.body,
      signal: AbortSignal.timeout(req.timeoutMs),
    });
  } catch (err) {
    throw networkError(req, err);
  }
  let text: string;
  try {
    text = await res.text();
  } catch (err) {
    throw networkError(req, err);
  }
  return { status: res.status, headers: res.headers, text };
}

/**
 * The exchange of a channel whose service accepts with any 2xx: posts, and throws `deliveryError`
 * (carrying the answer's Retry-After) for every other status. `describe` turns the refusal's body
 * into the error's detail; by default the body itself, trimmed.
 */
export async function postExpecting2xx(
  req: PostJsonRequest,
  describe: (text: string) => string = (text) => text.trim(),
): Promise<void> {
  const res = await postJson(req);
  if (res.status >= 200 && res.status < 300) return;
  throw deliveryError(req.channel, res.status, describe(res.text), req.secrets, {
    retryAfterMs: retryAfterMs(res.headers),
  });
}

/** An error for an answer the channel refuses; retryable by status unless told otherwise. */
export function deliveryError(
  channel: string,
  status: number,
  detail: string,
  secrets: readonly string[],
  extra: { retryable?: boolean; retryAfterMs?: number } = {},
): AlertDeliveryError {
  return new AlertDeliveryError({
    channel,
    status,
    retryable: extra.retryable ?? isRetryableStatus(status),
    retryAfterMs: extra.retryAfterMs,
    message: `HTTP ${status}${detail ? `: ${scrub(detail, secrets, 300)}` : ''}`,
  });
}

/** The answer's Retry-After as milliseconds (src/errors/retry-after.ts); undefined when absent or unreadable. */
export function retryAfterMs(headers: Headers, nowMs = Date.now()): number | undefined {
  return parseRetryAfterMs(headers.get('retry-after'), nowMs);
}

/** Removes every secret (and anything after a "/bot" path segment) from text, and caps its length. */
export function scrub(text: string, secrets: readonly string[], max = 500): string {
  let out = text;
  for (const s of secrets) if (s) out = out.split(s).join('[redacted]');
  out = out.replace(/\/bot[^/\s]+/g, '/bot[redacted]');
  return out.length > max ? `${out.slice(0, max)}...` : out;
}

function networkError(req: PostJsonRequest, err: unknown): AlertDeliveryError {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  const timedOut = e?.name === 'TimeoutError' || e?.name === 'AbortError';
  const reason = timedOut
    ? `no answer within ${req.timeoutMs} ms`
    : `network error: ${e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(err)}`;
  return new AlertDeliveryError({
    channel: req.channel,
    retryable: true,
    message: scrub(reason, req.secrets),
  });
}
