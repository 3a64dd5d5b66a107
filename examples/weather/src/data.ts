/**
 * The Seattle weather data set shipped by the `vega-datasets` npm package: 1,461 days
 * (2012–2015) with precipitation (mm), daily max/min temperature (°C), wind (m/s) and a weather
 * label. Read from the installed package; nothing is downloaded.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** One day of weather. */
export interface WeatherDay {
  date: string;
  precipitation: number;
  temp_max: number;
  temp_min: number;
  wind: number;
  weather: string;
}

/** The model's input features, in order. */
export const FEATURES = ['precipitation', 'temp_max', 'temp_min', 'wind'] as const;
/** A feature name. */
export type Feature = (typeof FEATURES)[number];

/** The weather labels, in the model's output order. */
export const CLASSES = ['drizzle', 'fog', 'rain', 'snow', 'sun'] as const;

/** Path of seattle-weather.csv inside the installed vega-datasets package. */
export function datasetPath(): string {
  const require = createRequire(import.meta.url);
  const entry = require.resolve('vega-datasets');
  return join(dirname(entry), '..', 'data', 'seattle-weather.csv');
}

/** Parses the CSV into days, checking every field. */
export function loadWeather(path = datasetPath()): WeatherDay[] {
  const [header, ...lines] = readFileSync(path, 'utf8').trim().split(/\r?\n/);
  if (header !== 'date,precipitation,temp_max,temp_min,wind,weather') throw new Error(`unexpected header in ${path}: ${header}`);
  return lines.map((line, index) => {
    const [date, precipitation, tempMax, tempMin, wind, weather] = line.split(',');
    const day: WeatherDay = {
      date: date as string,
      precipitation: Number(precipitation),
      temp_max: Number(tempMax),
      temp_min: Number(tempMin),
      wind: Number(wind),
      weather: weather as string,
    };
    if (
      !/^\d{4}-\d{2}-\d{2}$/.test(day.date) ||
      FEATURES.some((f) => !Number.isFinite(day[f])) ||
      !CLASSES.includes(day.weather as never)
    ) {
      throw new Error(`bad row ${index + 2} in ${path}: ${line}`);
    }
    return day;
  });
}

/** The feature vector of a day, in {@link FEATURES} order. */
export function featuresOf(day: WeatherDay): number[] {
  return FEATURES.map((f) => day[f]);
}

/** Days whose year is in `years`. */
export function byYears(days: readonly WeatherDay[], ...years: number[]): WeatherDay[] {
  return days.filter((d) => years.includes(Number(d.date.slice(0, 4))));
}
