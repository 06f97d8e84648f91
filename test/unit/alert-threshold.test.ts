import { evaluateThreshold } from '../../src/alerts/threshold';

describe('evaluateThreshold', () => {
  const levels = { warning: 80, critical: 90, hysteresis: 0.05 };

  it('breaches at >= the threshold, nothing below it when nothing is held', () => {
    expect(evaluateThreshold({ ...levels, value: 79.9 })).toBeUndefined();
    expect(evaluateThreshold({ ...levels, value: 80 })).toBe('warning');
    expect(evaluateThreshold({ ...levels, value: 89.99 })).toBe('warning');
    expect(evaluateThreshold({ ...levels, value: 90 })).toBe('critical');
    expect(evaluateThreshold({ ...levels, value: 150 })).toBe('critical');
  });

  it('holds an open warning inside the hysteresis band and clears below it (80, 5 %: 78 stays, 75 clears)', () => {
    expect(evaluateThreshold({ ...levels, value: 78, current: 'warning' })).toBe('warning');
    expect(evaluateThreshold({ ...levels, value: 76, current: 'warning' })).toBe('warning'); // 80 * 0.95
    expect(evaluateThreshold({ ...levels, value: 75.99, current: 'warning' })).toBeUndefined();
    expect(evaluateThreshold({ ...levels, value: 75, current: 'warning' })).toBeUndefined();
    // the same 78 without an open alert opens nothing
    expect(evaluateThreshold({ ...levels, value: 78 })).toBeUndefined();
  });

  it('steps a held critical down through warning with hysteresis on both levels', () => {
    expect(evaluateThreshold({ ...levels, value: 86, current: 'critical' })).toBe('critical'); // >= 85.5
    expect(evaluateThreshold({ ...levels, value: 85, current: 'critical' })).toBe('warning');
    expect(evaluateThreshold({ ...levels, value: 77, current: 'critical' })).toBe('warning'); // >= 76
    expect(evaluateThreshold({ ...levels, value: 70, current: 'critical' })).toBeUndefined();
    // a held warning does not get critical's band
    expect(evaluateThreshold({ ...levels, value: 86, current: 'warning' })).toBe('warning');
  });

  it('escalates a held warning to critical at the critical threshold', () => {
    expect(evaluateThreshold({ ...levels, value: 90, current: 'warning' })).toBe('critical');
  });

  it('works with one level only, and with no hysteresis', () => {
    expect(evaluateThreshold({ value: 95, critical: 95 })).toBe('critical');
    expect(evaluateThreshold({ value: 94, critical: 95, current: 'critical' })).toBeUndefined();
    expect(evaluateThreshold({ value: 94, critical: 95, hysteresis: 0.02, current: 'critical' })).toBe(
      'critical',
    );
    expect(evaluateThreshold({ value: 12_500, warning: 12_000 })).toBe('warning');
    expect(evaluateThreshold({ value: 11_999, warning: 12_000, current: 'warning' })).toBeUndefined();
  });

  it('treats a held info like nothing held', () => {
    expect(evaluateThreshold({ ...levels, value: 78, current: 'info' })).toBeUndefined();
    expect(evaluateThreshold({ ...levels, value: 78, current: null })).toBeUndefined();
  });

  it('refuses nonsense input', () => {
    expect(() => evaluateThreshold({ value: Number.NaN, warning: 1 })).toThrow(RangeError);
    expect(() => evaluateThreshold({ value: 1 })).toThrow(/warning or critical/);
    expect(() => evaluateThreshold({ value: 1, warning: 1, hysteresis: 1 })).toThrow(/hysteresis/);
    expect(() => evaluateThreshold({ value: 1, warning: 1, hysteresis: -0.1 })).toThrow(/hysteresis/);
    expect(() => evaluateThreshold({ value: 1, warning: 90, critical: 80 })).toThrow(/critical/);
  });
});
