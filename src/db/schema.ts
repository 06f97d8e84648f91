/**
 * The Postgres schema the control plane's tables live in (DATABASE_SCHEMA, default `genesis_cp`),
 * never `public`: on Supabase, tables in `public` are reachable through its REST layer by anyone
 * holding the project's public key unless row-level security says otherwise, and names such as
 * `workspaces` collide with the dashboard's. Every connection the project opens sets this schema
 * as its search_path (src/db/pool.ts), so the queries and migrations stay unqualified.
 */
export const DEFAULT_DATABASE_SCHEMA = 'genesis_cp';

/** Lower-case identifier that needs no quoting, and none Postgres or Supabase reserve. */
export const SCHEMA_NAME_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;
const RESERVED =
  /^(public|information_schema|pg_.*|auth|storage|extensions|graphql|graphql_public|realtime|vault|net|cron|pgbouncer|supabase_.*)$/;

/** Why `name` cannot be the control plane's schema, or undefined when it can. */
export function schemaNameProblem(name: string): string | undefined {
  if (!SCHEMA_NAME_PATTERN.test(name)) return 'must be a lower-case identifier: a-z, 0-9, _ (at most 63)';
  if (RESERVED.test(name)) return `must not be ${name} (a schema Postgres or Supabase owns)`;
  return undefined;
}

/** The schema name as an SQL identifier; throws on a name schemaNameProblem refuses. */
export function schemaIdent(name: string): string {
  const problem = schemaNameProblem(name);
  if (problem) throw new Error(`database schema ${JSON.stringify(name)} ${problem}`);
  return `"${name}"`;
}
