/**
 * Who may use the codec server. Three ways in, each for the caller that can really present it:
 *
 *   shared token    `Authorization: Bearer <CODEC_SERVER_TOKEN>`: the temporal CLI
 *                   (`--codec-auth`), scripts. Compared in constant time.
 *   OIDC token      `Authorization: Bearer <JWT>`: the Web UI with sign-in enabled and
 *                   "pass the user access token" on sends the signed-in operator's token. Verified
 *                   against the identity provider's keys (JWKS, with rotation), issuer, audience,
 *                   expiry, and the operator must be in one of the allowed groups.
 *   loopback UI     no token, development only: the API listens on loopback, the TCP peer is
 *                   loopback and the browser's Origin is one of the configured (loopback) UI
 *                   origins. The config refuses this mode in production or on a non-loopback bind.
 *
 * The Origin check itself (CORS) is in codec-routes.ts and applies to every browser request.
 */
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import { isLoopbackHost } from '../config';
import { constantTimeEqual } from '../heartbeats/tokens';

export interface OidcSettings {
  issuer: string;
  audience: string[];
  /** When unset: the jwks_uri of the issuer's /.well-known/openid-configuration. */
  jwksUrl?: string;
  /** Claim holding the operator's groups (an array, or a space/comma separated string). */
  groupsClaim: string;
  allowedGroups: string[];
}

export interface CodecAuthSettings {
  token?: string;
  oidc?: OidcSettings;
  trustLoopbackUi?: boolean;
}

export interface CodecCaller {
  via: 'token' | 'oidc' | 'loopback_ui';
  /** The operator (OIDC subject) when known. */
  subject?: string;
}

export class CodecAuthError extends Error {
  constructor(
    readonly status: 401 | 403 | 503,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'CodecAuthError';
  }
}

const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

/** Verifies operators' access tokens against the identity provider. Keys are fetched lazily. */
export class OidcTokenVerifier {
  private jwks?: ReturnType<typeof createRemoteJWKSet>;

  constructor(
    private readonly settings: OidcSettings,
    private readonly fetchTimeoutMs = 5_000,
  ) {}

  async verify(token: string): Promise<CodecCaller> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, await this.keys(), {
        issuer: this.settings.issuer,
        audience: this.settings.audience,
        algorithms: ALGORITHMS,
      }));
    } catch (err) {
      if (err instanceof CodecAuthError) throw err;
      if (err instanceof joseErrors.JWKSTimeout || err instanceof joseErrors.JWKSInvalid)
        throw new CodecAuthError(
          503,
          'identity_provider_unavailable',
          'the identity provider keys could not be read',
        );
      if (err instanceof joseErrors.JWTExpired)
        throw new CodecAuthError(401, 'token_expired', 'the access token has expired; sign in again');
      if (err instanceof joseErrors.JWTClaimValidationFailed)
        throw new CodecAuthError(
          401,
          'token_rejected',
          `the access token's "${err.claim}" claim is not accepted`,
        );
      if (err instanceof joseErrors.JOSEError)
        throw new CodecAuthError(
          401,
          'token_rejected',
          'the access token is not signed by the identity provider',
        );
      // fetch() failures of the JWKS or the discovery document
      throw new CodecAuthError(
        503,
        'identity_provider_unavailable',
        'the identity provider could not be reached',
      );
    }
    const groups = groupsOf(payload[this.settings.groupsClaim]);
    if (!groups.some((g) => this.settings.allowedGroups.includes(g)))
      throw new CodecAuthError(
        403,
        'not_in_allowed_group',
        'this operator is not in a group allowed to decode payloads',
      );
    return { via: 'oidc', subject: typeof payload.sub === 'string' ? payload.sub : undefined };
  }

  private async keys(): Promise<ReturnType<typeof createRemoteJWKSet>> {
    if (!this.jwks) {
      const url = this.settings.jwksUrl ?? (await this.discoverJwksUrl());
      this.jwks = createRemoteJWKSet(new URL(url), { timeoutDuration: this.fetchTimeoutMs });
    }
    return this.jwks;
  }

  private async discoverJwksUrl(): Promise<string> {
    const url = `${this.settings.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
    const res = await fetch(url, { signal: AbortSignal.timeout(this.fetchTimeoutMs) });
    if (!res.ok)
      throw new CodecAuthError(503, 'identity_provider_unavailable', `discovery answered ${res.status}`);
    const doc = (await res.json()) as { jwks_uri?: unknown };
    if (typeof doc.jwks_uri !== 'string')
      throw new CodecAuthError(
        503,
        'identity_provider_unavailable',
        'the discovery document has no jwks_uri',
      );
    return doc.jwks_uri;
  }
}

function groupsOf(claim: unknown): string[] {
  if (Array.isArray(claim)) return claim.filter((g): g is string => typeof g === 'string');
  if (typeof claim === 'string') return claim.split(/[\s,]+/).filter(Boolean);
  return [];
}

const bearerOf = (header: string | undefined) => /^Bearer\s+(\S+)$/i.exec(header ?? '')?.[1];
const looksLikeJwt = (t: string) => /^[\w-]+\.[\w-]+\.[\w-]+$/.test(t);

/** Decides one request; throws CodecAuthError with the status to answer. */
export class CodecAuthorizer {
  private readonly oidc?: OidcTokenVerifier;

  constructor(private readonly settings: CodecAuthSettings) {
    if (settings.oidc) this.oidc = new OidcTokenVerifier(settings.oidc);
  }

  /** Whether any way in is configured at all (otherwise the codec server is disabled). */
  get enabled(): boolean {
    return !!this.settings.token || !!this.oidc || !!this.settings.trustLoopbackUi;
  }

  async authorize(req: {
    authorization?: string;
    /** An Origin the CORS check already accepted, or undefined for a non-browser caller. */
    allowedOrigin?: string;
    remoteAddress?: string;
  }): Promise<CodecCaller> {
    const bearer = bearerOf(req.authorization);
    if (bearer) {
      if (this.settings.token && constantTimeEqual(bearer, this.settings.token)) return { via: 'token' };
      if (this.oidc && looksLikeJwt(bearer)) return this.oidc.verify(bearer);
      throw new CodecAuthError(401, 'unauthorized', 'the bearer token is not accepted');
    }
    if (
      this.settings.trustLoopbackUi &&
      req.allowedOrigin &&
      isLoopbackHost(new URL(req.allowedOrigin).hostname) &&
      req.remoteAddress &&
      isLoopbackHost(req.remoteAddress)
    )
      return { via: 'loopback_ui' };
    throw new CodecAuthError(
      401,
      'unauthorized',
      this.oidc
        ? "a bearer token is required: the operator's access token (Web UI) or the codec server token"
        : 'a valid bearer token is required to use the codec',
    );
  }
}
