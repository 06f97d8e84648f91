import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getDroplet, transitionDroplet } from '../../src/db/droplets';
import { migrate, migrationsDir } from '../../src/db/migrate';
import { createTestDatabase, seedDroplet, TEST_SCHEMA } from '../helpers/db';
import { useTestDatabase } from '../helpers/stores';

describe('migrations', () => {
  const db = useTestDatabase({ migrate: false });

  it('creates every table in the schema on a fresh database, and a re-run applies nothing', async () => {
    const first = await migrate(db.pool, TEST_SCHEMA);
    expect(first.applied.length).toBeGreaterThan(0);
    expect(first.movedFromPublic).toEqual([]);
    const { rows } = await db.pool.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = $1`,
      [TEST_SCHEMA],
    );
    const tables = rows.map((r) => r.table_name);
    for (const t of [
      'workspaces',
      'droplets',
      'heartbeat_history',
      'droplet_lifecycle_log',
      'tenant_versions',
      'rollouts',
      'rollout_waves',
      'rollout_targets',
      'alerts',
      'credential_audit',
      'heartbeat_tokens',
      'schema_migrations',
    ]) {
      expect(tables).toContain(t);
    }
    const second = await migrate(db.pool, TEST_SCHEMA);
    expect(second.applied).toEqual([]);
    expect(second.alreadyApplied).toEqual(first.applied);
  });

  it('runs concurrent migrators one at a time (advisory lock)', async () => {
    const results = await Promise.all([migrate(db.pool, TEST_SCHEMA), migrate(db.pool, TEST_SCHEMA)]);
    expect(results.every((r) => r.applied.length === 0)).toBe(true);
  });

  it('refuses a migration that changed after it was applied, and rolls back a failing one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gcp-mig-'));
    const fresh = await createTestDatabase({ migrate: false });
    try {
      writeFileSync(join(dir, '001_a.sql'), 'CREATE TABLE a (x int);');
      await migrate(fresh.pool, TEST_SCHEMA, dir);
      writeFileSync(join(dir, '001_a.sql'), 'CREATE TABLE a (x bigint);');
      await expect(migrate(fresh.pool, TEST_SCHEMA, dir)).rejects.toThrow(/001_a.sql was changed/);
      writeFileSync(join(dir, '001_a.sql'), 'CREATE TABLE a (x int);');
      writeFileSync(join(dir, '002_b.sql'), 'CREATE TABLE b (x int); SELECT nonsense_function();');
      await expect(migrate(fresh.pool, TEST_SCHEMA, dir)).rejects.toThrow(/002_b.sql failed/);
      const b = await fresh.pool.query(`SELECT to_regclass($1) AS t`, [`${TEST_SCHEMA}.b`]);
      expect(b.rows[0].t).toBeNull(); // the failed file left nothing behind
      const a = await fresh.pool.query(`SELECT to_regclass($1) AS t`, [`${TEST_SCHEMA}.a`]);
      expect(a.rows[0].t).toBe('a'); // the file before it stays applied (one transaction per file)
    } finally {
      await fresh.drop();
    }
    expect(migrationsDir()).toMatch(/migrations$/);
  });
});

describe('transitionDroplet', () => {
  const db = useTestDatabase();
  beforeAll(() => seedDroplet(db.pool, { id: 1, state: 'ACTIVE_HEALTHY' }));

  it('changes state and logs cause and workflow id in the same transaction', async () => {
    const r = await transitionDroplet(db.pool, {
      dropletId: 1,
      to: 'HIBERNATING',
      cause: 'hibernate',
      workflowId: 'power-1',
    });
    expect(r).toEqual({ from: 'ACTIVE_HEALTHY', to: 'HIBERNATING', changed: true });
    expect((await getDroplet(db.pool, 1))?.state).toBe('HIBERNATING');
    const log = await db.pool.query(
      'SELECT from_state, to_state, cause, workflow_id FROM droplet_lifecycle_log WHERE droplet_id = 1',
    );
    expect(log.rows).toEqual([
      { from_state: 'ACTIVE_HEALTHY', to_state: 'HIBERNATING', cause: 'hibernate', workflow_id: 'power-1' },
    ]);
  });

  it('is a no-op for the current state (retries are safe)', async () => {
    const r = await transitionDroplet(db.pool, { dropletId: 1, to: 'HIBERNATING', cause: 'retry' });
    expect(r.changed).toBe(false);
    const log = await db.pool.query(
      'SELECT count(*)::int AS n FROM droplet_lifecycle_log WHERE droplet_id = 1',
    );
    expect(log.rows[0].n).toBe(1);
  });

  it('refuses disallowed transitions and unexpected current states, changing nothing', async () => {
    await expect(transitionDroplet(db.pool, { dropletId: 1, to: 'UPDATING', cause: 'x' })).rejects.toThrow(
      /HIBERNATING -> UPDATING is not an allowed transition/,
    );
    await expect(
      transitionDroplet(db.pool, {
        dropletId: 1,
        to: 'HIBERNATED',
        cause: 'x',
        expectedFrom: ['ACTIVE_HEALTHY'],
      }),
    ).rejects.toThrow(/not an allowed transition/);
    expect((await getDroplet(db.pool, 1))?.state).toBe('HIBERNATING');
    await expect(transitionDroplet(db.pool, { dropletId: 999, to: 'WAKING', cause: 'x' })).rejects.toThrow(
      /not known/,
    );
  });

  it('serialises concurrent transitions of one droplet', async () => {
    await seedDroplet(db.pool, { id: 2, state: 'HIBERNATED' });
    const results = await Promise.allSettled(
      Array.from({ length: 5 }, () =>
        transitionDroplet(db.pool, {
          dropletId: 2,
          to: 'WAKING',
          cause: 'wake',
          expectedFrom: ['HIBERNATED'],
        }),
      ),
    );
    const changed = results.filter((r) => r.status === 'fulfilled' && r.value.changed);
    expect(changed).toHaveLength(1);
    const log = await db.pool.query(
      'SELECT count(*)::int AS n FROM droplet_lifecycle_log WHERE droplet_id = 2',
    );
    expect(log.rows[0].n).toBe(1);
  });
});
