/**
 * The sidecar's memory of token ids it has already accepted (replay protection).
 *
 * A jti only has to be remembered until its token expires: after that the token is refused as
 * expired anyway. So entries carry their token's exp and are dropped once it has passed. The set is
 * bounded: when it is full of unexpired ids it refuses new tokens (fails closed) rather than
 * forgetting an id that could then be replayed.
 */
export type JtiAdmission = 'accepted' | 'replayed' | 'full';

export class JtiCache {
  /** jti -> exp (epoch seconds); Map keeps insertion order, which is roughly exp order. */
  private readonly seen = new Map<string, number>();

  constructor(readonly capacity = 10_000) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError('capacity must be a positive integer');
  }

  get size(): number {
    return this.seen.size;
  }

  has(jti: string, nowSec: number): boolean {
    const exp = this.seen.get(jti);
    return exp !== undefined && exp > nowSec;
  }

  /** Records the jti unless it was seen (and has not expired) or the set is full. */
  admit(jti: string, expSec: number, nowSec: number): JtiAdmission {
    this.dropExpiredHead(nowSec);
    if (this.has(jti, nowSec)) return 'replayed';
    if (this.seen.size >= this.capacity) {
      this.sweep(nowSec);
      if (this.seen.size >= this.capacity) return 'full';
    }
    this.seen.delete(jti);
    this.seen.set(jti, expSec);
    return 'accepted';
  }

  /** Cheap: drops expired entries from the oldest end until one is still live. */
  private dropExpiredHead(nowSec: number): void {
    for (const [jti, exp] of this.seen) {
      if (exp > nowSec) return;
      this.seen.delete(jti);
    }
  }

  /** Full pass, only when the set looks full (tokens with longer ttl may sit behind short ones). */
  private sweep(nowSec: number): void {
    for (const [jti, exp] of this.seen) if (exp <= nowSec) this.seen.delete(jti);
  }
}
