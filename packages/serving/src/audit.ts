import type { ErrorCode, Usage } from '@ballast/core';
import { now } from '@ballast/core';
import type { AuditRecord, Guard } from '@ballast/guard';

/** What one request's audit line is made of (see {@link auditRequest}). */
export interface RequestAudit {
  /** The request id. */
  requestId: string;
  /** The principal id; left out when there is none (the audit log writes `anonymous`). */
  principal?: string | undefined;
  /** The API key id that authenticated the request. */
  keyId?: string | undefined;
  /** The action checked. */
  action?: string | undefined;
  /** The model name. */
  model?: string | undefined;
  /** The model version. */
  version?: string | undefined;
  /** `ok`, or the code of the error that ended the request. */
  outcome: 'ok' | ErrorCode;
  /** The HTTP status answered. */
  status: number;
  /** When the request started, on the `performance.now()` clock: the latency runs from here to now. */
  startedAt: number;
  /** The input as the guard saw it (hashed by the audit log); left out when there is none. */
  input?: unknown;
  /** Tokens a streamed answer used (the model's usage), written as the line's `usage`. */
  usage?: Usage | undefined;
}

/**
 * Writes one request's audit line through `guard.audit`, the latency rounded to the
 * microsecond. Fields without a value are left out rather than passed as `undefined`, so a Guard of
 * the app's own sees the same keys whichever adapter served the request. Used by every adapter.
 *
 * @example
 * auditRequest(guard, { requestId, outcome: 'ok', status: 200, startedAt });
 */
export function auditRequest(guard: Guard, fields: RequestAudit): void {
  // Built key by key in the line's order: on the infer route a conditional `...spread` takes
  // V8's generic (slow) path.
  const entry = { requestId: fields.requestId } as AuditRecord;
  if (fields.principal !== undefined) entry.principal = fields.principal;
  if (fields.keyId !== undefined) entry.keyId = fields.keyId;
  if (fields.action !== undefined) entry.action = fields.action;
  if (fields.model !== undefined) entry.model = fields.model;
  if (fields.version !== undefined) entry.version = fields.version;
  entry.outcome = fields.outcome;
  entry.status = fields.status;
  entry.latencyMs = Math.round((now() - fields.startedAt) * 1000) / 1000;
  if (fields.input !== undefined) entry.input = fields.input;
  if (fields.usage !== undefined) entry.usage = fields.usage;
  guard.audit(entry);
}
