import {GetHealthCheckCommand, GetHealthCheckStatusCommand, Route53Client} from '@aws-sdk/client-route-53'
import {z} from 'zod'

import type {PlanLine, ReadinessCheck, StepContext, StepDefinition} from '../step-types.js'
import {THROTTLE_ERRORS, duration, errText, formatMs, isAwsError, pollUntil, withBackoff} from './common.js'

export const route53HealthParams = z
  .object({
    healthCheckId: z.string().min(1),
    /** How many of the reporting checkers must say Success (default: more than half of them). */
    minHealthy: z.number().int().min(1).optional(),
    interval: duration.default(10_000),
    maxWait: duration.default(5 * 60_000),
  })
  .strict()
export type Route53HealthParams = z.output<typeof route53HealthParams>

/** Route 53 is global: the client's region only picks the partition, so the DR region's is used. */
export function route53(ctx: StepContext): Route53Client {
  return ctx.client(Route53Client, ctx.regions.dr)
}

export interface HealthLook {
  healthy: number
  total: number
  sample?: string
}

export async function lookHealth(ctx: StepContext, healthCheckId: string): Promise<HealthLook> {
  const r = await withBackoff(ctx, () => route53(ctx).send(new GetHealthCheckStatusCommand({HealthCheckId: healthCheckId})), {retryOn: THROTTLE_ERRORS})
  const obs = r.HealthCheckObservations ?? []
  const healthy = obs.filter((o) => o.StatusReport?.Status?.startsWith('Success')).length
  const failing = obs.find((o) => !o.StatusReport?.Status?.startsWith('Success'))
  return {healthy, total: obs.length, sample: failing?.StatusReport?.Status}
}

/** Waits until at least minHealthy (default: a majority) of Route 53's checkers report the endpoint healthy. */
export async function waitHealthy(p: Route53HealthParams, ctx: StepContext): Promise<{healthyAt: string; healthy: number; total: number}> {
  let need = 0
  return pollUntil(ctx, {
    what: `health check ${p.healthCheckId} to be healthy`,
    intervalMs: p.interval,
    timeoutMs: p.maxWait,
    hint: `see the health check in the Route 53 console; raise maxWait (now ${formatMs(p.maxWait)})`,
    check: async () => {
      const h = await lookHealth(ctx, p.healthCheckId)
      need = p.minHealthy ?? Math.floor(h.total / 2) + 1
      const done = h.total > 0 && h.healthy >= need
      return {
        done,
        value: {healthyAt: ctx.now().toISOString(), healthy: h.healthy, total: h.total},
        progress: `${h.healthy}/${h.total} checkers healthy, need ${need}${h.sample ? `; e.g. "${h.sample}"` : ''}`,
      }
    },
  })
}

export const route53Health: StepDefinition<Route53HealthParams> = {
  type: 'route53.health',
  params: route53HealthParams,

  async run(p, ctx) {
    const r = await waitHealthy(p, ctx)
    ctx.log.info(`health check ${p.healthCheckId}: ${r.healthy}/${r.total} checkers healthy`)
    return {outputs: r}
  },

  async plan(p, ctx): Promise<PlanLine> {
    const details: Record<string, unknown> = {healthCheckId: p.healthCheckId}
    try {
      const h = await lookHealth(ctx, p.healthCheckId)
      details.now = `${h.healthy}/${h.total} healthy`
    } catch (error) {
      details.problem = errText(error)
    }
    return {action: 'wait', summary: `wait up to ${formatMs(p.maxWait)} for Route 53 health check ${p.healthCheckId} to be healthy`, details}
  },

  async readiness(p, ctx): Promise<ReadinessCheck[]> {
    const name = `health check ${p.healthCheckId}`
    try {
      const hc = await route53(ctx).send(new GetHealthCheckCommand({HealthCheckId: p.healthCheckId}))
      const cfg = hc.HealthCheck?.HealthCheckConfig
      return [{name, ok: true, detail: `exists (${cfg?.Type}${cfg?.FullyQualifiedDomainName ? ` ${cfg.FullyQualifiedDomainName}` : ''})`}]
    } catch (error) {
      return [{name, ok: false, detail: isAwsError(error, 'NoSuchHealthCheck') ? 'does not exist' : errText(error)}]
    }
  },
}
