/**
 * Replays weather days as HTTP traffic against the service: every day is reported by several
 * stations (each with its own small, seeded sensor noise), some requests are repeated by a
 * dashboard (exact duplicates, served from the cache), at a paced rate with bounded concurrency.
 */

import { seededRandom } from '@ballast/core';
import { FEATURES, type WeatherDay } from './data.js';

/** One finished request. */
export interface RequestOutcome {
  status: number;
  latencyMs: number;
  /** The error code of a failed request. */
  code?: string;
  /** Predicted class index of a successful request. */
  predicted?: number;
  phase: string;
}

/** Options of {@link replay}. */
export interface ReplayOptions {
  url: string;
  apiKey: string;
  days: readonly WeatherDay[];
  /** Requests per day (stations). */
  stations: number;
  /** Share of requests repeated verbatim by a dashboard. */
  repeatShare: number;
  /** Requests per second to aim for. */
  rate: number;
  /** Most requests in flight. */
  concurrency: number;
  /** Phase label recorded with each outcome. */
  phase: string;
  /** Seed of the noise and the repeats. */
  seed: number;
  /** Called after each day's requests are launched, with the day's index. */
  onDay?: (index: number) => void;
  /** Called with each outcome. */
  onOutcome: (outcome: RequestOutcome) => void;
}

/** A station's reading of a day: the day's values with a little sensor noise (precipitation 0 stays 0). */
export function stationReading(day: WeatherDay, random: () => number): number[] {
  const noise = (scale: number) => (random() * 2 - 1) * scale;
  return FEATURES.map((feature) => {
    const value = day[feature];
    if (feature === 'precipitation') return value === 0 ? 0 : Math.max(0, Number((value + noise(0.2)).toFixed(1)));
    if (feature === 'wind') return Math.max(0, Number((value + noise(0.2)).toFixed(1)));
    return Number((value + noise(0.3)).toFixed(1));
  });
}

/** Sends one Open Inference Protocol v2 request for one reading. */
async function send(
  url: string,
  apiKey: string,
  reading: readonly number[],
  id: string,
  station: number,
): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${url}/v2/models/weather/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': apiKey, 'x-station': String(station) },
    body: JSON.stringify({ id, inputs: [{ name: 'features', shape: [1, reading.length], datatype: 'FP32', data: reading }] }),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: response.status, body };
}

/** Replays the days; resolves when every request has settled. */
export async function replay(options: ReplayOptions): Promise<void> {
  const random = seededRandom(options.seed);
  const inFlight = new Set<Promise<void>>();
  const started = performance.now();
  let sent = 0;
  const launch = (reading: readonly number[], id: string, station: number) => {
    const t0 = performance.now();
    const task = send(options.url, options.apiKey, reading, id, station).then(
      ({ status, body }) => {
        const outcome: RequestOutcome = { status, latencyMs: performance.now() - t0, phase: options.phase };
        if (status === 200) {
          const data = (body as { outputs?: { data?: number[] }[] }).outputs?.[0]?.data ?? [];
          let best = 0;
          for (let i = 1; i < data.length; i++) if ((data[i] as number) > (data[best] as number)) best = i;
          outcome.predicted = best;
        } else {
          outcome.code = (body as { error?: { code?: string } }).error?.code ?? 'HTTP';
        }
        options.onOutcome(outcome);
      },
      (error: unknown) => {
        options.onOutcome({ status: 0, latencyMs: performance.now() - t0, code: (error as Error).name, phase: options.phase });
      },
    );
    const tracked = task.finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
  };
  let previous: number[] | undefined;
  for (const [index, day] of options.days.entries()) {
    for (let s = 0; s < options.stations; s++) {
      // Station 0 is the drift monitor's: its readings are never repeats.
      const repeat = s !== 0 && previous !== undefined && random() < options.repeatShare;
      const reading = repeat ? (previous as number[]) : stationReading(day, random);
      previous = reading;
      // Pace: request n goes out no earlier than n / rate seconds after the start.
      const due = started + (sent / options.rate) * 1000;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
      while (inFlight.size >= options.concurrency) await Promise.race(inFlight);
      launch(reading, `${options.phase}-${day.date}-${s}`, s);
      sent++;
    }
    options.onDay?.(index);
  }
  await Promise.all(inFlight);
}
