import {createHash} from 'node:crypto'

import {UsageError} from '../errors.js'

const UNIT_SECONDS: Record<string, number> = {s: 1, m: 60, h: 3600, d: 86_400, w: 604_800}

/** "90s", "15m", "1h", "2d", "1w", "1h30m" → seconds. `what` names the flag in the error. */
export function parseDurationSeconds(text: string, what: string): number {
  const s = text.trim()
  const re = /(\d+(?:\.\d+)?)([smhdw])/gy
  let total = 0
  let matched = 0
  let m: RegExpExecArray | null
  while ((m = re.exec(s)) !== null) {
    total += Number(m[1]) * UNIT_SECONDS[m[2]]
    matched = re.lastIndex
  }
  if (s === '' || matched !== s.length) {
    throw new UsageError(`${what}: "${text}" is not a duration`, {hint: 'use a number with a unit: 90s, 15m, 1h, 2d, 1w (or combined, e.g. 1h30m)'})
  }
  return Math.round(total)
}

/** "3h05m", "2d4h", "45s": a short age for humans. */
export function formatAge(seconds: number): string {
  const s = Math.max(0, Math.round(seconds))
  const d = Math.floor(s / 86_400)
  const h = Math.floor((s % 86_400) / 3600)
  const m = Math.floor((s % 3600) / 60)
  if (d > 0) return `${d}d${h}h`
  if (h > 0) return `${h}h${String(m).padStart(2, '0')}m`
  if (m > 0) return `${m}m${String(s % 60).padStart(2, '0')}s`
  return `${s}s`
}

/**
 * A deterministic IdempotencyToken for a Start*Job request: the same request in the same UTC hour gives the
 * same token, so a retried command (network error, ^C and re-run) does not start a second job, while the same
 * command an hour later (cron) does start a new one. An explicit token replaces it.
 */
export function idempotencyToken(kind: string, request: Record<string, unknown>, now: Date, explicit?: string): string {
  if (explicit) return explicit
  const hour = Math.floor(now.getTime() / 3_600_000)
  const h = createHash('sha256').update(stableJson({kind, request, hour})).digest('hex')
  return `lifeboat-${h.slice(0, 40)}`
}

/** JSON with object keys sorted (so equal values serialize equally). */
export function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map((x) => stableJson(x)).join(',')}]`
  if (v instanceof Date) return JSON.stringify(v.toISOString())
  if (v && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${stableJson(x)}`).join(',')}}`
  }
  return JSON.stringify(v)
}

/** `k=v` pairs (the value may contain "="); `what` names the flag. */
export function parseKeyValues(pairs: string[] | undefined, what: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const p of pairs ?? []) {
    const i = p.indexOf('=')
    if (i <= 0) throw new UsageError(`${what}: "${p}" is not KEY=VALUE`)
    out[p.slice(0, i)] = p.slice(i + 1)
  }
  return out
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
