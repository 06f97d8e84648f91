import { Scheduler } from '../../src/simulator/sidecars/scheduler';

describe('sidecar simulator Scheduler', () => {
  let s: Scheduler;
  afterEach(() => s.close());

  it('runs tasks in due order on one timer, skipping cancelled ones', async () => {
    s = new Scheduler();
    const order: string[] = [];
    const now = Date.now();
    s.at(now + 40, () => order.push('c'));
    s.at(now + 10, () => order.push('a'));
    const cancelled = s.at(now + 20, () => order.push('x'));
    s.at(now + 30, () => order.push('b'));
    s.at(now + 30, () => order.push('b2')); // same due time: insertion order
    cancelled.cancel();
    await new Promise((r) => setTimeout(r, 80));
    expect(order).toEqual(['a', 'b', 'b2', 'c']);
    expect(s.size).toBe(0);
  });

  it('re-arms for an earlier task added later, and sleep() resolves', async () => {
    s = new Scheduler();
    const order: string[] = [];
    s.after(200, () => order.push('late'));
    const t0 = Date.now();
    await s.sleep(20);
    order.push('slept');
    expect(Date.now() - t0).toBeLessThan(150);
    expect(order).toEqual(['slept']);
  });

  it('keeps running when a task throws and reports the error', async () => {
    const errors: unknown[] = [];
    s = new Scheduler(Date.now, 2, (e) => errors.push(e));
    const ran: number[] = [];
    s.after(5, () => {
      throw new Error('boom');
    });
    s.after(10, () => ran.push(1));
    await new Promise((r) => setTimeout(r, 40));
    expect(errors).toHaveLength(1);
    expect(ran).toEqual([1]);
  });

  it('handles thousands of tasks, each exactly once', async () => {
    s = new Scheduler();
    const hits = new Uint8Array(5000);
    const now = Date.now();
    for (let i = 0; i < hits.length; i++) s.at(now + ((i * 7919) % 50), () => hits[i]!++);
    await new Promise((r) => setTimeout(r, 100));
    expect(hits.every((h) => h === 1)).toBe(true);
    expect(s.ran).toBe(5000);
  });

  it('close() drops everything', async () => {
    s = new Scheduler();
    let ran = false;
    s.after(10, () => (ran = true));
    s.close();
    await new Promise((r) => setTimeout(r, 30));
    expect(ran).toBe(false);
    expect(s.size).toBe(0);
  });
});
