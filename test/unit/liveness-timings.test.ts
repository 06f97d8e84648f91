/** One heartbeat timeout for every reader, and power timings derived from it. */
import { loadConfig } from '../../src/config';
import { DEFAULT_HEARTBEAT_TIMEOUT_S, isFresh } from '../../src/domain/liveness';
import {
  DEFAULT_POWER_TIMINGS,
  resolvePowerTimings,
  timingsForHeartbeatTimeout,
} from '../../src/domain/power';
import { SCALE_DEFAULTS } from '../../src/domain/scale';
import { remediationWakeInput, WATCHDOG_DEFAULTS } from '../../src/domain/watchdog';

describe('heartbeat timeout and power timings', () => {
  it('has one production default behind the watchdog, the wake, the scale probe and the config', () => {
    expect(WATCHDOG_DEFAULTS.heartbeatTimeoutS).toBe(DEFAULT_HEARTBEAT_TIMEOUT_S);
    expect(SCALE_DEFAULTS.staleAfterS).toBe(DEFAULT_HEARTBEAT_TIMEOUT_S);
    expect(DEFAULT_POWER_TIMINGS.heartbeatTimeoutMs).toBe(DEFAULT_HEARTBEAT_TIMEOUT_S * 1000);
    expect(DEFAULT_POWER_TIMINGS.verifyWindowMs).toBe(DEFAULT_HEARTBEAT_TIMEOUT_S * 1000);
    const c = loadConfig('cli', { DATABASE_URL: 'postgres://u@h/db' });
    expect(c.watchdog.heartbeatTimeoutS).toBe(DEFAULT_HEARTBEAT_TIMEOUT_S);
    const dev = loadConfig('cli', { DATABASE_URL: 'postgres://u@h/db', WATCHDOG_HEARTBEAT_TIMEOUT_S: '60' });
    expect(dev.scaleAlerts.input.staleAfterS).toBe(60);
  });

  it('shortens the verification window with the heartbeat timeout unless one is given', () => {
    expect(resolvePowerTimings(timingsForHeartbeatTimeout(60))).toMatchObject({
      heartbeatTimeoutMs: 60_000,
      verifyWindowMs: 60_000,
      actionTimeoutMs: DEFAULT_POWER_TIMINGS.actionTimeoutMs,
    });
    expect(resolvePowerTimings({ heartbeatTimeoutMs: 60_000, verifyWindowMs: 9_000 }).verifyWindowMs).toBe(
      9_000,
    );
    expect(resolvePowerTimings({ verifyWindowMs: undefined })).toEqual(DEFAULT_POWER_TIMINGS);
  });

  it("gives the watchdog's wakes the watchdog's own timeout, so a droplet it finds stale is never fresh to them", () => {
    const wake = remediationWakeInput(60, { reboot: { maxAttempts: 2 } });
    expect(wake).toEqual({ reboot: { maxAttempts: 2 }, timings: { heartbeatTimeoutMs: 60_000 } });
    const now = Date.parse('2026-01-01T00:10:00Z');
    const lastKeepAlive = new Date(now - 90_000).toISOString(); // stale for the watchdog (60 s)
    const t = resolvePowerTimings(wake.timings);
    expect(isFresh(lastKeepAlive, now, t.heartbeatTimeoutMs)).toBe(false);
    expect(t.verifyWindowMs).toBe(60_000);
    // explicit wake timings still win
    expect(remediationWakeInput(60, { timings: { verifyWindowMs: 3_000 } }).timings).toEqual({
      heartbeatTimeoutMs: 60_000,
      verifyWindowMs: 3_000,
    });
  });
});
