/**
 * A test file's (or describe block's) own Postgres database (./db.ts) and Redis prefix
 * (./redis.ts): made in beforeAll, removed in afterAll. The handles returned can be held from the
 * start and read inside tests; reading one before its beforeAll ran throws.
 */
import { createTestDatabase, type TestDatabase } from './db';
import { createTestRedis, type TestRedis } from './redis';

function notYet(what: string): never {
  throw new Error(`the test ${what} is made in beforeAll: read it inside a test or a later hook`);
}

/** A database of its own (migrated unless told not to), dropped after the block's tests. */
export function useTestDatabase(options: { migrate?: boolean; poolMax?: number } = {}): TestDatabase {
  let made: TestDatabase | undefined;
  beforeAll(async () => {
    made = await createTestDatabase(options);
  });
  afterAll(async () => {
    await made?.drop();
  });
  const db = () => made ?? notYet('database');
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
  let made: TestRedis | undefined;
  beforeAll(async () => {
    made = await createTestRedis();
  });
  afterAll(async () => {
    await made?.cleanup();
  });
  const r = () => made ?? notYet('Redis');
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
