/** One rule for droplet ids wherever they come in: a positive whole number JavaScript and bigint both hold exactly. */
import { invalidN8nUpdate } from '../../src/domain/changes';
import { MAX_DROPLET_ID, parseDropletId } from '../../src/domain/droplet-id';
import { invalidPowerInput } from '../../src/domain/power';
import { nativeHeartbeatSchema } from '../../src/heartbeats/heartbeat';
import { parseHeartbeatToken } from '../../src/heartbeats/tokens';

const twentyDigits = '12345678901234567890';

describe('droplet ids', () => {
  it('parses digits up to the largest safe integer, refuses the rest', () => {
    expect(parseDropletId('4242')).toBe(4242);
    expect(parseDropletId(String(MAX_DROPLET_ID))).toBe(MAX_DROPLET_ID);
    for (const bad of [
      '0',
      '',
      '-1',
      '1.5',
      '1e3',
      ' 1',
      String(MAX_DROPLET_ID + 1),
      twentyDigits,
      '00000000000000001',
    ])
      expect(parseDropletId(bad)).toBeUndefined();
  });

  it('refuses a 20-digit id at every start (client and workflow validation)', () => {
    const id = Number(twentyDigits);
    expect(invalidPowerInput({ workspaceId: 'ws', dropletId: id })).toMatch(
      /^dropletId must be a positive integer up to/,
    );
    expect(invalidN8nUpdate({ workspaceId: 'ws', dropletId: id, toTag: '1.2.0', autoPromote: true })).toMatch(
      /^dropletId/,
    );
  });

  it('refuses a 20-digit id in native heartbeats and tokens', () => {
    const hb = {
      workspace_id: 'ws',
      timestamp: new Date().toISOString(),
      cpu_percent: 1,
      memory_percent: 1,
      disk_percent: 1,
      n8n_status: 'healthy',
      sidecar_version: '1',
      n8n_version: '1',
      uptime_seconds: 1,
    };
    expect(nativeHeartbeatSchema.safeParse({ ...hb, droplet_id: '4242' }).success).toBe(true);
    expect(nativeHeartbeatSchema.safeParse({ ...hb, droplet_id: twentyDigits }).success).toBe(false);
    expect(nativeHeartbeatSchema.safeParse({ ...hb, droplet_id: '123456789012345678' }).success).toBe(false);
    expect(nativeHeartbeatSchema.safeParse({ ...hb, droplet_id: Number(twentyDigits) }).success).toBe(false);
    const secret = 'a'.repeat(43);
    expect(parseHeartbeatToken(`4242.${secret}`)).toEqual({ dropletId: 4242 });
    expect(parseHeartbeatToken(`123456789012345678.${secret}`)).toBeUndefined();
  });
});
