/**
 * The control plane's tables live in their own schema, never in `public` (on Supabase, `public` is
 * what its REST layer serves): a fresh migrate puts nothing in public, an install from before the
 * schema is moved in place with every row, Supabase's API roles hold nothing on the schema, and
 * advisory locks are transaction-scoped so a transaction-mode pooler cannot leak one.
 */
import { copyFileSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'pg';
import { transitionDroplet } from '../../src/db/droplets';
import { maintainHeartbeatHistory, partitionName } from '../../src/db/heartbeat-retention';
import { migrate, migrationsDir } from '../../src/db/migrate';
import { issueHeartbeatToken } from '../../src/heartbeats/tokens';
import {
  createTestDatabase,
  ensureSupabaseApiRoles,
  migrateIntoPublicAsBefore,
  seedDroplet,
  TEST_SCHEMA,
  type TestDatabase,
} from '../helpers/db';
import { useTestDatabase } from '../helpers/stores';
import { TransactionPooler } from '../helpers/transaction-pooler';

const API_ROLES = ['anon', 'authenticated'];
const DAY_MS = 86_400_000;

/** Relations (any kind) and user-defined types in a schema, as "kind name". */
async function objectsIn(pool: Pool, schema: string): Promise<string[]> {
  const { rows } = await pool.query<{ o: string }>(
    `SELECT c.relkind::text || ' ' || c.relname AS o FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = $1
     UNION ALL
     SELECT 'type ' || t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
     WHERE n.nspname = $1 AND t.typtype IN ('e', 'd', 'r', 'm')
     ORDER BY 1`,
    [schema],
  );
  return rows.map((r) => r.o);
}

/** Row counts of every ordinary table and partition in a schema. */
async function rowCounts(pool: Pool, schema: string): Promise<Record<string, number>> {
  const { rows } = await pool.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = $1 AND c.relkind = 'r' ORDER BY 1`,
    [schema],
  );
  const counts: Record<string, number> = {};
  for (const { name } of rows)
    counts[name] = (
      await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${schema}"."${name}"`)
    ).rows[0]!.n;
  return counts;
}

/** Every privilege an API role (or PUBLIC) holds on the schema, its tables, sequences and defaults. */
async function apiPrivileges(pool: Pool, schema: string): Promise<string[]> {
  const { rows } = await pool.query<{ p: string }>(
    `WITH roles AS (SELECT rolname, oid FROM pg_roles WHERE rolname = ANY($2::text[])
                    UNION ALL SELECT 'PUBLIC', 0),
          ns AS (SELECT oid, nspacl FROM pg_namespace WHERE nspname = $1)
     SELECT 'schema ' || r.rolname || ' ' || a.privilege_type AS p
       FROM ns, aclexplode(ns.nspacl) a JOIN roles r ON r.oid = a.grantee
     UNION ALL
     SELECT c.relkind::text || ' ' || c.relname || ' ' || r.rolname || ' ' || a.privilege_type
       FROM pg_class c JOIN ns ON ns.oid = c.relnamespace, aclexplode(c.relacl) a JOIN roles r ON r.oid = a.grantee
     UNION ALL
     SELECT 'default ' || d.defaclobjtype::text || ' ' || r.rolname || ' ' || a.privilege_type
       FROM pg_default_acl d JOIN ns ON ns.oid = d.defaclnamespace, aclexplode(d.defaclacl) a
       JOIN roles r ON r.oid = a.grantee
     ORDER BY 1`,
    [schema, API_ROLES],
  );
  return rows.map((r) => r.p);
}

/** What Supabase's docs have you run to expose a schema to its API, plus its defaults on public. */
async function grantLikeSupabase(pool: Pool, schema: string): Promise<void> {
  const roles = API_ROLES.join(', ');
  await pool.query(`GRANT USAGE ON SCHEMA ${schema} TO ${roles}`);
  for (const kind of ['TABLES', 'SEQUENCES', 'ROUTINES']) {
    await pool.query(`GRANT ALL ON ALL ${kind} IN SCHEMA ${schema} TO ${roles}`);
    await pool.query(`ALTER DEFAULT PRIVILEGES IN SCHEMA ${schema} GRANT ALL ON ${kind} TO ${roles}`);
  }
}

async function advisoryLocksHeld(pool: Pool): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_database d ON d.oid = l.database
     WHERE l.locktype = 'advisory' AND d.datname = current_database()`,
  );
  return rows[0]!.n;
}

beforeAll(() => ensureSupabaseApiRoles());

describe('a fresh database', () => {
  const db = useTestDatabase({ migrate: false });

  it('gets every table, partition, index, sequence and type in the schema and none in public', async () => {
    const result = await migrate(db.pool, TEST_SCHEMA);
    expect(result.applied.length).toBeGreaterThan(0);
    await maintainHeartbeatHistory(db.pool, { retentionDays: 7 });
    expect(await objectsIn(db.pool, 'public')).toEqual([]);
    const inSchema = await objectsIn(db.pool, TEST_SCHEMA);
    for (const o of [
      'r schema_migrations',
      'r droplets',
      'p heartbeat_history',
      'r heartbeat_history_default',
    ])
      expect(inSchema).toContain(o);
    expect(inSchema).toContain(`r ${partitionName(new Date())}`);
    expect(inSchema).toContain('S droplet_lifecycle_log_id_seq');
    expect(inSchema).toContain('type droplet_state');
  });

  it('keeps the code on the schema through its pools: unqualified names never reach public', async () => {
    await seedDroplet(db.pool, { id: 1 });
    const where = await db.pool.query<{ schema: string; path: string }>(
      `SELECT n.nspname AS schema, current_setting('search_path') AS path FROM pg_class c
       JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = 'droplets'::regclass`,
    );
    expect(where.rows[0]).toEqual({ schema: TEST_SCHEMA, path: TEST_SCHEMA });
    expect(await objectsIn(db.pool, 'public')).toEqual([]);
  });
});

describe('an install from before the schema (tables in public)', () => {
  let db: TestDatabase;
  let legacy: Pool;
  const now = new Date();
  const before: Record<string, number> = {};

  beforeAll(async () => {
    db = await createTestDatabase({ migrate: false });
    // Supabase's defaults on public: the API roles get every new table and sequence there.
    const owner = new Pool({ connectionString: db.url, max: 1 });
    for (const kind of ['TABLES', 'SEQUENCES'])
      await owner.query(
        `ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON ${kind} TO anon, authenticated`,
      );
    await owner.end();
    legacy = await migrateIntoPublicAsBefore(db.url);
    // Rows in several tables, heartbeat history in day partitions and in the default partition.
    for (let id = 1; id <= 3; id++) await seedDroplet(legacy, { id, state: 'ACTIVE_HEALTHY' });
    await transitionDroplet(legacy, { dropletId: 2, to: 'HIBERNATING', cause: 'hibernate' });
    await transitionDroplet(legacy, { dropletId: 2, to: 'HIBERNATED', cause: 'hibernate' });
    await issueHeartbeatToken(legacy, 1);
    await legacy.query(
      `INSERT INTO alerts (key, kind, severity, status, message) VALUES ('k1', 'test', 'warning', 'open', 'm')`,
    );
    const upkeep = await maintainHeartbeatHistory(legacy, { retentionDays: 7, now });
    expect(upkeep.created).toHaveLength(4);
    await legacy.query(
      `INSERT INTO heartbeat_history (droplet_id, workspace_id, observed_at, cpu_percent)
       SELECT 1, 'ws-1', $1::timestamptz + make_interval(secs => g * 30), g FROM generate_series(1, 50) g`,
      [now.toISOString()],
    );
    await legacy.query(
      `INSERT INTO heartbeat_history (droplet_id, workspace_id, observed_at) VALUES (3, 'ws-3', $1)`,
      [new Date(now.getTime() - 30 * DAY_MS).toISOString()],
    );
    Object.assign(before, await rowCounts(legacy, 'public'));
  });
  afterAll(async () => {
    await legacy.end();
    await db.drop();
  });

  it('is what the release before built: everything in public, open to the API roles', async () => {
    expect(await objectsIn(db.pool, TEST_SCHEMA)).toEqual([]);
    expect(before).toMatchObject({ droplets: 3, droplet_lifecycle_log: 2, heartbeat_tokens: 1, alerts: 1 });
    expect(before.heartbeat_history_default).toBe(1);
    const inDays = Object.entries(before).filter(([t]) => /^heartbeat_history_p\d{8}$/.test(t));
    expect(inDays).toHaveLength(4);
    expect(inDays.reduce((n, [, rows]) => n + rows, 0)).toBe(50);
    const anon = await db.pool.query(`SELECT has_table_privilege('anon', 'public.droplets', 'SELECT') AS ok`);
    expect(anon.rows[0].ok).toBe(true);
  });

  it('moves every table, partition, sequence, type and row into the schema and leaves public empty', async () => {
    const publicBefore = await objectsIn(db.pool, 'public');
    const result = await migrate(db.pool, TEST_SCHEMA);
    expect(result.applied).toEqual([]);
    expect(result.alreadyApplied).toEqual(
      readdirSync(migrationsDir())
        .filter((f) => f.endsWith('.sql'))
        .sort(),
    );
    expect(result.movedFromPublic).toEqual(
      expect.arrayContaining(['type droplet_state', 'table droplets', `table ${partitionName(now)}`]),
    );
    expect(await objectsIn(db.pool, 'public')).toEqual([]);
    expect(await objectsIn(db.pool, TEST_SCHEMA)).toEqual(publicBefore);
    expect(await rowCounts(db.pool, TEST_SCHEMA)).toEqual(before);
    // What moved in with public's grants is revoked.
    expect(await apiPrivileges(db.pool, TEST_SCHEMA)).toEqual([]);
  });

  it('keeps working on the moved objects: sequences, the enum, partitions, and a re-run moves nothing', async () => {
    await transitionDroplet(db.pool, { dropletId: 3, to: 'HIBERNATING', cause: 'after the move' });
    const log = await db.pool.query<{ id: string; to_state: string }>(
      `SELECT id, to_state FROM droplet_lifecycle_log ORDER BY id DESC LIMIT 1`,
    );
    expect(log.rows[0]).toEqual({ id: '3', to_state: 'HIBERNATING' });
    const upkeep = await maintainHeartbeatHistory(db.pool, {
      retentionDays: 7,
      now: new Date(now.getTime() + DAY_MS),
    });
    expect(upkeep.created).toEqual([partitionName(new Date(now.getTime() + 4 * DAY_MS))]);
    expect(upkeep.deletedFromDefault).toBe(1); // the 30-day-old row, found in the moved default partition
    const again = await migrate(db.pool, TEST_SCHEMA);
    expect(again.movedFromPublic).toEqual([]);
    expect(again.applied).toEqual([]);
  });

  it('refuses to guess when both public and the schema hold the tables (an old release ran after the move)', async () => {
    const stale = await migrateIntoPublicAsBefore(db.url);
    try {
      await expect(migrate(db.pool, TEST_SCHEMA)).rejects.toThrow(/both public and genesis_cp/);
      expect((await rowCounts(db.pool, TEST_SCHEMA)).droplets).toBe(3);
    } finally {
      await stale.end();
    }
  });
});

describe("Supabase's API roles", () => {
  const db = useTestDatabase();

  it('hold nothing on the schema after migrate, even where grants like Supabase docs were run', async () => {
    await grantLikeSupabase(db.pool, TEST_SCHEMA);
    expect(await apiPrivileges(db.pool, TEST_SCHEMA)).toContain('schema anon USAGE');
    await migrate(db.pool, TEST_SCHEMA);
    expect(await apiPrivileges(db.pool, TEST_SCHEMA)).toEqual([]);
    const denied = await db.pool.connect();
    try {
      await denied.query('SET ROLE anon');
      await expect(denied.query(`SELECT * FROM ${TEST_SCHEMA}.droplets`)).rejects.toThrow(
        /permission denied for schema/,
      );
      await denied.query('RESET ROLE');
      await denied.query('SET ROLE authenticated');
      await expect(denied.query(`SELECT * FROM ${TEST_SCHEMA}.alerts`)).rejects.toThrow(
        /permission denied for schema/,
      );
    } finally {
      await denied.query('RESET ROLE').catch(() => undefined);
      denied.release();
    }
  });

  it('get nothing on a table a later migration adds, whatever default privileges said', async () => {
    await grantLikeSupabase(db.pool, TEST_SCHEMA);
    const dir = mkdtempSync(join(tmpdir(), 'gcp-mig-'));
    for (const f of readdirSync(migrationsDir())) copyFileSync(join(migrationsDir(), f), join(dir, f));
    writeFileSync(join(dir, '999_later.sql'), 'CREATE TABLE later (id bigserial PRIMARY KEY, x int);');
    const result = await migrate(db.pool, TEST_SCHEMA, dir);
    expect(result.applied).toEqual(['999_later.sql']);
    expect(await apiPrivileges(db.pool, TEST_SCHEMA)).toEqual([]);
  });
});

describe('advisory locks through a transaction-mode pooler', () => {
  let db: TestDatabase;
  let pooler: TransactionPooler;
  beforeAll(async () => {
    db = await createTestDatabase();
    pooler = await TransactionPooler.open(db.url, TEST_SCHEMA);
  });
  afterAll(async () => {
    await pooler.close();
    await db.drop();
  });

  it('heartbeat history upkeep leaves no lock behind, so the next run (any process) still does its work', async () => {
    const now = new Date();
    const first = await maintainHeartbeatHistory(pooler.pool(), { retentionDays: 7, now });
    expect(first.created).toHaveLength(4);
    expect(await advisoryLocksHeld(db.pool)).toBe(0);
    // A session lock left on one of the pooler's server connections would make this a silent no-op.
    const next = await maintainHeartbeatHistory(db.pool, {
      retentionDays: 7,
      now: new Date(now.getTime() + DAY_MS),
    });
    expect(next.created).toEqual([partitionName(new Date(now.getTime() + 4 * DAY_MS))]);
  });

  it('migrate leaves no lock behind either, and concurrent migrators through it still take turns', async () => {
    const results = await Promise.all([migrate(pooler.pool(), TEST_SCHEMA), migrate(db.pool, TEST_SCHEMA)]);
    expect(results.flatMap((r) => r.applied)).toEqual([]);
    expect(await advisoryLocksHeld(db.pool)).toBe(0);
  });

  it('a run that finds the lock taken stops without waiting and without doing the work twice', async () => {
    const holder = await db.pool.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT pg_advisory_xact_lock(727002)');
      const skipped = await maintainHeartbeatHistory(pooler.pool(), {
        retentionDays: 7,
        now: new Date(Date.now() + 10 * DAY_MS),
      });
      expect(skipped).toEqual({ created: [], dropped: [], movedFromDefault: 0, deletedFromDefault: 0 });
      await holder.query('COMMIT');
    } finally {
      holder.release();
    }
    expect(await advisoryLocksHeld(db.pool)).toBe(0);
  });
});
