/**
 * The fleet's credential blob (DESIGN.md section 3): AES-256-GCM with
 * key = SHA-256(UTF-8 of masterKey + workspaceId), blob = base64(iv 16 bytes | auth tag 16 bytes |
 * ciphertext), plaintext a JSON object.
 *
 * The control plane only carries blobs and never holds the master key; these functions exist for
 * whoever prepares blobs (dashboard side, tests) and for the simulated sidecars that open them.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

const IV_BYTES = 16;
const TAG_BYTES = 16;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export type CredentialBlobFailure = 'malformed' | 'auth_failed' | 'bad_plaintext';

export class CredentialBlobError extends Error {
  override readonly name = 'CredentialBlobError';
  constructor(
    readonly reason: CredentialBlobFailure,
    message: string,
  ) {
    super(message);
  }
}

export function credentialKey(masterKey: string, workspaceId: string): Buffer {
  if (!masterKey) throw new TypeError('masterKey is required');
  if (!workspaceId) throw new TypeError('workspaceId is required');
  return createHash('sha256')
    .update(masterKey + workspaceId, 'utf8')
    .digest();
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export function encryptCredential(
  masterKey: string,
  workspaceId: string,
  obj: Record<string, unknown>,
  opts: { iv?: Buffer } = {},
): string {
  if (!isPlainObject(obj)) throw new TypeError('a credential is a JSON object');
  const iv = opts.iv ?? randomBytes(IV_BYTES);
  if (iv.length !== IV_BYTES) throw new RangeError(`iv must be ${IV_BYTES} bytes`);
  const cipher = createCipheriv('aes-256-gcm', credentialKey(masterKey, workspaceId), iv, {
    authTagLength: TAG_BYTES,
  });
  const ciphertext = Buffer.concat([cipher.update(JSON.stringify(obj), 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), ciphertext]).toString('base64');
}

/** Opens a blob; throws CredentialBlobError on a malformed blob, a wrong key or tampering. */
export function decryptCredential(
  masterKey: string,
  workspaceId: string,
  blob: string,
): Record<string, unknown> {
  if (typeof blob !== 'string') throw new CredentialBlobError('malformed', 'blob must be a base64 string');
  const compact = blob.replace(/\s+/g, '');
  if (compact.length % 4 !== 0 || !BASE64.test(compact)) {
    throw new CredentialBlobError('malformed', 'blob is not valid base64');
  }
  const raw = Buffer.from(compact, 'base64');
  if (raw.length <= IV_BYTES + TAG_BYTES) throw new CredentialBlobError('malformed', 'blob is too short');
  const iv = raw.subarray(0, IV_BYTES);
  const tag = raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES);
  const ciphertext = raw.subarray(IV_BYTES + TAG_BYTES);
  let plaintext: string;
  try {
    const decipher = createDecipheriv('aes-256-gcm', credentialKey(masterKey, workspaceId), iv, {
      authTagLength: TAG_BYTES,
    });
    decipher.setAuthTag(tag);
    plaintext = Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString('utf8');
  } catch {
    throw new CredentialBlobError('auth_failed', 'blob does not authenticate: wrong key or tampered');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(plaintext);
  } catch {
    throw new CredentialBlobError('bad_plaintext', 'plaintext is not JSON');
  }
  if (!isPlainObject(parsed))
    throw new CredentialBlobError('bad_plaintext', 'plaintext is not a JSON object');
  return parsed;
}
