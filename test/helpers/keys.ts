/**
 * RSA keys for tests and benchmarks: the dashboard's command-signing key (RS256, as the deployed
 * agents verify it). One key per process by default (generating 2048-bit keys is slow); a test
 * that needs a second, unrelated key (an intruder's) asks for a fresh one.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';

export interface RsaTestKeys {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** PKCS#8 PEM, what SIDECAR_JWT_PRIVATE_KEY holds */
  privatePem: string;
  /** SPKI PEM, what the agents are provisioned with */
  publicPem: string;
}

/** A new 2048-bit RSA key pair. */
export function newRsaTestKeys(): RsaTestKeys {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    privateKey,
    publicKey,
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

let shared: RsaTestKeys | undefined;

/** This process's dashboard key pair, generated on first use. */
export function rsaTestKeys(): RsaTestKeys {
  shared ??= newRsaTestKeys();
  return shared;
}
