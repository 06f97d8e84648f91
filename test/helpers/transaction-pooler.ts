/**
 * A stand-in for a pooler in transaction mode (Supavisor on port 6543, PgBouncer with
 * pool_mode=transaction), in process: a transaction keeps one server connection from BEGIN to
 * COMMIT/ROLLBACK, while each statement outside a transaction and each new transaction goes to
 * another server connection than the one before, as under load, when the server a client just used
 * is serving another client. Session state (SET, session advisory locks) therefore stays behind on
 * a server connection the client no longer has, as it does behind the real poolers.
 *
 * `pool()` gives the subset of pg's Pool that the code under test uses (connect, query, release).
 */
import { Client, type Pool, type QueryResult } from 'pg';

export class TransactionPooler {
  private last = -1;

  private constructor(private readonly servers: Client[]) {}

  /** `servers` server connections to `url`, each with `search_path` set (as a role default would). */
  static async open(url: string, searchPath: string, servers = 2): Promise<TransactionPooler> {
    const clients: Client[] = [];
    for (let i = 0; i < servers; i++) {
      const c = new Client({ connectionString: url, application_name: `tx-pooler-${i}` });
      await c.connect();
      await c.query(`SET search_path TO ${searchPath}`);
      clients.push(c);
    }
    return new TransactionPooler(clients);
  }

  /** Backend pids of the server connections. */
  async pids(): Promise<number[]> {
    const out: number[] = [];
    for (const s of this.servers)
      out.push((await s.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid);
    return out;
  }

  private nextServer(): Client {
    this.last = (this.last + 1) % this.servers.length;
    return this.servers[this.last]!;
  }

  pool(): Pool {
    const connect = async () => {
      let pinned: Client | undefined;
      const query = async (text: string, values?: unknown[]): Promise<QueryResult> => {
        const statement = text.trim().toUpperCase();
        if (!pinned && (statement === 'BEGIN' || statement.startsWith('BEGIN '))) pinned = this.nextServer();
        const server = pinned ?? this.nextServer();
        try {
          return await server.query(text, values);
        } finally {
          if (pinned && (statement === 'COMMIT' || statement === 'ROLLBACK')) pinned = undefined;
        }
      };
      return { query, release: () => undefined };
    };
    return {
      connect,
      query: async (text: string, values?: unknown[]) => (await connect()).query(text, values),
    } as unknown as Pool;
  }

  async close(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.end()));
  }
}
