/**
 * @packageDocumentation
 * API keys, roles, per-principal limits, input and output guards and audit logs: the
 * framework-free security layer `@ballast/express` and `@ballast/nest` build on.
 */

export type { ApiKeys, ApiKeysOptions, CreatedKey, CreateKeyOptions, KeyFailure, RotateKeyOptions } from './api-keys.js';
export { apiKeys } from './api-keys.js';
export type { AuditEntry, AuditLog, AuditLogOptions, AuditRecord, AuditSink, FileSink, FileSinkOptions } from './audit.js';
export { auditLog, fileSink, hashInput } from './audit.js';
export type { ChatText } from './chat-input.js';
export { DEFAULT_SCORED_ROLES, isChatInput, readChat } from './chat-input.js';
export type { Authenticator, Guard, GuardOptions, HeadersLike, RequestLike } from './guard.js';
export { createGuard, credentialOf, DEFAULT_MAX_BODY_BYTES } from './guard.js';
export type { InjectionClassifier, InjectionOptions, InjectionPattern, InjectionScore } from './injection.js';
export { INJECTION_PATTERNS, scoreInjection } from './injection.js';
export type { InputIssue, InputPolicy, NumericRange } from './input-guard.js';
export { checkInput, checkInputNow, formatPath, schemaError } from './input-guard.js';
export type { ApiKeyRecord, FileKeyStoreOptions, KeyStore, KeyStoreCallOptions } from './key-store.js';
export { apiKeyRecordSchema, fileKeyStore, memoryKeyStore, mergeKeyRecords } from './key-store.js';
export type { LimiterFactory, PrincipalLimits, PrincipalLimitsOptions, QuotaPolicy, RateLimitPolicy } from './limits.js';
export { principalLimits } from './limits.js';
export type { GuardAction, GuardPrincipal, RolePolicies, RolePolicy } from './principal.js';
export { authorize, DEFAULT_ROLES, isAllowed, matchesAny } from './principal.js';
export type { RedactionOptions, Redactor } from './redact.js';
export { redactor } from './redact.js';
export { DEFAULT_MAX_MATCH_LENGTH, outputRedaction, redactStream } from './redact-stream.js';
