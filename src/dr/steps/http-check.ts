import {z} from 'zod'

import type {PlanLine, ReadinessCheck, StepContext, StepDefinition} from '../step-types.js'
import {StepFailedError, checkAborted, duration, errText, formatMs} from './common.js'

export const httpCheckParams = z
  .object({
    url: z.string().min(1),
    method: z.enum(['GET', 'HEAD', 'POST']).default('GET'),
    headers: z.record(z.string(), z.string()).optional(),
    /** One status or a list of accepted statuses. */
    expectStatus: z.union([z.number().int(), z.array(z.number().int()).min(1)]).default(200),
    /** A substring the body must contain. */
    expectBody: z.string().optional(),
    /** A regular expression (JavaScript syntax) the body must match. */
    expectBodyRegex: z.string().optional(),
    /** Tries after the first one fails (retries: 10 → up to 11 tries). */
    retries: z.number().int().min(0).max(1000).default(3),
    /** Pause between tries. */
    interval: duration.default(5_000),
    /** Limit of one try (connect + response + body). */
    timeout: duration.default(10_000),
  })
  .strict()
  .superRefine((p, zctx) => {
    if (p.expectBodyRegex !== undefined) {
      try {
        new RegExp(p.expectBodyRegex)
      } catch (error) {
        zctx.addIssue({code: 'custom', path: ['expectBodyRegex'], message: `not a valid regular expression: ${errText(error)}`})
      }
    }
  })
export type HttpCheckParams = z.output<typeof httpCheckParams>

export interface HttpTry {
  ok: boolean
  status?: number
  detail: string
}

/** One request against the expectations. Never throws for network errors: they are a failed try. */
export async function httpTry(p: HttpCheckParams, ctx: StepContext): Promise<HttpTry> {
  const timeout = AbortSignal.timeout(p.timeout)
  const signal = AbortSignal.any([timeout, ctx.signal])
  let res: Response
  let body = ''
  try {
    res = await fetch(p.url, {method: p.method, headers: p.headers, signal, redirect: 'follow'})
    if (p.method !== 'HEAD') body = await res.text()
  } catch (error) {
    if (timeout.aborted) return {ok: false, detail: `no answer within ${formatMs(p.timeout)}`}
    // fetch wraps network errors: "fetch failed" with the socket error as cause.
    const cause = (error as {cause?: {code?: string; message?: string}}).cause
    return {ok: false, detail: cause?.message ?? errText(error)}
  }
  const accepted = Array.isArray(p.expectStatus) ? p.expectStatus : [p.expectStatus]
  if (!accepted.includes(res.status)) return {ok: false, status: res.status, detail: `status ${res.status}, expected ${accepted.join(' or ')}`}
  if (p.expectBody !== undefined && !body.includes(p.expectBody)) {
    return {ok: false, status: res.status, detail: `status ${res.status} but the body does not contain ${JSON.stringify(p.expectBody)}`}
  }
  if (p.expectBodyRegex !== undefined && !new RegExp(p.expectBodyRegex).test(body)) {
    return {ok: false, status: res.status, detail: `status ${res.status} but the body does not match /${p.expectBodyRegex}/`}
  }
  return {ok: true, status: res.status, detail: `status ${res.status}`}
}

/** Tries until one passes (→ passedAt) or the retries are spent (→ StepFailedError with the last reason). */
export async function httpCheck(p: HttpCheckParams, ctx: StepContext): Promise<{status: number; passedAt: string; tries: number}> {
  let last: HttpTry | undefined
  for (let n = 1; n <= p.retries + 1; n++) {
    checkAborted(ctx, `http check of ${p.url}`)
    last = await httpTry(p, ctx)
    if (last.ok) return {status: last.status!, passedAt: ctx.now().toISOString(), tries: n}
    ctx.log.progress(`${p.url}: try ${n}/${p.retries + 1}: ${last.detail}`)
    if (n <= p.retries) await ctx.sleep(p.interval)
  }
  throw new StepFailedError(`${p.url} failed ${p.retries + 1} ${p.retries === 0 ? 'try' : 'tries'}; last: ${last?.detail}`, {
    code: 'DR_CHECK_FAILED',
    details: {url: p.url, status: last?.status},
    hint: 'check the service in the DR region (security groups, instance health, DNS); resume the run once it answers',
  })
}

export const httpCheckStep: StepDefinition<HttpCheckParams> = {
  type: 'http.check',
  params: httpCheckParams,

  async run(p, ctx) {
    const r = await httpCheck(p, ctx)
    ctx.log.info(`${p.url}: ${r.status} after ${r.tries} ${r.tries === 1 ? 'try' : 'tries'}`)
    return {outputs: {status: r.status, passedAt: r.passedAt, tries: r.tries}}
  },

  async plan(p): Promise<PlanLine> {
    const statuses = Array.isArray(p.expectStatus) ? p.expectStatus.join('/') : p.expectStatus
    return {
      action: 'check',
      summary: `${p.method} ${p.url} until it answers ${statuses}${p.expectBody === undefined ? '' : ` containing ${JSON.stringify(p.expectBody)}`} (${p.retries + 1} tries, every ${formatMs(p.interval)})`,
      details: {url: p.url},
    }
  },

  async readiness(p): Promise<ReadinessCheck[]> {
    let detail = 'valid URL'
    let ok = true
    try {
      const u = new URL(p.url)
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`unsupported protocol ${u.protocol}`)
    } catch (error) {
      ok = false
      detail = errText(error)
    }
    return [{name: `http check URL ${p.url}`, ok, detail}]
  },
}
