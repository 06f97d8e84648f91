/** The smallest environment every role's configuration accepts (the config tests start from it). */
import { rsaTestKeys } from './keys';

export function baseConfigEnv(): Record<string, string> {
  return {
    DATABASE_URL: 'postgres://u@127.0.0.1:5432/db',
    REDIS_URL: 'redis://127.0.0.1:6379',
    DIGITALOCEAN_API_TOKEN: 'do-token',
    SIDECAR_JWT_PRIVATE_KEY: rsaTestKeys().privatePem,
    SIDECAR_HANDSHAKE_SECRET: 'a-handshake-secret-of-length',
  };
}
