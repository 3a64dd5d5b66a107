import { BallastError } from '@ballast/core';
import { describe, expect, it } from 'vitest';
import { reportServedError } from './error-answer.js';

describe('reportServedError', () => {
  const internal = new BallastError('INTERNAL', 'the model broke', { cause: new Error('deep down') });

  it('logs a 500 without a hook, with its request id and cause, and leaves 4xx and operational 5xx alone', () => {
    const lines: string[] = [];
    reportServedError(internal, {}, 'r-1', undefined, (line) => lines.push(line));
    reportServedError(new BallastError('INVALID_INPUT', 'bad'), {}, 'r-2', undefined, (line) => lines.push(line));
    reportServedError(new BallastError('TIMEOUT', 'spent'), {}, 'r-3', undefined, (line) => lines.push(line));
    expect(lines).toEqual([expect.stringMatching(/^ballast: INTERNAL answered with 500 \(request r-1\): the model broke\n.*deep down/s)]);
  });

  it('never throws: a hook that throws is logged, a log that throws is ignored', () => {
    const lines: string[] = [];
    const hook = () => {
      throw new Error('the hook broke');
    };
    expect(() => reportServedError(internal, {}, 'r-1', hook, (line) => lines.push(line))).not.toThrow();
    expect(lines).toEqual([
      expect.stringMatching(/^ballast: onError threw while reporting INTERNAL answered with 500 \(request r-1\):\n.*the hook broke/s),
    ]);
    const throwingLog = () => {
      throw new Error('the log broke');
    };
    expect(() => reportServedError(internal, {}, 'r-1', hook, throwingLog)).not.toThrow();
    expect(() => reportServedError(internal, {}, 'r-1', undefined, throwingLog)).not.toThrow();
  });
});
