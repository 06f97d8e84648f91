/**
 * The one reading of an HTTP Retry-After header (RFC 9110 10.2.3) for every client: delta-seconds
 * (fractions accepted, rounded up: never wait less than asked) or an HTTP date (a date in the past
 * is 0), capped so a bad clock or a hostile answer cannot stop a caller for days.
 */

/** The longest wait a Retry-After can ask for: one hour (DigitalOcean's longest window). */
export const MAX_RETRY_AFTER_MS = 3_600_000;

/** Milliseconds to wait; undefined when the header is absent or unreadable. */
export function parseRetryAfterMs(
  value: string | null | undefined,
  nowMs: number = Date.now(),
  maxMs: number = MAX_RETRY_AFTER_MS,
): number | undefined {
  const v = value?.trim();
  if (!v) return undefined;
  let ms: number;
  if (/^\d+(\.\d+)?$/.test(v)) ms = Math.ceil(Number(v) * 1000);
  else {
    const at = Date.parse(v);
    if (Number.isNaN(at)) return undefined;
    ms = Math.max(0, at - nowMs);
  }
  return Math.min(ms, maxMs);
}
