/**
 * What the codec server shows people. Decoding for the Web UI or the temporal CLI is for reading,
 * and a credential blob (the fleet's AES-256-GCM credential format, DESIGN.md section 3) is of no
 * use to a reader and must not end up on a screen, in a screenshot or in a copied history: fields
 * that carry one are replaced by a marker with the blob's length. Workers and clients decode with
 * their own codec (src/temporal/payload-codec.ts) and still get the real blob.
 */
import { METADATA_ENCODING_KEY, type Payload } from '@temporalio/common';

/** Field names that hold credential blobs in workflow and activity payloads (camel and snake). */
export const CREDENTIAL_BLOB_FIELDS = ['encryptedData', 'encrypted_data'] as const;
const FIELDS = new Set<string>(CREDENTIAL_BLOB_FIELDS);

export const redactedBlob = (length: number) => `[credential blob redacted, ${length} characters]`;

function redact(value: unknown): { value: unknown; changed: boolean } {
  if (Array.isArray(value)) {
    let changed = false;
    const out = value.map((v) => {
      const r = redact(v);
      changed ||= r.changed;
      return r.value;
    });
    return { value: out, changed };
  }
  if (value && typeof value === 'object') {
    let changed = false;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (FIELDS.has(k) && typeof v === 'string') {
        out[k] = redactedBlob(v.length);
        changed = true;
      } else {
        const r = redact(v);
        changed ||= r.changed;
        out[k] = r.value;
      }
    }
    return { value: out, changed };
  }
  return { value, changed: false };
}

/** A decoded payload for display: JSON payloads with credential blobs get them replaced. */
export function redactForDisplay(payload: Payload): Payload {
  const encoding = payload.metadata?.[METADATA_ENCODING_KEY];
  if (!encoding || Buffer.from(encoding).toString() !== 'json/plain' || !payload.data) return payload;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(payload.data).toString('utf8'));
  } catch {
    return payload;
  }
  const r = redact(parsed);
  return r.changed ? { ...payload, data: Buffer.from(JSON.stringify(r.value), 'utf8') } : payload;
}
