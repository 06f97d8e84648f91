/**
 * The alert message every channel sends, the channel contract, and the one error type a channel
 * throws when a delivery fails. Channels describe an alert the same way everywhere: severity,
 * title, message, then the facts an operator needs to act (workspace, droplet, reason, the Temporal
 * workflow id to open in the Web UI, value against threshold).
 */

import { ClientError } from '../errors/client-error';

export type AlertSeverity = 'info' | 'warning' | 'critical';
export type AlertStatus = 'firing' | 'resolved';

export const ALERT_SEVERITIES: readonly AlertSeverity[] = ['info', 'warning', 'critical'];

export interface Alert {
  /** Dedup key, e.g. 'droplet:42:cpu' or 'watchdog:storm': one open alert per key. */
  key: string;
  kind: string;
  severity: AlertSeverity;
  title: string;
  message: string;
  workspaceId?: string;
  dropletId?: number;
  workflowId?: string;
  reason?: string;
  value?: number;
  threshold?: number;
  status: AlertStatus;
}

/** One notification service. `send` resolves once the service accepted the message. */
export interface AlertChannel {
  readonly name: string;
  send(alert: Alert): Promise<void>;
}

/**
 * A delivery that failed. `retryable`: 5xx, 429, timeouts and network errors (trying again later can
 * help); any other 4xx or an answer the service documents as a refusal is not. `status` is the HTTP
 * status (absent when no answer came). The message never holds a token, key, secret or webhook URL.
 */
export class AlertDeliveryError extends ClientError {
  /** 'rejected': the service answered with a refusal; 'unreachable': no answer (timeout, network) */
  readonly code: 'rejected' | 'unreachable';
  readonly channel: string;
  readonly status?: number;
  readonly retryable: boolean;
  /** How long the service asked to wait (429 Retry-After / Telegram retry_after). */
  readonly retryAfterMs?: number;

  constructor(opts: {
    channel: string;
    message: string;
    retryable: boolean;
    status?: number;
    retryAfterMs?: number;
  }) {
    super(`${opts.channel}: ${opts.message}`);
    this.code = opts.status === undefined ? 'unreachable' : 'rejected';
    this.channel = opts.channel;
    this.status = opts.status;
    this.retryable = opts.retryable;
    this.retryAfterMs = opts.retryAfterMs;
  }
}

/** Retryable by HTTP status: 429 and 5xx yes, any other status no. */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || status >= 500;
}

export function severityLabel(alert: Pick<Alert, 'severity' | 'status'>): string {
  return alert.status === 'resolved' ? 'RESOLVED' : alert.severity.toUpperCase();
}

export function severityEmoji(alert: Pick<Alert, 'severity' | 'status'>): string {
  if (alert.status === 'resolved') return '\u2705';
  return alert.severity === 'critical'
    ? '\u{1F534}'
    : alert.severity === 'warning'
      ? '\u{1F7E0}'
      : '\u{1F535}';
}

/** "[CRITICAL] Droplet 42 is a zombie" / "[RESOLVED] ...". */
export function alertHeadline(alert: Alert): string {
  return `[${severityLabel(alert)}] ${alert.title}`;
}

export interface AlertFact {
  label: 'Workspace' | 'Droplet' | 'Reason' | 'Workflow' | 'Value';
  value: string;
}

/** The facts present on an alert, in the order every channel shows them. */
export function alertFacts(alert: Alert): AlertFact[] {
  const facts: AlertFact[] = [];
  if (alert.workspaceId) facts.push({ label: 'Workspace', value: alert.workspaceId });
  if (alert.dropletId !== undefined) facts.push({ label: 'Droplet', value: String(alert.dropletId) });
  if (alert.reason) facts.push({ label: 'Reason', value: alert.reason });
  if (alert.workflowId) facts.push({ label: 'Workflow', value: alert.workflowId });
  if (alert.value !== undefined) {
    facts.push({
      label: 'Value',
      value:
        formatNumber(alert.value) +
        (alert.threshold !== undefined ? ` (threshold ${formatNumber(alert.threshold)})` : ''),
    });
  }
  return facts;
}

/** "workspace ws-1 · droplet 42 · reason x · workflow power-42", for one-line summaries. */
export function alertFactsLine(alert: Alert): string {
  return alertFacts(alert)
    .map((f) => `${f.label.toLowerCase()} ${f.value}`)
    .join(' \u00b7 ');
}

export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, Math.max(0, max - 1))}\u2026`;
}

function formatNumber(n: number): string {
  return Number.isInteger(n) ? String(n) : String(Math.round(n * 100) / 100);
}
