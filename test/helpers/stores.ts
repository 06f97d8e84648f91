/**
 * A test file's (or describe block's) own Postgres database (./db.ts) and Redis prefix
 * (./redis.ts): made in beforeAll, removed in afterAll. The handles returned can be held from the
 * start and read inside tests; reading one before its beforeAll ran throws.
 */
import { createTestDatabase, type TestDatabase } from './db';
import { createTestRedis, type TestRedis } from './redis';

/** Runs `make` in beforeAll and `remove` in afterAll; the function returned reads what was made. */
function madeBeforeAll<T>(what: string, make: () => Promise<T>, remove: (made: T) => Promise<void>): () => T {
  let made: T | undefined;
  beforeAll(async () => {
    made = await make();
  });
  afterAll(async () => {
    if (made !== undefined) await remove(made);
  });
  return () => {
    if (made === undefined)
      throw new Error(`the test ${what} is made in beforeAll: read it inside a test or a later hook`);
    return made;
  };
}

/** A database of its own (migrated unless told not to), dropped after the block's tests. */
export function useTestDatabase(options: { migrate?: boolean; poolMax?: number } = {}): TestDatabase {
  const db = madeBeforeAll(
    'database',
    () => createTestDatabase(options),
    (d) => d.drop(),
  );
  return {
    get name() {
      return db().name;
    },
    get url() {
      return db().url;
    },
    get pool() {
      return db().pool;
    },
    drop: () => db().drop(),
  };
}

/** A Redis key prefix of its own, its keys removed (and the connection closed) after the block's tests. */
export function useTestRedis(): TestRedis {
  const r = madeBeforeAll('Redis', createTestRedis, (made) => made.cleanup());
  return {
    get redis() {
      return r().redis;
    },
    get prefix() {
      return r().prefix;
    },
    cleanup: () => r().cleanup(),
  };
}

/** Both: a database and a Redis prefix of the block's own. */
export function useTestStores(options: { poolMax?: number } = {}): { db: TestDatabase; r: TestRedis } {
  return { db: useTestDatabase(options), r: useTestRedis() };
}
