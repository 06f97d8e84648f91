/**
 * Faults a test (or the local demo) can inject into the DigitalOcean simulator, globally or for one
 * droplet. Counted faults (`times`) wear off after that many uses; the others stay until cleared.
 */

export type DigitalOceanFault =
  /** Answer 5xx (default 500) to the next `times` requests (that concern `dropletId`, when given). */
  | { kind: 'serverError'; times: number; status?: number; dropletId?: number }
  /** Hold responses `delayMs` before answering (all, or those that concern `dropletId`). */
  | { kind: 'slow'; delayMs: number; dropletId?: number; times?: number }
  /** Answer 429 with Retry-After to the next `times` requests (of `account`'s tokens, when given), whatever the budget. */
  | { kind: 'rateLimited'; times: number; retryAfterSec?: number; account?: string }
  /** The next `times` (default 1) actions (on `dropletId`, when given) end `errored`. */
  | { kind: 'actionErrored'; times?: number; dropletId?: number }
  /** Actions that should boot the droplet complete, but it stays `off`. */
  | { kind: 'neverBoots'; dropletId: number };

type Stored = DigitalOceanFault & { left: number };

export class FaultBook {
  private readonly global: Stored[] = [];
  private readonly perDroplet = new Map<number, Stored[]>();

  add(fault: DigitalOceanFault): void {
    const times =
      'times' in fault && fault.times !== undefined
        ? fault.times
        : fault.kind === 'actionErrored'
          ? 1
          : Infinity;
    if (!(times > 0)) throw new RangeError(`fault ${fault.kind}: times must be positive`);
    const stored = { ...fault, left: times } as Stored;
    const dropletId = 'dropletId' in fault ? fault.dropletId : undefined;
    if (dropletId === undefined) {
      this.global.push(stored);
      return;
    }
    const list = this.perDroplet.get(dropletId) ?? [];
    list.push(stored);
    this.perDroplet.set(dropletId, list);
  }

  clear(dropletId?: number): void {
    if (dropletId !== undefined) {
      this.perDroplet.delete(dropletId);
      return;
    }
    this.global.length = 0;
    this.perDroplet.clear();
  }

  get empty(): boolean {
    return this.global.length === 0 && this.perDroplet.size === 0;
  }

  /** Finds a fault of `kind` for the droplet (its own first, then global) and uses it up once. */
  take<K extends DigitalOceanFault['kind']>(
    kind: K,
    dropletId: number | undefined,
  ): Extract<DigitalOceanFault, { kind: K }> | undefined {
    const lists = [dropletId === undefined ? undefined : this.perDroplet.get(dropletId), this.global];
    for (const list of lists) {
      if (!list) continue;
      const i = list.findIndex((f) => f.kind === kind);
      if (i < 0) continue;
      const f = list[i];
      f.left -= 1;
      if (f.left <= 0) list.splice(i, 1);
      if (list.length === 0 && dropletId !== undefined && list !== this.global)
        this.perDroplet.delete(dropletId);
      return f as unknown as Extract<DigitalOceanFault, { kind: K }>;
    }
    return undefined;
  }

  /**
   * Like take, for a request about several droplets (a bulk action by tag): the first of their own
   * faults of `kind`, else a global one; `accept` filters (e.g. a fault for one account).
   */
  takeAny<K extends DigitalOceanFault['kind']>(
    kind: K,
    dropletIds: readonly number[],
    accept: (f: Extract<DigitalOceanFault, { kind: K }>) => boolean = () => true,
  ): Extract<DigitalOceanFault, { kind: K }> | undefined {
    for (const id of dropletIds) {
      if (this.perDroplet.has(id)) {
        const f = this.takeFrom(kind, id, this.perDroplet.get(id) as Stored[], accept);
        if (f) return f;
      }
    }
    return this.takeFrom(kind, undefined, this.global, accept);
  }

  private takeFrom<K extends DigitalOceanFault['kind']>(
    kind: K,
    dropletId: number | undefined,
    list: Stored[],
    accept: (f: Extract<DigitalOceanFault, { kind: K }>) => boolean,
  ): Extract<DigitalOceanFault, { kind: K }> | undefined {
    const i = list.findIndex(
      (f) => f.kind === kind && accept(f as unknown as Extract<DigitalOceanFault, { kind: K }>),
    );
    if (i < 0) return undefined;
    const f = list[i];
    f.left -= 1;
    if (f.left <= 0) list.splice(i, 1);
    if (list.length === 0 && dropletId !== undefined) this.perDroplet.delete(dropletId);
    return f as unknown as Extract<DigitalOceanFault, { kind: K }>;
  }

  /** Like take, but does not use it up. */
  has(kind: DigitalOceanFault['kind'], dropletId: number | undefined): boolean {
    if (dropletId !== undefined && this.perDroplet.get(dropletId)?.some((f) => f.kind === kind)) return true;
    return this.global.some((f) => f.kind === kind);
  }
}
