/**
 * The heartbeat formats and what travels through the stream.
 *
 * Handshake (protocol v1, what every deployed agent sends; specs/sidecar-v1/PROTOCOL.md):
 * `{workspace_id, sidecar_url, version, capabilities[]}` on POST /api/sidecar/handshake, once at
 * first boot (`version` "unknown") and then every 60 s as a keep-alive (`version` = the n8n status).
 * No droplet id, no metrics, no timestamp, and `version` is never a version.
 * Native (opt-in, for agents that speak it; none deployed): `{workspace_id, droplet_id, timestamp,
 * cpu_percent, memory_percent, disk_percent, n8n_status, sidecar_version, n8n_version,
 * uptime_seconds}`, one or an array, from one droplet.
 */
import { z } from 'zod';
import { DROPLET_ID_RULE, isDropletId, MAX_DROPLET_ID } from '../domain/droplet-id';

const percent = z.number().min(0).max(100);

export const nativeHeartbeatSchema = z.strictObject({
  workspace_id: z.string().min(1).max(128),
  droplet_id: z.union([
    z.number().int().positive().max(MAX_DROPLET_ID),
    z
      .string()
      .regex(/^\d{1,16}$/)
      .transform(Number)
      .refine(isDropletId, DROPLET_ID_RULE),
  ]),
  timestamp: z.iso.datetime({ offset: true }),
  cpu_percent: percent,
  memory_percent: percent,
  disk_percent: percent,
  n8n_status: z.enum(['healthy', 'degraded', 'down']),
  sidecar_version: z.string().min(1).max(64),
  n8n_version: z.string().min(1).max(64),
  uptime_seconds: z.number().int().min(0),
});
export type NativeHeartbeat = z.output<typeof nativeHeartbeatSchema>;

export const handshakeSchema = z.object({
  workspace_id: z.string().min(1).max(128),
  sidecar_url: z.url({ protocol: /^https?$/ }),
  /** "unknown" at first boot, then the n8n status; never a version */
  version: z.string().max(64).optional(),
  capabilities: z.array(z.string().max(64)).max(64).optional(),
});
export type Handshake = z.output<typeof handshakeSchema>;

const N8N_STATUSES: ReadonlySet<string> = new Set(['healthy', 'degraded', 'down']);

/** The first-boot handshake says `version: "unknown"`; keep-alives say the n8n status. */
export function isFirstBootHandshake(hs: Pick<Handshake, 'version'>): boolean {
  return hs.version === 'unknown';
}

/**
 * The droplet_id claim a fleet agent expects: its provisioned DROPLET_ID, which the fleet's
 * cloud-init sets to the droplet's public IPv4, the same host the agent reports in sidecar_url.
 */
export function agentDropletIdFromUrl(sidecarUrl: string): string | undefined {
  try {
    const host = new URL(sidecarUrl).hostname;
    return host.replace(/^\[(.*)\]$/, '$1') || undefined;
  } catch {
    return undefined;
  }
}

/** One observation as the drain sees it, whichever route it came through. */
export interface StreamHeartbeat {
  /** droplet id; absent for handshakes, which name only the workspace. */
  d?: number;
  w: string;
  /** observed at, epoch ms */
  t: number;
  cpu?: number;
  mem?: number;
  disk?: number;
  n8n?: string;
  sv?: string;
  nv?: string;
  up?: number;
  url?: string;
  /** handshakes: the droplet_id claim learned from the sidecar_url's host */
  aid?: string;
  /** handshakes: the capabilities the agent advertised */
  caps?: string[];
  /** handshakes: 1 for a first-boot registration */
  reg?: 1;
}

export function fromNative(hb: NativeHeartbeat): StreamHeartbeat {
  return {
    d: hb.droplet_id,
    w: hb.workspace_id,
    t: Date.parse(hb.timestamp),
    cpu: hb.cpu_percent,
    mem: hb.memory_percent,
    disk: hb.disk_percent,
    n8n: hb.n8n_status,
    sv: hb.sidecar_version,
    nv: hb.n8n_version,
    up: hb.uptime_seconds,
  };
}

export function fromHandshake(hs: Handshake, receivedAt: number): StreamHeartbeat {
  const hb: StreamHeartbeat = { w: hs.workspace_id, t: receivedAt, url: hs.sidecar_url };
  if (hs.version !== undefined && N8N_STATUSES.has(hs.version)) hb.n8n = hs.version;
  const aid = agentDropletIdFromUrl(hs.sidecar_url);
  if (aid) hb.aid = aid;
  if (hs.capabilities) hb.caps = hs.capabilities;
  if (isFirstBootHandshake(hs)) hb.reg = 1;
  return hb;
}

/** Parses one stream entry's payload; returns undefined for anything that is not a heartbeat list. */
export function parseStreamPayload(raw: string): StreamHeartbeat[] | undefined {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (!Array.isArray(value)) return undefined;
  const out: StreamHeartbeat[] = [];
  for (const v of value) {
    if (typeof v !== 'object' || v === null) return undefined;
    const hb = v as StreamHeartbeat;
    if (typeof hb.w !== 'string' || typeof hb.t !== 'number' || !Number.isFinite(hb.t)) return undefined;
    if (hb.d !== undefined && !Number.isSafeInteger(hb.d)) return undefined;
    out.push(hb);
  }
  return out;
}
