import { allowedTargets, canTransition, DROPLET_STATES } from '../../src/domain/droplet-state';

describe('droplet state transitions', () => {
  it('allows the power lifecycle paths', () => {
    const paths: [string, string][] = [
      ['ACTIVE_HEALTHY', 'HIBERNATING'],
      ['HIBERNATING', 'HIBERNATED'],
      ['HIBERNATED', 'WAKING'],
      ['WAKING', 'ACTIVE_HEALTHY'],
      ['WAKING', 'ACTIVE_DEGRADED'],
      ['WAKING', 'REBOOTING'],
      ['REBOOTING', 'ZOMBIE'],
      ['ZOMBIE', 'ACTIVE_HEALTHY'],
      ['ACTIVE_HEALTHY', 'UPDATING'],
      ['UPDATING', 'ACTIVE_HEALTHY'],
      ['PROVISIONING', 'ACTIVE_HEALTHY'],
    ];
    for (const [from, to] of paths) expect(canTransition(from as never, to as never)).toBe(true);
  });

  it('refuses impossible moves', () => {
    expect(canTransition('HIBERNATED', 'ACTIVE_HEALTHY')).toBe(false); // must wake first
    expect(canTransition('HIBERNATED', 'REBOOTING')).toBe(false);
    expect(canTransition('TERMINATED', 'WAKING')).toBe(false);
    expect(canTransition('PROVISIONING', 'HIBERNATED')).toBe(false);
    expect(canTransition('UPDATING', 'HIBERNATING')).toBe(false); // hibernate refuses while updating
  });

  it('treats a move to the same state as allowed (idempotent) for every state', () => {
    for (const s of DROPLET_STATES) expect(canTransition(s, s)).toBe(true);
  });

  it('has no way out of TERMINATED and no self-loops in the table', () => {
    expect(allowedTargets('TERMINATED')).toEqual([]);
    for (const s of DROPLET_STATES) expect(allowedTargets(s)).not.toContain(s);
  });
});
