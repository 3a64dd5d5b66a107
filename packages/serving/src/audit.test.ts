import { now } from '@ballast/core';
import type { AuditRecord, Guard } from '@ballast/guard';
import { describe, expect, it } from 'vitest';
import { auditRequest } from './audit.js';

const recorder = () => {
  const entries: AuditRecord[] = [];
  return { guard: { audit: (entry: AuditRecord) => entries.push(entry) } as unknown as Guard, entries };
};

describe('auditRequest', () => {
  it('passes every field that has a value, in the line order, latency rounded to the microsecond', () => {
    const { guard, entries } = recorder();
    auditRequest(guard, {
      requestId: 'r1',
      principal: 'checkout',
      keyId: 'k1',
      action: 'infer',
      model: 'fraud',
      version: '2',
      outcome: 'ok',
      status: 200,
      startedAt: now() - 1.23456789,
      input: { x: 1 },
    });
    const [entry] = entries;
    expect(Object.keys(entry ?? {})).toEqual([
      'requestId',
      'principal',
      'keyId',
      'action',
      'model',
      'version',
      'outcome',
      'status',
      'latencyMs',
      'input',
    ]);
    expect(entry).toMatchObject({ requestId: 'r1', principal: 'checkout', outcome: 'ok', status: 200, input: { x: 1 } });
    const latency = entry?.latencyMs as number;
    expect(latency).toBeGreaterThanOrEqual(1.234);
    expect(latency).toBe(Math.round(latency * 1000) / 1000);
  });

  it('leaves out the fields without a value rather than passing undefined', () => {
    const { guard, entries } = recorder();
    auditRequest(guard, {
      requestId: 'r2',
      principal: undefined,
      keyId: undefined,
      action: undefined,
      model: undefined,
      version: undefined,
      outcome: 'UNAUTHENTICATED',
      status: 401,
      startedAt: now(),
      input: undefined,
    });
    expect(Object.keys(entries[0] ?? {})).toEqual(['requestId', 'outcome', 'status', 'latencyMs']);
  });
});
