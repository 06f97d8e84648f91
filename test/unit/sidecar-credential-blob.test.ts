import { createHash } from 'node:crypto';
import {
  CredentialBlobError,
  credentialKey,
  decryptCredential,
  encryptCredential,
} from '../../src/sidecar/credential-blob';

/**
 * Known vector, computed independently (Python `cryptography` AESGCM) from the DESIGN.md format:
 * key = SHA-256("test-master-key-0123456789" + "ws_known_vector"), iv = 00 01 .. 0f,
 * plaintext '{"api_key":"sk-test-123","region":"eu"}', blob = base64(iv | tag | ciphertext).
 */
const VECTOR = {
  masterKey: 'test-master-key-0123456789',
  workspaceId: 'ws_known_vector',
  iv: Buffer.from([...Array(16).keys()]),
  plaintext: { api_key: 'sk-test-123', region: 'eu' },
  blob: 'AAECAwQFBgcICQoLDA0ODz1QPQzMSTEyt8pITmMaApHutSitebqBEomPSX5atzUvAAFlCNSv33GMzl7y1VQQkGkxlNxxbns=',
};

function reason(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof CredentialBlobError) return err.reason;
    throw err;
  }
  return undefined;
}

describe('credential blobs (fleet format)', () => {
  it('derives the key as SHA-256 of masterKey + workspaceId', () => {
    expect(credentialKey('mk', 'ws')).toEqual(createHash('sha256').update('mkws').digest());
  });

  it('matches the known vector both ways', () => {
    expect(encryptCredential(VECTOR.masterKey, VECTOR.workspaceId, VECTOR.plaintext, { iv: VECTOR.iv })).toBe(
      VECTOR.blob,
    );
    expect(decryptCredential(VECTOR.masterKey, VECTOR.workspaceId, VECTOR.blob)).toEqual(VECTOR.plaintext);
  });

  it('lays the blob out as iv | tag | ciphertext', () => {
    const raw = Buffer.from(VECTOR.blob, 'base64');
    expect(raw.subarray(0, 16)).toEqual(VECTOR.iv);
    expect(raw.length).toBe(16 + 16 + JSON.stringify(VECTOR.plaintext).length);
  });

  it('round-trips with a random iv each time', () => {
    const obj = { token: 'xoxb-1', nested: { n: 1, list: [true, null] }, unicode: 'zürich ✓' };
    const a = encryptCredential('master', 'ws_1', obj);
    const b = encryptCredential('master', 'ws_1', obj);
    expect(a).not.toBe(b);
    expect(decryptCredential('master', 'ws_1', a)).toEqual(obj);
    expect(decryptCredential('master', 'ws_1', b)).toEqual(obj);
  });

  it('refuses the wrong master key or another workspace', () => {
    expect(reason(() => decryptCredential('other-master', VECTOR.workspaceId, VECTOR.blob))).toBe(
      'auth_failed',
    );
    expect(reason(() => decryptCredential(VECTOR.masterKey, 'ws_other', VECTOR.blob))).toBe('auth_failed');
  });

  it.each([
    ['iv', 3],
    ['tag', 20],
    ['ciphertext', 40],
  ])('detects a flipped bit in the %s', (_part, index) => {
    const raw = Buffer.from(VECTOR.blob, 'base64');
    raw[index]! ^= 0x01;
    expect(
      reason(() => decryptCredential(VECTOR.masterKey, VECTOR.workspaceId, raw.toString('base64'))),
    ).toBe('auth_failed');
  });

  it('detects a truncated blob', () => {
    const raw = Buffer.from(VECTOR.blob, 'base64');
    const cut = raw.subarray(0, raw.length - 1).toString('base64');
    expect(reason(() => decryptCredential(VECTOR.masterKey, VECTOR.workspaceId, cut))).toBe('auth_failed');
    expect(
      reason(() =>
        decryptCredential(VECTOR.masterKey, VECTOR.workspaceId, raw.subarray(0, 32).toString('base64')),
      ),
    ).toBe('malformed');
  });

  it('refuses blobs that are not base64', () => {
    expect(reason(() => decryptCredential('m', 'w', 'not base64 at all!'))).toBe('malformed');
    expect(reason(() => decryptCredential('m', 'w', ''))).toBe('malformed');
  });

  it('refuses a plaintext that is not a JSON object', () => {
    // encrypt a JSON array by hand with the same format
    const { createCipheriv } = jest.requireActual<typeof import('node:crypto')>('node:crypto');
    const iv = Buffer.alloc(16, 7);
    const cipher = createCipheriv('aes-256-gcm', credentialKey('m', 'w'), iv);
    const ct = Buffer.concat([cipher.update('[1,2]'), cipher.final()]);
    const blob = Buffer.concat([iv, cipher.getAuthTag(), ct]).toString('base64');
    expect(reason(() => decryptCredential('m', 'w', blob))).toBe('bad_plaintext');
    expect(() => encryptCredential('m', 'w', [1, 2] as unknown as Record<string, unknown>)).toThrow(
      TypeError,
    );
  });
});
