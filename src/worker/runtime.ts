/**
 * Temporal's Rust core runtime: installed once per process, before any connection. Its logs are
 * forwarded to our structured logger; its metrics are served for Prometheus on their own port.
 */
import { DefaultLogger, type LogEntry, Runtime } from '@temporalio/worker';
import type { Logger } from '../logger';

let installed = false;

export function installRuntime(logger: Logger, metricsPort: number): void {
  if (installed) return;
  installed = true;
  const sdkLogger = logger.child({ component: 'temporal-sdk' });
  Runtime.install({
    logger: new DefaultLogger('INFO', (entry: LogEntry) => {
      const meta = entry.meta ?? {};
      switch (entry.level) {
        case 'ERROR':
          sdkLogger.error(meta, entry.message);
          break;
        case 'WARN':
          sdkLogger.warn(meta, entry.message);
          break;
        case 'INFO':
          sdkLogger.info(meta, entry.message);
          break;
        default:
          sdkLogger.debug(meta, entry.message);
      }
    }),
    telemetryOptions: {
      logging: { filter: 'WARN', forward: {} },
      ...(metricsPort > 0 ? { metrics: { prometheus: { bindAddress: `0.0.0.0:${metricsPort}` } } } : {}),
    },
    // The process bootstrap owns signals: it stops the API and the worker in order.
    shutdownSignals: [],
  });
}
