/**
 * DigitalOcean accounts (teams). Every droplet records the account it lives in; each account has
 * its own API token and so its own fleet-wide budget (budget keys are per token), and a 429 on one
 * never slows another. `default` is the account of DIGITALOCEAN_TOKEN and of every droplet
 * recorded before accounts existed.
 */
import type { DigitalOceanClient } from './client';

export const DEFAULT_DO_ACCOUNT = 'default';

/** An account name as configuration and the droplets table spell it. */
export const DO_ACCOUNT_NAME = /^[a-z][a-z0-9_]{0,31}$/;

export interface DigitalOceanAccounts {
  /** every configured account, `default` first when it is configured */
  readonly names: readonly string[];
  /** The client of `account` (null/undefined: the default account); throws for an unknown one. */
  client(account?: string | null): DigitalOceanClient;
}

export class UnknownDigitalOceanAccountError extends Error {
  readonly code = 'DO_UNKNOWN_ACCOUNT';
  readonly retryable = false;
  constructor(account: string, known: readonly string[]) {
    super(`DigitalOcean account "${account}" is not configured (configured: ${known.join(', ') || 'none'})`);
    this.name = 'UnknownDigitalOceanAccountError';
  }
}

/** Accounts from a map of clients. */
export function digitalOceanAccounts(clients: ReadonlyMap<string, DigitalOceanClient>): DigitalOceanAccounts {
  const names = [...clients.keys()].sort((a, b) =>
    a === DEFAULT_DO_ACCOUNT ? -1 : b === DEFAULT_DO_ACCOUNT ? 1 : a.localeCompare(b),
  );
  return {
    names,
    client(account) {
      const name = account ?? DEFAULT_DO_ACCOUNT;
      const c = clients.get(name);
      if (!c) throw new UnknownDigitalOceanAccountError(name, names);
      return c;
    },
  };
}
