/**
 * Bytes allocated per request, for the focus scripts (`alloc`): V8's sampling heap profiler over
 * the measured requests, objects collected since included, summed in all and by the function
 * that allocated them. Unlike time, the figure does not move with the machine's load (it moves a
 * little with where the samples fall: about ±1 %).
 */
import { Session } from 'node:inspector/promises';

/** A node of a sampled heap profile (the fields read here). */
interface SampleNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children?: SampleNode[];
}

/**
 * Starts sampling; the returned function stops and prints the bytes per request of `requests()`.
 * `lines`: name each function with the line it starts on, and list 60 functions instead of 15 (a
 * function's line is the built package's: tsx's transform of the sources starts every one on line 1).
 */
export async function sampleAllocations({ lines = false }: { lines?: boolean } = {}): Promise<(requests: number) => Promise<void>> {
  const top = lines ? 60 : 15;
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.startSampling', {
    samplingInterval: 128,
    includeObjectsCollectedByMinorGC: true,
    includeObjectsCollectedByMajorGC: true,
  } as never);
  return async (requests) => {
    const { profile } = (await session.post('HeapProfiler.stopSampling')) as unknown as { profile: { head: SampleNode } };
    session.disconnect();
    const byFunction = new Map<string, number>();
    const visit = (node: SampleNode) => {
      const { functionName, url } = node.callFrame;
      const line = lines ? `:${node.callFrame.lineNumber + 1}` : '';
      const where = `${functionName || '(anonymous)'} ${url.split('/').slice(-3).join('/')}${line}`;
      byFunction.set(where, (byFunction.get(where) ?? 0) + node.selfSize);
      for (const child of node.children ?? []) visit(child);
    };
    visit(profile.head);
    const total = [...byFunction.values()].reduce((sum, bytes) => sum + bytes, 0);
    console.log(`allocated: ${Math.round(total / requests)} bytes per request (sampled), by function:`);
    for (const [where, bytes] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) {
      console.log(`${String(Math.round(bytes / requests)).padStart(7)}  ${where}`);
    }
  };
}
