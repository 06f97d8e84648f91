/** A Temporal client for the control plane's own processes (API, CLI, worker-side signalling). */
import { Client, Connection } from '@temporalio/client';
import type { Config } from '../config';
import { temporalConnectionSettings } from './connection-options';
import { dataConverterFor } from './payload-codec';

export async function createTemporalClient(
  config: Pick<Config, 'temporal' | 'codec'>,
  connectTimeoutMs = 5_000,
) {
  const connection = await Connection.connect({
    ...temporalConnectionSettings(config.temporal),
    connectTimeout: connectTimeoutMs,
  });
  const client = new Client({
    connection,
    namespace: config.temporal.namespace,
    dataConverter: dataConverterFor(config.codec.keys),
  });
  return { client, connection };
}
