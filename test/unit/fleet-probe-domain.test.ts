/** The fleet probe's pure rules: verdicts, executions failing, slices and pacing, the storm brake. */
import {
  addSlice,
  assessProbe,
  emptySliceResult,
  failingShare,
  paceOffsets,
  probeAlertKey,
  probeAlertKinds,
  probeStormBrake,
  resolveFleetProbeInput,
  sliceStartMs,
} from '../../src/domain/fleet-probe';

const rule = { failedShare: 0.5, minExecutions: 10 };
const healthy = { n8n_status: 'healthy' as const, container_status: 'running' };

describe('assessProbe', () => {
  it('healthy: n8n healthy and the container running, or docker not reporting', () => {
    expect(assessProbe({ health: healthy }, rule)).toEqual({ verdict: 'healthy', problems: [] });
    expect(assessProbe({ health: { ...healthy, container_status: 'unknown' } }, rule).verdict).toBe(
      'healthy',
    );
  });

  it('degraded is something measured: n8n down or degraded, the container not running', () => {
    expect(assessProbe({ health: { n8n_status: 'down', container_status: 'exited' } }, rule)).toEqual({
      verdict: 'degraded',
      problems: ['n8n_down', 'container_not_running'],
    });
    expect(assessProbe({ health: { ...healthy, n8n_status: 'degraded' } }, rule).problems).toEqual([
      'n8n_degraded',
    ]);
    expect(assessProbe({ health: { ...healthy, container_status: 'restarting' } }, rule).verdict).toBe(
      'degraded',
    );
  });

  it('an agent that did not answer is unreachable, with nothing measured', () => {
    expect(assessProbe({ errorKind: 'health_check:timeout' }, rule)).toEqual({
      verdict: 'unreachable',
      problems: [],
    });
  });

  it('failing executions are a problem (an alert), not the droplet degraded', () => {
    const a = assessProbe(
      { health: healthy, executions: { executions_total: 20, executions_failed: 11 } },
      rule,
    );
    expect(a).toMatchObject({ verdict: 'healthy', problems: ['executions_failing'], failedShare: 0.55 });
    expect(probeAlertKinds(a)).toEqual(['executions_failing']);
  });

  it('container CPU and memory in percent, where docker reported them', () => {
    const a = assessProbe(
      { health: { ...healthy, cpu_percent: 93, memory_usage_mb: 512, memory_limit_mb: 2048 } },
      rule,
    );
    expect(a).toMatchObject({ cpuPercent: 93, memoryPercent: 25 });
  });
});

describe('failingShare', () => {
  it('needs the minimum count, then compares the share (strictly above)', () => {
    expect(failingShare({ executions_total: 9, executions_failed: 9 }, rule)).toBeUndefined();
    expect(failingShare({ executions_total: 10, executions_failed: 5 }, rule)).toEqual({
      share: 0.5,
      failing: false,
    });
    expect(failingShare({ executions_total: 10, executions_failed: 6 }, rule)?.failing).toBe(true);
    expect(failingShare(undefined, rule)).toBeUndefined();
  });
});

describe('alert kinds and keys', () => {
  it('n8n down or its container not running is one n8n_down alert per droplet', () => {
    expect(probeAlertKinds({ problems: ['n8n_down', 'container_not_running'] })).toEqual(['n8n_down']);
    expect(probeAlertKinds({ problems: ['container_not_running'] })).toEqual(['n8n_down']);
    expect(probeAlertKinds({ problems: ['n8n_degraded'] })).toEqual([]);
    expect(probeAlertKey(42, 'n8n_down')).toBe('droplet:42:n8n_down');
  });
});

describe('slices and pacing', () => {
  it('one slice per 10 s of the period by default, capped at 360, at least 1', () => {
    expect(resolveFleetProbeInput().slices).toBe(30);
    expect(resolveFleetProbeInput({ periodS: 86_400 }).slices).toBe(360);
    expect(resolveFleetProbeInput({ periodS: 2 }).slices).toBe(1);
    expect(resolveFleetProbeInput({ slices: 4 }).slices).toBe(4);
    expect(resolveFleetProbeInput({ executions: { windowS: 60 } }).executions).toEqual({
      windowS: 60,
      failedShare: 0.5,
      minExecutions: 10,
    });
  });

  it('slices start evenly across the window', () => {
    expect([0, 1, 2, 3].map((i) => sliceStartMs(i, 4, 1_000))).toEqual([0, 250, 500, 750]);
  });

  it('a slice spreads its probes evenly: 500 droplets over 10 s are 50 per second', () => {
    const o = paceOffsets(500, 10_000);
    expect(o).toHaveLength(500);
    expect(o[0]).toBe(0);
    expect(o[50]).toBe(1_000);
    expect(o[499]).toBeLessThan(10_000);
    const perSecond = Array.from(
      { length: 10 },
      (_, s) => o.filter((t) => Math.floor(t / 1000) === s).length,
    );
    expect(perSecond).toEqual(Array(10).fill(50));
    expect(paceOffsets(0, 10_000)).toEqual([]);
  });
});

describe('probeStormBrake', () => {
  const opts = { stormFraction: 0.1, stormMaxBad: 1_500, stormMinBad: 5 };
  it('brakes above the share, or above the absolute cap', () => {
    expect(probeStormBrake(4_500, 15_000, opts)).toBe(true); // 30 %
    expect(probeStormBrake(1_000, 15_000, opts)).toBe(false); // 6.7 %
    expect(probeStormBrake(1_501, 100_000, opts)).toBe(true);
  });
  it('never for fewer bad droplets than the minimum, or nothing answered', () => {
    expect(probeStormBrake(4, 10, opts)).toBe(false);
    expect(probeStormBrake(1, 1, opts)).toBe(false);
    expect(probeStormBrake(5, 0, opts)).toBe(false);
  });
});

describe('addSlice', () => {
  it('sums the counts; braked if any slice braked', () => {
    const a = { ...emptySliceResult(), probed: 3, bad: 1 };
    const b = { ...emptySliceResult(), probed: 2, bad: 2, braked: true };
    expect(addSlice(a, b)).toMatchObject({ probed: 5, bad: 3, braked: true });
  });
});
