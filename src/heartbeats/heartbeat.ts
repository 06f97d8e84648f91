/**
 * The heartbeat formats the fleet sends (DESIGN.md section 3) and what travels through the stream.
 *
 * Native: `{workspace_id, droplet_id, timestamp, cpu_percent, memory_percent, disk_percent,
 * n8n_status, sidecar_version, n8n_version, uptime_seconds}`, one or an array, from one droplet.
 * Handshake (legacy, liveness only): `{workspace_id, sidecar_url, version, capabilities[]}`.
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
  version: z.string().min(1).max(64),
  capabilities: z.array(z.string().max(64)).max(64).default([]),
});
export type Handshake = z.output<typeof handshakeSchema>;

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
  return { w: hs.workspace_id, t: receivedAt, sv: hs.version, url: hs.sidecar_url };
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
