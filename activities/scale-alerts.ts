/**
 * Side effects of the scale alerts: one activity per probe, and `evaluateScaleProbe`, which holds
 * the alert of a probe (`scale:<probe>`) at the level its thresholds give: raised (opened once per
 * key by the store, re-notified while critical by its renotify interval) or resolved.
 */
import { evaluateThreshold } from '../src/alerts/threshold';
import {
  SCALE_ALERT_KIND,
  scaleAlertKey,
  type ProbeEvaluation,
  type ProbeResult,
  type ScaleAlertConfig,
} from '../src/domain/scale';
import {
  probeConnections,
  probeDatabaseSize,
  probeEmailEventsRows,
  probeFleetStale,
  probeHeartbeatBacklog,
  probeLeadsPartitions,
  probeRedisMemory,
  probeTemporalBacklog,
  probeTemporalFailures,
  type ProbeContext,
} from '../src/scale/probes';
import { portsOf, type ActivityDeps } from './deps';

const UNIT_LABEL: Record<string, string> = { percent: '%', fraction: '', ratio: '' };

function formatValue(value: number, unit: string): string {
  const v = Number.isInteger(value) ? value.toLocaleString('en-US') : String(Math.round(value * 1000) / 1000);
  return `${v}${unit in UNIT_LABEL ? UNIT_LABEL[unit] : ` ${unit}`}`;
}

export function createScaleAlertActivities(deps: ActivityDeps) {
  const { scaleProbes, alerts } = portsOf(deps);
  const ctx = (): ProbeContext => ({
    scale: scaleProbes,
    redis: deps.redis,
    heartbeatStream: deps.heartbeatStream,
    temporal: deps.temporal,
    clock: deps.clock,
  });
  return {
    async scaleProbeLeadsPartitions(cfg: ScaleAlertConfig): Promise<ProbeResult> {
      return probeLeadsPartitions(ctx(), cfg);
    },
    async scaleProbeEmailEventsRows(cfg: ScaleAlertConfig): Promise<ProbeResult> {
      return probeEmailEventsRows(ctx(), cfg);
    },
    async scaleProbeConnections(): Promise<ProbeResult> {
      return probeConnections(ctx());
    },
    async scaleProbeDatabaseSize(): Promise<ProbeResult> {
      return probeDatabaseSize(ctx());
    },
    async scaleProbeHeartbeatBacklog(): Promise<ProbeResult> {
      return probeHeartbeatBacklog(ctx());
    },
    async scaleProbeTemporalBacklog(cfg: ScaleAlertConfig): Promise<ProbeResult> {
      return probeTemporalBacklog(ctx(), cfg);
    },
    async scaleProbeTemporalFailures(cfg: ScaleAlertConfig): Promise<ProbeResult> {
      return probeTemporalFailures(ctx(), cfg);
    },
    async scaleProbeFleetStale(cfg: ScaleAlertConfig): Promise<ProbeResult> {
      return probeFleetStale(ctx(), cfg);
    },
    async scaleProbeRedisMemory(): Promise<ProbeResult> {
      return probeRedisMemory(ctx());
    },

    /**
     * Raises or resolves `scale:<probe>`. The level held so far is the open alert's severity, so
     * hysteresis works across runs. A not-applicable probe resolves a leftover alert of its key
     * (the subject is gone) and raises nothing; a probe without thresholds never alerts.
     */
    async evaluateScaleProbe(input: {
      probe: ProbeResult;
      cfg: ScaleAlertConfig;
      workflowId?: string;
    }): Promise<ProbeEvaluation> {
      const { probe, cfg } = input;
      const key = scaleAlertKey(probe.name);
      const t = cfg.thresholds[probe.name];
      const current = await alerts.openSeverity(key);
      const level =
        probe.status === 'ok' &&
        probe.value !== null &&
        t &&
        (t.warning !== undefined || t.critical !== undefined)
          ? (evaluateThreshold({
              value: probe.value,
              warning: t.warning,
              critical: t.critical,
              hysteresis: cfg.hysteresis,
              current,
            }) ?? null)
          : null;
      const result: ProbeEvaluation = {
        key,
        severity: level,
        opened: false,
        resolved: false,
        notified: false,
      };
      if (level && probe.value !== null) {
        const threshold = (level === 'critical' ? t?.critical : t?.warning)!;
        const alert = {
          key,
          kind: SCALE_ALERT_KIND,
          severity: level,
          title: `Scale: ${probe.name} ${formatValue(probe.value, probe.unit)} >= ${formatValue(threshold, probe.unit)}`,
          message:
            `${probe.name} at ${formatValue(probe.value, probe.unit)} (${level} threshold ${formatValue(threshold, probe.unit)}). ${probe.detail ?? ''}`.trim(),
          reason: `${probe.name}_above_threshold`,
          workflowId: input.workflowId,
          value: probe.value,
          threshold,
        };
        if (deps.alerts) {
          result.notified = (await deps.alerts.raise(alert)).notified;
          result.opened = current === null;
        } else deps.logger.warn(alert, 'scale threshold crossed (no alert sink configured)');
      } else if (current !== null && deps.alerts) {
        result.resolved = (await deps.alerts.resolve(key)).resolved;
      }
      return result;
    },
  };
}
