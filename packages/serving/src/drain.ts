import type { Server } from 'node:http';

/**
 * Counts the requests in flight and waits for them at shutdown, bounded: one timer for the whole
 * shutdown, none per request.
 *
 * @example
 * const drain = new Drain();
 * drain.enter(); try { await work(); } finally { drain.leave(); }
 * drain.begin(); await drain.settled(10_000);
 */
export class Drain {
  private count = 0;
  private stopping = false;
  private idle: (() => void) | undefined;

  /** Requests in flight now. */
  get inFlight(): number {
    return this.count;
  }

  /** True once shutdown began. */
  get draining(): boolean {
    return this.stopping;
  }

  /** A request starts. */
  enter(): void {
    this.count++;
  }

  /** A request ends. */
  leave(): void {
    this.count--;
    if (this.count === 0) this.idle?.();
  }

  /** Shutdown begins: readiness and new requests answer 503 from now on. */
  begin(): void {
    this.stopping = true;
  }

  /** Resolves when no request is in flight, or after `timeoutMs`, whichever comes first. */
  settled(timeoutMs: number): Promise<void> {
    if (this.count === 0) return Promise.resolve();
    return new Promise<void>((done) => {
      const timer = setTimeout(done, timeoutMs);
      this.idle = () => {
        clearTimeout(timer);
        this.idle = undefined;
        done();
      };
    });
  }
}

/**
 * Stops `server` taking connections and resolves once it closed. `server.close()` waits for every
 * open connection; a client holding one (a body sent half way, a keep-alive connection busy
 * again) would hold the shutdown until it gives up, so what is still open at `endsAt` (a
 * `Date.now()` time) gets closed.
 *
 * @example
 * await closeServer(server, Date.now() + 10_000);
 */
export function closeServer(server: Server, endsAt: number): Promise<void> {
  return new Promise<void>((done) => {
    const timer = setTimeout(() => server.closeAllConnections?.(), Math.max(0, endsAt - Date.now()));
    server.close(() => {
      clearTimeout(timer);
      done();
    });
    server.closeIdleConnections?.();
  });
}
