/**
 * The AlertSink activities use: the Postgres lifecycle (open once, notify once per severity change,
 * re-notify a still-open critical alert) joined to the channels. A send that failed retryably
 * releases the notification claim and throws, so the activity's retry sends it again.
 */
import type { Pool } from 'pg';
import type { AlertSink } from '../../activities/deps';
import type { AlertNotifier } from './channels';
import { throwIfRetryable } from './channels';
import { alertFromRow, markNotified, raiseAlert, releaseNotification, resolveAlert } from '../db/alerts';

export function alertSink(
  pool: Pool,
  notifier: AlertNotifier,
  opts: { renotifyAfterMs?: number } = {},
): AlertSink {
  return {
    async raise(input) {
      const { alert, notify } = await raiseAlert(pool, input, new Date(), {
        renotifyAfterMs: opts.renotifyAfterMs,
      });
      if (!notify) return { notified: false };
      const result = await notifier.notify({ ...alertFromRow(alert, 'firing'), title: input.title });
      if (result.delivered.length === 0) {
        await releaseNotification(pool, alert.id);
        throwIfRetryable(result);
        return { notified: false };
      }
      await markNotified(pool, alert.id, alert.severity);
      return { notified: true };
    },
    async resolve(key) {
      const row = await resolveAlert(pool, key);
      if (!row) return { resolved: false };
      if (row.notifiedSeverity) await notifier.notify(alertFromRow(row, 'resolved'));
      return { resolved: true };
    },
  };
}
