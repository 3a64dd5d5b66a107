import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createCallState, releaseCallState } from './call-state.js';

function exchange(socket: Socket) {
  const request = new IncomingMessage(socket);
  request.headers = {};
  const response = new ServerResponse(request);
  return { request, response };
}

// What a response does when it was written in full (the client still there), or not.
function close(response: ServerResponse, finished: boolean): void {
  Object.defineProperty(response, 'writableFinished', { value: finished });
  response.emit('close');
}

describe('createCallState', () => {
  it('shares one connection signal across the requests of a keep-alive connection until a client goes away', () => {
    const socket = new Socket();
    const first = exchange(socket);
    const a = createCallState(first.request, first.response, {}, undefined, true);
    releaseCallState(a);
    close(first.response, true);
    expect(a.controller.signal.aborted).toBe(false);
    const second = exchange(socket);
    const b = createCallState(second.request, second.response, {}, undefined, true);
    expect(b.controller).toBe(a.controller);
    // The client goes away while the second request runs: its connection closes.
    socket.emit('close');
    expect(b.controller.signal.aborted).toBe(true);
    expect(b.controller.signal.reason).toMatchObject({ code: 'CANCELLED' });
    const third = exchange(new Socket());
    const c = createCallState(third.request, third.response, {}, undefined, true);
    expect(c.controller).not.toBe(a.controller);
    expect(c.controller.signal.aborted).toBe(false);
  });

  it('listens once per connection, not on every response, and leaves a connection closed between requests alone', () => {
    const socket = new Socket();
    const states = [];
    for (let i = 0; i < 3; i++) {
      const { request, response } = exchange(socket);
      const state = createCallState(request, response, {}, undefined, true);
      expect(response.listenerCount('close')).toBe(0);
      releaseCallState(state);
      // Released twice (a caller's second try) counts once.
      releaseCallState(state);
      states.push(state);
    }
    expect(socket.listenerCount('close')).toBe(1);
    socket.emit('close');
    expect(states[0]?.controller.signal.aborted).toBe(false);
  });

  it('retires a shared signal that was left with a listener, and gives a pipelined request its own', () => {
    const socket = new Socket();
    const first = exchange(socket);
    const a = createCallState(first.request, first.response, {}, undefined, true);
    const overlapping = exchange(socket);
    const own = createCallState(overlapping.request, overlapping.response, {}, undefined, true);
    expect(own.controller).not.toBe(a.controller);
    a.controller.signal.addEventListener('abort', () => undefined);
    releaseCallState(a);
    releaseCallState(own);
    close(overlapping.response, true);
    const next = exchange(socket);
    expect(createCallState(next.request, next.response, {}, undefined, true).controller).not.toBe(a.controller);
  });

  it('aborts every call state of a response whose client went away, and none of a finished one', () => {
    const socket = new Socket();
    const gone = exchange(socket);
    const one = createCallState(gone.request, gone.response, {}, undefined, false);
    const two = createCallState(gone.request, gone.response, {}, undefined, false);
    close(gone.response, false);
    expect(one.controller.signal.aborted).toBe(true);
    expect(two.controller.signal.aborted).toBe(true);
    const done = exchange(socket);
    const kept = createCallState(done.request, done.response, {}, undefined, false);
    close(done.response, true);
    expect(kept.controller.signal.aborted).toBe(false);
  });
});
