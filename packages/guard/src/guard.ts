import { BallastError, type LimiterCallOptions, type ModelStream, promised } from '@ballast/core';
import { type ApiKeys, unauthenticated } from './api-keys.js';
import type { AuditLog, AuditRecord } from './audit.js';
import { checkInputNow, type InputPolicy } from './input-guard.js';
import { type PrincipalLimits, type PrincipalLimitsOptions, principalLimits } from './limits.js';
import { authorize, DEFAULT_ROLES, type GuardAction, type GuardPrincipal, type RolePolicies } from './principal.js';
import { type RedactionOptions, type Redactor, redactor } from './redact.js';
import { heldTailOf, redactStream } from './redact-stream.js';

/** Header values as Node (`IncomingMessage.headers`) or Fetch (`Headers`) keep them. */
export type HeadersLike =
  | Readonly<Record<string, string | readonly string[] | undefined>>
  | { get(name: string): string | null | undefined };

/** Anything with headers: an Express/Node request, a Fetch `Request`, a Nest execution context's request. */
export interface RequestLike {
  /** The request headers. */
  readonly headers: HeadersLike;
}

/** A custom authenticator, e.g. for JWTs; return `undefined` to fall back to API keys. */
export type Authenticator = (
  credential: string | undefined,
  request: RequestLike | undefined,
) => Promise<GuardPrincipal | undefined> | GuardPrincipal | undefined;

/** Options of {@link createGuard}. */
export interface GuardOptions {
  /** API key verification. Required unless `authenticate` or `anonymous` is given. */
  keys?: ApiKeys;
  /** A custom authenticator tried before API keys. */
  authenticate?: Authenticator;
  /** A principal used when a request carries no credential; default: such requests are `UNAUTHENTICATED`. */
  anonymous?: GuardPrincipal;
  /** Header holding the key besides `Authorization: Bearer`. Default `x-api-key`. */
  keyHeader?: string;
  /** Role policies. Default {@link DEFAULT_ROLES}. */
  roles?: RolePolicies;
  /** Per-principal rate limits and quotas (a {@link principalLimits} or its options). */
  limits?: PrincipalLimits | PrincipalLimitsOptions;
  /** Input rules applied to every model unless `models[name].input` replaces them. */
  input?: InputPolicy;
  /** Output redaction for every model unless `models[name].output` replaces it. */
  output?: RedactionOptions;
  /** Per-model overrides. */
  models?: Record<string, { input?: InputPolicy; output?: RedactionOptions }>;
  /** Where audit lines go. */
  audit?: AuditLog;
}

/** The framework-free security layer adapters call. Build it with {@link createGuard}. */
export interface Guard {
  /**
   * Authenticates a request, or a raw `Authorization`/key header value. Returns the principal or
   * throws `UNAUTHENTICATED` (`details.reason`: `missing`, `malformed`, `invalid`, `revoked`, `expired`).
   */
  authenticate(source: RequestLike | string | undefined | null): Promise<GuardPrincipal>;
  /**
   * `authenticate()` without a promise where none is needed: an API key verified recently (the
   * key cache) or the anonymous principal answers at once, and a missing or malformed credential
   * throws at once; anything else (a key's first use, your own `authenticate`) is a promise.
   */
  authenticateNow(source: RequestLike | string | undefined | null): GuardPrincipal | Promise<GuardPrincipal>;
  /** Throws `UNAUTHENTICATED` without a principal, `FORBIDDEN` without the grant. */
  authorize(principal: GuardPrincipal | undefined, action: GuardAction, model?: string): void;
  /**
   * Spends one request of the principal's rate limit and quota, or throws `RATE_LIMITED` with
   * `retryAfterMs`; a promise when the limits use a shared (asynchronous) limiter.
   */
  admit(principal: GuardPrincipal, model: string, cost?: number, options?: LimiterCallOptions): void | Promise<void>;
  /**
   * Applies the model's input policy; returns the (schema-parsed) input or throws `INVALID_INPUT`.
   * Synchronous unless the policy has a schema or an injection classifier: then a promise (that
   * rejects with `INVALID_INPUT`). `await` it either way.
   */
  checkInput(model: string, input: unknown): unknown;
  /** The model's input policy (adapters read `maxBodyBytes`). */
  inputPolicy(model: string): InputPolicy | undefined;
  /** Largest body accepted for `model` (or for any model when omitted), bytes. */
  maxBodyBytes(model?: string): number;
  /** Applies the model's output redaction (a copy; the input is not mutated). */
  filterOutput<T>(model: string, output: T): T;
  /**
   * Applies the model's output redaction to a stream ({@link redactStream}): a secret split across
   * chunks is redacted too; the stream holds back `maxMatchLength - 1` characters to see it whole.
   * A model without redaction gets its stream back unchanged.
   */
  filterStream<O>(model: string, stream: ModelStream<O>): ModelStream<O>;
  /** Writes an audit line when an audit log is configured. */
  audit(entry: AuditRecord): void;
  /** The role policies in use. */
  readonly roles: RolePolicies;
  /** The audit log, when configured. */
  readonly auditLog: AuditLog | undefined;
}

/** The default body limit, bytes (1 MiB). */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

function headerOf(headers: HeadersLike, name: string): string | undefined {
  if (typeof (headers as { get?: unknown }).get === 'function') {
    return (headers as { get(name: string): string | null | undefined }).get(name) ?? undefined;
  }
  const value = (headers as Record<string, string | readonly string[] | undefined>)[name];
  if (Array.isArray(value)) return value[0];
  return value as string | undefined;
}

// A character `trim()` would remove, among those an HTTP header value can hold (a string source
// may hold any: the fast path below leaves anything else to `trim()`).
function isBlank(code: number): boolean {
  if (code <= 32 || code === 0xa0 || code === 0xfeff) return true;
  return (
    code >= 0x1680 &&
    (code === 0x1680 ||
      (code >= 0x2000 && code <= 0x200a) ||
      code === 0x2028 ||
      code === 0x2029 ||
      code === 0x202f ||
      code === 0x205f ||
      code === 0x3000)
  );
}

/**
 * The credential a request carries: `Authorization: Bearer <key>` (or `ApiKey <key>`), else the
 * key header (default `x-api-key`). A raw string is read as an `Authorization` value, or as the
 * key itself when it has no scheme.
 *
 * @example
 * credentialOf({ headers: { authorization: 'Bearer bk_…' } }); // 'bk_…'
 */
export function credentialOf(source: RequestLike | string | undefined | null, keyHeader = 'x-api-key'): string | undefined {
  if (source === undefined || source === null) return undefined;
  let value: string | undefined;
  if (typeof source === 'string') value = source;
  else if (typeof source === 'object') {
    // Read once: a Node request's `headers` is a getter.
    const headers = source.headers;
    if (headers !== undefined && headers !== null) value = headerOf(headers, 'authorization') ?? headerOf(headers, keyHeader.toLowerCase());
  }
  if (typeof value !== 'string') return undefined;
  // The form clients send, `Bearer <key>` with nothing around it, without trimming and
  // lower-casing copies of the header on every request.
  if (value.startsWith('Bearer ') && value.length > 7 && !isBlank(value.charCodeAt(7)) && !isBlank(value.charCodeAt(value.length - 1))) {
    return value.slice(7);
  }
  value = value.trim();
  if (value === '') return undefined;
  const space = value.indexOf(' ');
  if (space === -1) return value;
  const scheme = value.slice(0, space).toLowerCase();
  if (scheme === 'bearer' || scheme === 'apikey') return value.slice(space + 1).trim() || undefined;
  // An unknown scheme (Basic, Digest, …) is not an API key.
  return '';
}

/**
 * Builds a guard: authentication (API keys or your own), authorization by roles, per-principal
 * limits, input and output guards and audit, as one object that adapters (`@ballast/express`,
 * `@ballast/nest`) and your own code call.
 *
 * @example
 * const guard = createGuard({
 *   keys: apiKeys({ secret: process.env.KEY_SECRET!, store: fileKeyStore({ path: './keys.json' }) }),
 *   limits: { rate: { ratePerSecond: 20, burst: 40 } },
 *   input: { maxBodyBytes: 64 * 1024, maxTextLength: 4000, injection: true },
 *   output: { fields: ['email'] },
 * });
 * const principal = await guard.authenticate(request);
 * guard.authorize(principal, 'infer', 'fraud');
 */
export function createGuard(options: GuardOptions): Guard {
  if (typeof options !== 'object' || options === null) throw new BallastError('CONFIG', 'createGuard expects an options object');
  const { keys, anonymous, keyHeader = 'x-api-key', roles = DEFAULT_ROLES, models = {} } = options;
  if (keys === undefined && options.authenticate === undefined && anonymous === undefined) {
    throw new BallastError('CONFIG', 'createGuard: give "keys", "authenticate" or "anonymous"', { details: { path: 'keys' } });
  }
  const limits: PrincipalLimits | undefined =
    options.limits === undefined
      ? undefined
      : typeof (options.limits as PrincipalLimits).admit === 'function'
        ? (options.limits as PrincipalLimits)
        : principalLimits(options.limits as PrincipalLimitsOptions);
  const defaultRedactor = redactor(options.output);
  const redactors = new Map<string, Redactor>();
  if (options.output !== undefined) heldTailOf(options.output);
  for (const [name, override] of Object.entries(models)) {
    if (override.output !== undefined) {
      heldTailOf(override.output);
      redactors.set(name, redactor(override.output));
    }
  }
  const redactionOf = (model: string): RedactionOptions | undefined =>
    Object.hasOwn(models, model) && models[model]?.output !== undefined ? models[model]?.output : options.output;
  const policyOf = (model: string): InputPolicy | undefined =>
    Object.hasOwn(models, model) && models[model]?.input !== undefined ? models[model]?.input : options.input;
  const auditLogInstance = options.audit;
  // The built-in path: an API key (or the anonymous principal); throws UNAUTHENTICATED for what
  // is known to fail without the store, and answers a cached key without a promise.
  const byCredentialNow = (credential: string | undefined): GuardPrincipal | Promise<GuardPrincipal> => {
    if (credential === undefined) {
      if (anonymous !== undefined) return anonymous;
      throw unauthenticated('missing', 'an API key is required');
    }
    if (credential === '') throw unauthenticated('malformed', 'unsupported authorization scheme');
    if (keys === undefined) throw unauthenticated('invalid', 'the credential is not valid');
    return keys.verifyNow === undefined ? keys.verify(credential) : keys.verifyNow(credential);
  };
  // The same as a promise that rejects rather than a throw.
  const byCredential = (credential: string | undefined): Promise<GuardPrincipal> => promised(() => byCredentialNow(credential));
  // The app's own authenticator first; `undefined` from it falls through to the built-in path.
  const authenticateWith = async (
    authenticator: NonNullable<GuardOptions['authenticate']>,
    credential: string | undefined,
    source: RequestLike | string | undefined | null,
  ): Promise<GuardPrincipal> => {
    const request = typeof source === 'object' && source !== null ? source : undefined;
    const principal = await authenticator(credential, request);
    if (principal !== undefined) return principal;
    return byCredential(credential);
  };

  return {
    roles,
    auditLog: auditLogInstance,
    // Not an async function: the API-key path hands back verify()'s own promise, where an async
    // function would wrap it in a second one (and two more ticks) on every request.
    authenticate(source) {
      const credential = credentialOf(source, keyHeader);
      if (options.authenticate !== undefined) return authenticateWith(options.authenticate, credential, source);
      return byCredential(credential);
    },
    authenticateNow(source) {
      const credential = credentialOf(source, keyHeader);
      if (options.authenticate !== undefined) return authenticateWith(options.authenticate, credential, source);
      return byCredentialNow(credential);
    },
    authorize(principal, action, model) {
      authorize(principal, action, model, roles);
    },
    admit(principal, model, cost, callOptions) {
      return limits?.admit(principal, model, cost, callOptions);
    },
    checkInput(model, input) {
      return checkInputNow(policyOf(model), model, input);
    },
    inputPolicy: policyOf,
    maxBodyBytes(model) {
      if (model !== undefined) return policyOf(model)?.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
      let largest = options.input?.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
      for (const override of Object.values(models)) largest = Math.max(largest, override.input?.maxBodyBytes ?? 0);
      return largest;
    },
    filterOutput(model, output) {
      return (redactors.get(model) ?? defaultRedactor)(output);
    },
    filterStream(model, stream) {
      const redaction = redactionOf(model);
      if (redaction === undefined || ((redaction.patterns?.length ?? 0) === 0 && (redaction.fields?.length ?? 0) === 0)) return stream;
      return redactStream(stream, redaction);
    },
    audit(entry) {
      auditLogInstance?.record(entry);
    },
  };
}
