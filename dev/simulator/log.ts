import type { TokenState } from './state/authorizations.ts';

/** Which Heroku host a request to the simulator stands for. */
export type SimHost = 'api' | 'id' | 'sim';

/** One request the provider (or a browser) made to the simulator. */
export interface RecordedRequest {
  seq: number;
  at: number;
  host: SimHost;
  method: string;
  /** Path without the query string. */
  path: string;
  status: number;
  /** The raw Accept header (Platform API calls should send `application/vnd.heroku+json; version=3`). */
  accept: string | null;
  auth: {
    scheme: 'bearer' | 'basic' | 'none' | 'malformed';
    token: string | null;
    /** Null when no token was presented. */
    tokenState: TokenState | null;
    authorizationId: string | null;
    /** The add-on a partner token (or grant code / refresh token) belongs to. */
    addonId: string | null;
  };
  /** For `/oauth/token`: the `grant_type` field. */
  grantType: string | null;
}

/** One request the simulated add-on manager sent to the provider, and what came back. */
export interface ProviderCall {
  seq: number;
  at: number;
  operation: 'provision' | 'plan-change' | 'deprovision' | 'raw';
  addonId: string | null;
  method: string;
  url: string;
  requestHeaders: Record<string, string>;
  requestBody: string | null;
  /** Null when the call timed out or the connection failed. */
  status: number | null;
  responseHeaders: Record<string, string>;
  responseText: string;
  /** Parsed JSON, or undefined when the body was empty or not JSON. */
  responseBody: unknown;
  durationMs: number;
  error: 'timeout' | 'network' | null;
  errorMessage: string | null;
}

/** Ways the provider can break the contract. */
export type ViolationKind =
  | 'non-json-response'
  | 'timeout'
  | 'connection-failed'
  | 'unexpected-status'
  | 'invalid-provision-response'
  | 'invalid-config'
  | 'duplicate-provider-id'
  | 'replay-not-idempotent'
  | 'async-deprovision-not-enabled'
  | 'missing-api-version-header';

/** A contract violation the simulator noticed. */
export interface Violation {
  seq: number;
  at: number;
  kind: ViolationKind;
  message: string;
  addonId: string | null;
  /** The provider call it came from, when it came from one. */
  callSeq: number | null;
}

/** Everything that crossed the wire, in order, for tests to assert on. */
export class SimLog {
  readonly requests: RecordedRequest[] = [];
  readonly providerCalls: ProviderCall[] = [];
  readonly violations: Violation[] = [];
  #seq = 0;

  /** Next sequence number; shared by all three lists so they can be interleaved. */
  nextSeq(): number {
    return ++this.#seq;
  }

  /** Records a violation and returns it. */
  violation(
    at: number,
    kind: ViolationKind,
    message: string,
    addonId: string | null,
    callSeq: number | null = null,
  ): Violation {
    const v: Violation = { seq: this.nextSeq(), at, kind, message, addonId, callSeq };
    this.violations.push(v);
    return v;
  }

  /** Requests to `/oauth/token`, optionally only those for one add-on's authorization and grant type. */
  tokenRequests(filter: { addonId?: string; grantType?: string } = {}): RecordedRequest[] {
    return this.requests.filter(
      (r) =>
        r.host === 'id' &&
        r.path === '/oauth/token' &&
        (filter.addonId === undefined || r.auth.addonId === filter.addonId) &&
        (filter.grantType === undefined || r.grantType === filter.grantType),
    );
  }

  /** Platform API requests, optionally only those made with a token of one add-on. */
  apiRequests(filter: { addonId?: string } = {}): RecordedRequest[] {
    return this.requests.filter(
      (r) => r.host === 'api' && (filter.addonId === undefined || r.auth.addonId === filter.addonId),
    );
  }

  /** Forgets everything recorded so far (between phases of one test). */
  clear(): void {
    this.requests.length = 0;
    this.providerCalls.length = 0;
    this.violations.length = 0;
  }
}
