/** The sidecar agent protocol: command client, tokens, credential blobs. */
export * from './client';
export * from './credential-blob';
export * from './errors';
export * from './jwt';
export * from './protocol';
