/** Connection settings shared by the worker (NativeConnection) and clients (Connection). */
import type { TLSConfig } from '@temporalio/common/lib/internal-non-workflow';

/** What a connection needs of the configuration (Config['temporal'] is one). */
export interface TemporalConnectionConfig {
  address: string;
  apiKey?: string;
  tls?: { cert?: string; key?: string; ca?: string; serverName?: string };
}

export interface TemporalConnectionSettings {
  address: string;
  tls?: TLSConfig | boolean;
  apiKey?: string;
}

export function temporalConnectionSettings(temporal: TemporalConnectionConfig): TemporalConnectionSettings {
  const settings: TemporalConnectionSettings = { address: temporal.address };
  if (temporal.tls) {
    const { cert, key, ca, serverName } = temporal.tls;
    settings.tls = {
      ...(serverName ? { serverNameOverride: serverName } : {}),
      ...(ca ? { serverRootCACertificate: Buffer.from(ca) } : {}),
      ...(cert && key ? { clientCertPair: { crt: Buffer.from(cert), key: Buffer.from(key) } } : {}),
    };
  }
  if (temporal.apiKey) settings.apiKey = temporal.apiKey;
  return settings;
}
