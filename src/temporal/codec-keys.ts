/** Payload codec keys as configured (PAYLOAD_CODEC_KEYS); no dependency, shared by config and the client. */
export interface CodecKey {
  id: string;
  key: Buffer;
}

/**
 * Payload codec keys: "keyId:base64Key[,keyId:base64Key...]". The first key encrypts; every key
 * decrypts, so a new key is added in front and old ones stay until their histories age out.
 * Returns the keys, or the problem (never the value).
 */
export function parseCodecKeys(text: string): { keys: CodecKey[] } | { problem: string } {
  const keys: CodecKey[] = [];
  for (const part of text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const idx = part.indexOf(':');
    const id = part.slice(0, idx);
    const key = Buffer.from(part.slice(idx + 1), 'base64');
    if (idx <= 0 || !/^[A-Za-z0-9_.-]{1,32}$/.test(id) || key.length !== 32)
      return { problem: 'each entry must be keyId:base64 of 32 bytes' };
    keys.push({ id, key });
  }
  if (keys.length === 0) return { problem: 'must hold at least one keyId:base64Key' };
  if (new Set(keys.map((k) => k.id)).size !== keys.length) return { problem: 'key ids must be unique' };
  return { keys };
}
