import {UsageError} from '../errors.js'

const UNITS: Record<string, number> = {s: 1, m: 60, h: 3600, d: 86_400, w: 604_800}

/** "90s", "10m", "1h", "7d", "2w" → seconds. */
export function parseDurationSeconds(text: string, what = 'duration'): number {
  const m = /^(\d+(?:\.\d+)?)\s*(s|m|h|d|w)$/.exec(text.trim())
  if (!m) throw new UsageError(`${what} "${text}" is not a duration such as 30s, 10m, 1h, 7d`)
  return Math.round(Number(m[1]) * UNITS[m[2]])
}
