/**
 * A test file's own Postgres database (./db.ts) and Redis prefix (./redis.ts): made before its
 * tests, removed after them. Read `db` and `r` inside a test (they exist from beforeAll on).
 */
import { createTestDatabase, type TestDatabase } from './db';
import { createTestRedis, type TestRedis } from './redis';

export interface TestStores {
  readonly db: TestDatabase;
  readonly r: TestRedis;
}

export function useTestStores(options: { poolMax?: number } = {}): TestStores {
  let db: TestDatabase | undefined;
  let r: TestRedis | undefined;
  beforeAll(async () => {
    db = await createTestDatabase(options);
    r = await createTestRedis();
  });
  afterAll(async () => {
    await r?.cleanup();
    await db?.drop();
  });
  const made = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`the test ${what} is made in beforeAll: read it inside a test`);
    return value;
  };
  return {
    get db() {
      return made(db, 'database');
    },
    get r() {
      return made(r, 'Redis');
    },
  };
}
