/** One worker per task queue, run and stopped as one (src/worker/worker-set.ts). */
import type { State, Worker } from '@temporalio/worker';
import { WorkerSet } from '../../src/worker/worker-set';

/** A worker whose run() ends when shut down, or fails when told to. */
function fakeWorker() {
  let state: State = 'INITIALIZED';
  let end!: () => void;
  let fail!: (err: Error) => void;
  const w = {
    shutdowns: 0,
    run: () =>
      new Promise<void>((resolve, reject) => {
        state = 'RUNNING';
        end = () => {
          state = 'STOPPED';
          resolve();
        };
        fail = (err) => {
          state = 'FAILED';
          reject(err);
        };
      }),
    shutdown: () => {
      if (state !== 'RUNNING') throw new Error(`Not running. Current state: ${state}`);
      w.shutdowns++;
      state = 'STOPPING';
      setImmediate(end);
    },
    getState: () => state,
    fail: (err: Error) => fail(err),
  };
  return w;
}

const setOf = (...ws: ReturnType<typeof fakeWorker>[]) =>
  new WorkerSet(new Map(ws.map((w, i) => [`q${i}`, w as unknown as Worker])));

describe('WorkerSet', () => {
  it('runs every worker and is RUNNING only while all of them run', async () => {
    const [a, b] = [fakeWorker(), fakeWorker()];
    const set = setOf(a, b);
    const running = set.run();
    expect(set.getState()).toBe('RUNNING');
    a.shutdown();
    expect(set.getState()).toBe('STOPPING');
    set.shutdown(); // only the one still running is told
    expect([a.shutdowns, b.shutdowns]).toEqual([1, 1]);
    await expect(running).resolves.toBeUndefined();
    expect(set.getState()).toBe('STOPPED');
  });

  it('a failing worker stops the others, and run rejects with its error once all have stopped', async () => {
    const [a, b] = [fakeWorker(), fakeWorker()];
    const set = setOf(a, b);
    const running = set.run();
    b.fail(new Error('poller died'));
    await expect(running).rejects.toThrow('poller died');
    expect(a.getState()).toBe('STOPPED');
    expect(a.shutdowns).toBe(1);
  });

  it('needs at least one worker', () => {
    expect(() => new WorkerSet(new Map())).toThrow('at least one worker');
  });
});
