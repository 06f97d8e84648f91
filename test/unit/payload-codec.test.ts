import { randomBytes } from 'node:crypto';
import { defaultPayloadConverter } from '@temporalio/common';
import { AesGcmPayloadCodec, ENCRYPTED_ENCODING } from '../../src/temporal/payload-codec';

const key = (id: string) => ({ id, key: randomBytes(32) });

describe('AesGcmPayloadCodec', () => {
  const k1 = key('k1');
  const k2 = key('k2');

  it('round-trips and hides the plaintext', async () => {
    const codec = new AesGcmPayloadCodec([k1]);
    const payload = defaultPayloadConverter.toPayload({ encryptedData: 'SECRET-BLOB', workspace: 'ws-9' });
    const [enc] = await codec.encode([payload]);
    expect(Buffer.from(enc!.metadata!.encoding!).toString()).toBe(ENCRYPTED_ENCODING);
    expect(Buffer.from(enc!.data!).toString('latin1')).not.toContain('SECRET-BLOB');
    const [dec] = await codec.decode([enc!]);
    expect(defaultPayloadConverter.fromPayload(dec!)).toEqual({
      encryptedData: 'SECRET-BLOB',
      workspace: 'ws-9',
    });
  });

  it('compresses large payloads before encrypting', async () => {
    const codec = new AesGcmPayloadCodec([k1]);
    const big = defaultPayloadConverter.toPayload({ workflow: 'x'.repeat(200_000) });
    const [enc] = await codec.encode([big]);
    expect(enc!.data!.length).toBeLessThan(5_000);
    expect(Buffer.from(enc!.metadata!['encryption-compression']!).toString()).toBe('gzip');
    const [dec] = await codec.decode([enc!]);
    expect(defaultPayloadConverter.fromPayload<{ workflow: string }>(dec!).workflow).toHaveLength(200_000);
  });

  it('rotates keys: new key encrypts, old key still decrypts', async () => {
    const old = new AesGcmPayloadCodec([k1]);
    const rotated = new AesGcmPayloadCodec([k2, k1]);
    const [fromOld] = await old.encode([defaultPayloadConverter.toPayload('before rotation')]);
    const [fromNew] = await rotated.encode([defaultPayloadConverter.toPayload('after rotation')]);
    expect(Buffer.from(fromNew!.metadata!['encryption-key-id']!).toString()).toBe('k2');
    const decoded = await rotated.decode([fromOld!, fromNew!]);
    expect(decoded.map((p) => defaultPayloadConverter.fromPayload(p))).toEqual([
      'before rotation',
      'after rotation',
    ]);
  });

  it('refuses unknown key ids and tampered ciphertext', async () => {
    const [enc] = await new AesGcmPayloadCodec([k2]).encode([defaultPayloadConverter.toPayload('x')]);
    await expect(new AesGcmPayloadCodec([k1]).decode([enc!])).rejects.toThrow(/unknown key id "k2"/);
    const tampered = { ...enc!, data: Buffer.from(enc!.data!) };
    tampered.data[tampered.data.length - 1] ^= 1;
    await expect(new AesGcmPayloadCodec([k2]).decode([tampered])).rejects.toThrow();
  });

  it('passes through payloads that were never encrypted', async () => {
    const plain = defaultPayloadConverter.toPayload({ a: 1 });
    const [out] = await new AesGcmPayloadCodec([k1]).decode([plain]);
    expect(out).toBe(plain);
  });
});
