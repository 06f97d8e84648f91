/**
 * Encrypts every Temporal payload (AES-256-GCM) so no workspace data, credential blob or workflow
 * JSON is readable in Temporal's history. Keys have ids: the first configured key encrypts, every
 * configured key decrypts, so a key is rotated by adding the new one in front. Payloads above a
 * threshold are gzip-compressed before encryption.
 *
 * Encoded payload: metadata {encoding: 'binary/encrypted', 'encryption-key-id': id,
 * 'encryption-compression': 'gzip'|'none'}, data = iv (12 bytes) | tag (16 bytes) | ciphertext of
 * the original Payload protobuf.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { METADATA_ENCODING_KEY, type Payload, type PayloadCodec, ValueError } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import type { CodecKey } from './codec-keys';

export type { CodecKey };

export const ENCRYPTED_ENCODING = 'binary/encrypted';
const KEY_ID = 'encryption-key-id';
const COMPRESSION = 'encryption-compression';
const COMPRESS_ABOVE_BYTES = 4 * 1024;

const text = (s: string) => Buffer.from(s, 'utf8');

export class AesGcmPayloadCodec implements PayloadCodec {
  private readonly byId: Map<string, Buffer>;

  constructor(private readonly keys: CodecKey[]) {
    if (keys.length === 0) throw new Error('AesGcmPayloadCodec needs at least one key');
    for (const k of keys) if (k.key.length !== 32) throw new Error(`codec key ${k.id} must be 32 bytes`);
    this.byId = new Map(keys.map((k) => [k.id, k.key]));
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    const { id, key } = this.keys[0]!;
    return payloads.map((payload) => {
      let plain = Buffer.from(temporal.api.common.v1.Payload.encode(payload).finish());
      const compress = plain.length > COMPRESS_ABOVE_BYTES;
      if (compress) plain = gzipSync(plain);
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(text(id));
      const ciphertext = Buffer.concat([cipher.update(plain), cipher.final()]);
      return {
        metadata: {
          [METADATA_ENCODING_KEY]: text(ENCRYPTED_ENCODING),
          [KEY_ID]: text(id),
          [COMPRESSION]: text(compress ? 'gzip' : 'none'),
        },
        data: Buffer.concat([iv, cipher.getAuthTag(), ciphertext]),
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      const encoding = payload.metadata?.[METADATA_ENCODING_KEY];
      if (!encoding || Buffer.from(encoding).toString() !== ENCRYPTED_ENCODING) return payload;
      const idBytes = payload.metadata?.[KEY_ID];
      const id = idBytes ? Buffer.from(idBytes).toString() : '';
      const key = this.byId.get(id);
      if (!key) throw new ValueError(`payload encrypted with unknown key id "${id}"`);
      const data = Buffer.from(payload.data ?? new Uint8Array());
      if (data.length < 28) throw new ValueError('encrypted payload is truncated');
      const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, 12));
      decipher.setAAD(text(id));
      decipher.setAuthTag(data.subarray(12, 28));
      let plain = Buffer.concat([decipher.update(data.subarray(28)), decipher.final()]);
      const compression = payload.metadata?.[COMPRESSION];
      if (compression && Buffer.from(compression).toString() === 'gzip') plain = gunzipSync(plain);
      return temporal.api.common.v1.Payload.decode(plain);
    });
  }
}

/** The data converter for workers and clients: encryption when keys are configured. */
export function dataConverterFor(
  keys: CodecKey[] | undefined,
): { payloadCodecs: PayloadCodec[] } | undefined {
  return keys && keys.length > 0 ? { payloadCodecs: [new AesGcmPayloadCodec(keys)] } : undefined;
}
