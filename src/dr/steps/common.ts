import {z} from 'zod'

import {LifeboatError} from '../../errors.js'
import {parseDurationMs} from '../schema.js'
import type {StepContext} from '../step-types.js'

/**
 * Shared helpers of the step types: durations, regions, tags, AWS error names, polling with the context's
 * (injectable) clock, and backoff with jitter. Nothing here sleeps for real: every wait goes through
 * ctx.sleep, every clock read through ctx.now, so tests run in fake time.
 */

/** A step failed in a way the user must look at: exit 1, code DR_STEP_FAILED. */
export class StepFailedError extends LifeboatError {
  constructor(message: string, opts: {hint?: string; details?: unknown; cause?: unknown; code?: string} = {}) {
    super(message, {code: opts.code ?? 'DR_STEP_FAILED', hint: opts.hint, details: opts.details, cause: opts.cause})
  }
}

/** A wait ran past its limit. */
export class StepTimeoutError extends StepFailedError {
  constructor(message: string, opts: {hint?: string; details?: unknown} = {}) {
    super(message, {...opts, code: 'DR_STEP_TIMEOUT'})
  }
}

/** "500ms", "30s", "5m", "1h30m", "2d", or a bare number of seconds → milliseconds (schema.ts parseDurationMs); throws when malformed. */
export function parseDuration(value: string | number): number {
  const ms = parseDurationMs(value)
  if (ms === undefined) throw new Error(typeof value === 'number' ? `invalid duration ${value}` : `invalid duration "${value}" (use e.g. 30s, 5m, 1h30m)`)
  return ms
}

/** zod: a duration string or number of seconds, parsed to milliseconds. */
export const duration = z.union([z.string(), z.number()]).transform((v, zctx) => {
  try {
    return parseDuration(v)
  } catch (error) {
    zctx.addIssue({code: 'custom', message: (error as Error).message})
    return z.NEVER
  }
})

export function formatMs(ms: number): string {
  if (ms < 1000) return `${ms}ms`
  const s = Math.round(ms / 1000)
  if (s < 120) return `${s}s`
  const m = Math.round(s / 60)
  if (m < 120) return `${m}m`
  return `${Math.round(m / 6) / 10}h`
}

/** `region`: 'primary' | 'dr' (the playbook's regions; failback swaps them) or a region name. Default dr. */
export const regionParam = z.string().min(1).optional()
export function resolveRegion(ctx: StepContext, region: string | undefined, fallback: 'primary' | 'dr' = 'dr'): string {
  const r = region ?? fallback
  if (r === 'primary') return ctx.regions.primary
  if (r === 'dr') return ctx.regions.dr
  return r
}

/** True when a param still holds an unresolved `${steps.x.y}` reference (dr plan/readiness see raw params). */
export function isRef(value: unknown): boolean {
  return typeof value === 'string' && /\$\{[^}]+\}/.test(value)
}

export function tagList(...maps: Array<Record<string, string> | undefined>): Array<{Key: string; Value: string}> {
  const merged: Record<string, string> = {}
  for (const m of maps) Object.assign(merged, m ?? {})
  return Object.entries(merged).map(([Key, Value]) => ({Key, Value}))
}

export function awsErrorName(err: unknown): string | undefined {
  if (!err || typeof err !== 'object') return undefined
  const e = err as {name?: string; Code?: string; code?: string}
  return e.Code ?? e.name ?? e.code
}

export function isAwsError(err: unknown, ...names: string[]): boolean {
  const n = awsErrorName(err)
  return n !== undefined && names.includes(n)
}

export function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

export function checkAborted(ctx: StepContext, what: string): void {
  if (ctx.signal.aborted) throw new StepFailedError(`${what}: interrupted`, {code: 'DR_STEP_ABORTED'})
}

export interface PollOptions<T> {
  /** What is being waited for, for messages ("image ami-1 to become available"). */
  what: string
  intervalMs: number
  timeoutMs: number
  /** One look: `done` ends the wait with `value`; `progress` is shown as a replaceable line. */
  check: () => Promise<{done: boolean; value?: T; progress?: string}>
  hint?: string
}

/** Polls with ctx.sleep until check() says done, the timeout passes (StepTimeoutError) or the run is aborted. */
export async function pollUntil<T>(ctx: StepContext, opts: PollOptions<T>): Promise<T> {
  const start = ctx.now().getTime()
  let last = ''
  for (;;) {
    checkAborted(ctx, opts.what)
    const r = await opts.check()
    if (r.done) return r.value as T
    if (r.progress) {
      last = r.progress
      ctx.log.progress(r.progress)
    }
    const elapsed = ctx.now().getTime() - start
    if (elapsed + opts.intervalMs > opts.timeoutMs) {
      throw new StepTimeoutError(`timed out after ${formatMs(opts.timeoutMs)} waiting for ${opts.what}${last ? ` (last: ${last})` : ''}`, {
        hint: opts.hint,
      })
    }
    await ctx.sleep(opts.intervalMs)
  }
}

export interface BackoffOptions {
  /** AWS error names that are retried. */
  retryOn: string[]
  maxAttempts?: number
  baseMs?: number
  capMs?: number
  /** Injectable for tests (0..1). */
  random?: () => number
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void
}

/** Retries `fn` on the named errors with exponential backoff and full jitter (delay = rand * min(cap, base*2^n)). */
export async function withBackoff<T>(ctx: StepContext, fn: () => Promise<T>, opts: BackoffOptions): Promise<T> {
  const max = opts.maxAttempts ?? 8
  const base = opts.baseMs ?? 500
  const cap = opts.capMs ?? 20_000
  const random = opts.random ?? Math.random
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn()
    } catch (error) {
      if (!isAwsError(error, ...opts.retryOn) || attempt >= max) throw error
      const delay = Math.max(50, Math.round(random() * Math.min(cap, base * 2 ** (attempt - 1))))
      opts.onRetry?.(error, attempt, delay)
      checkAborted(ctx, 'retry')
      await ctx.sleep(delay)
    }
  }
}

/** Throttling-type errors the SDK's own retries may give up on. */
export const THROTTLE_ERRORS = ['Throttling', 'ThrottlingException', 'RequestLimitExceeded', 'TooManyRequestsException']

/** A `${steps.x.y}` reference or a literal matching the pattern (for ids like ami-..., i-...). */
export function idOrRef(prefix: string) {
  return z.string().refine((s) => isRef(s) || s.startsWith(prefix), {message: `expected a ${prefix}… id or a \${steps.<id>.<output>} reference`})
}

/** A list param that may also be one `${steps.x.y}` reference (resolved to an array at run time). */
export const stringList = z.union([z.array(z.string().min(1)), z.string().min(1)]).transform((v) => (Array.isArray(v) ? v : [v]))
