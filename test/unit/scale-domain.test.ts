/** Scale alerts' pure parts: input defaults and validation, the INFO memory parser. */
import { resolveScaleInput, SCALE_DEFAULTS, scaleAlertKey } from '../../src/domain/scale';
import { parseRedisMemory } from '../../src/scale/probes';

describe('resolveScaleInput', () => {
  it('fills in the production defaults of DESIGN.md section 2', () => {
    const cfg = resolveScaleInput();
    expect(cfg).toEqual(SCALE_DEFAULTS);
    expect(cfg.thresholds.leads_partitions).toEqual({ warning: 12_000, critical: 14_000 });
    expect(cfg.thresholds.email_events_rows).toEqual({ warning: 800_000_000, critical: 950_000_000 });
    expect(cfg.thresholds.db_connections).toEqual({ warning: 80, critical: 95 });
    expect(cfg.thresholds.fleet_stale_fraction).toEqual({ warning: 0.05 });
    expect(cfg.thresholds.db_size).toBeUndefined(); // informational
    expect(cfg.leadsMaxPartitions).toBe(15_000);
    expect(cfg.hysteresis).toBe(0.05);
  });

  it('overrides one probe without touching the others; undefined keeps the default', () => {
    const cfg = resolveScaleInput({
      leadsTable: 'crm.leads',
      staleAfterS: undefined,
      thresholds: { fleet_stale_fraction: { warning: 0.2 } },
    });
    expect(cfg.leadsTable).toBe('crm.leads');
    expect(cfg.staleAfterS).toBe(300);
    expect(cfg.thresholds.fleet_stale_fraction).toEqual({ warning: 0.2 });
    expect(cfg.thresholds.db_connections).toEqual({ warning: 80, critical: 95 });
  });

  it.each([
    [{ leadsTable: 'leads; DROP TABLE x' }, /leadsTable/],
    [{ emailEventsTable: 'Email' }, /emailEventsTable/],
    [{ failedWindowMs: 0 }, /failedWindowMs/],
    [{ hysteresis: 1 }, /hysteresis/],
    [{ thresholds: { db_connections: { warning: 90, critical: 80 } } }, /db_connections: critical/],
    [{ thresholds: { nope: { warning: 1 } } } as never, /nope: unknown probe/],
  ])('rejects %j', (input, message) => {
    expect(() => resolveScaleInput(input)).toThrow(message);
  });

  it('keys alerts by probe', () => {
    expect(scaleAlertKey('leads_partitions')).toBe('scale:leads_partitions');
  });
});

describe('parseRedisMemory', () => {
  it('reads used_memory and maxmemory from INFO memory', () => {
    const info = '# Memory\r\nused_memory:1048576\r\nused_memory_human:1.00M\r\nmaxmemory:4194304\r\n';
    expect(parseRedisMemory(info)).toEqual({ used: 1_048_576, max: 4_194_304 });
  });
  it('fails clearly on a reply without the fields', () => {
    expect(() => parseRedisMemory('# Memory\r\n')).toThrow('used_memory');
  });
});
