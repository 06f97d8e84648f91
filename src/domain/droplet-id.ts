/**
 * Droplet ids as the CLI, the client and the API take them: DigitalOcean's numeric id, a positive
 * whole number. The store holds it as a Postgres bigint and JavaScript as a number, so the largest
 * id that survives both exactly is Number.MAX_SAFE_INTEGER (16 digits); anything longer is refused
 * here with a clear reason instead of reaching Postgres ("value out of range for type bigint") or
 * silently rounding.
 */
export const MAX_DROPLET_ID = Number.MAX_SAFE_INTEGER;

export const DROPLET_ID_RULE = `a droplet id is a positive whole number up to ${MAX_DROPLET_ID}`;

/** The id, or undefined when `text` is not a droplet id (not digits, zero, or out of range). */
export function parseDropletId(text: string): number | undefined {
  if (!/^\d{1,16}$/.test(text)) return undefined;
  const id = Number(text);
  return isDropletId(id) ? id : undefined;
}

export function isDropletId(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v > 0;
}
