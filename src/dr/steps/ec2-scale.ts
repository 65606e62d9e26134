import {DescribeInstancesCommand, EC2Client, type Instance, RunInstancesCommand} from '@aws-sdk/client-ec2'
import {z} from 'zod'

import type {CreatedResource, PlanLine, ReadinessCheck, StepContext, StepDefinition} from '../step-types.js'
import {StepFailedError, duration, errText, regionParam, resolveRegion} from './common.js'
import {describeSource, instanceOutputs, launchSource, launchSourceChecks, runInstancesInput, terminateInstances, waitInstances} from './ec2-launch.js'

export const ec2ScaleParams = z
  .object({
    /** The group: instances carrying all these tags (launched ones get them too). */
    selector: z.record(z.string(), z.string()).refine((s) => Object.keys(s).length > 0, {message: 'selector needs at least one tag'}),
    count: z.number().int().min(0).max(500),
    ...launchSource,
    region: regionParam,
    /** Which instances go first when scaling down. */
    terminate: z.enum(['newest', 'oldest']).default('newest'),
    waitFor: z.enum(['running', 'status-ok', 'none']).default('running'),
    pollInterval: duration.default(5_000),
    maxWait: duration.default(15 * 60_000),
  })
  .strict()
export type Ec2ScaleParams = z.output<typeof ec2ScaleParams>

const LIVE = ['pending', 'running']

/** The group's live (pending/running) instances, oldest first. */
export async function groupInstances(ec2: EC2Client, selector: Record<string, string>): Promise<Instance[]> {
  const out: Instance[] = []
  let NextToken: string | undefined
  do {
    const r = await ec2.send(
      new DescribeInstancesCommand({
        Filters: [...Object.entries(selector).map(([k, v]) => ({Name: `tag:${k}`, Values: [v]})), {Name: 'instance-state-name', Values: LIVE}],
        NextToken,
      }),
    )
    for (const res of r.Reservations ?? []) out.push(...(res.Instances ?? []).filter((i) => LIVE.includes(i.State?.Name ?? '')))
    NextToken = r.NextToken
  } while (NextToken)
  return out.sort((a, b) => (a.LaunchTime?.getTime?.() ?? 0) - (b.LaunchTime?.getTime?.() ?? 0) || String(a.InstanceId).localeCompare(String(b.InstanceId)))
}

function hasRunTag(i: Instance, runId: string): boolean {
  return Boolean(i.Tags?.some((t) => t.Key === 'lifeboat:run-id' && t.Value === runId))
}

async function launchMore(ctx: StepContext, p: Ec2ScaleParams, ec2: EC2Client, region: string, n: number, tokenSuffix: string): Promise<string[]> {
  if (!p.imageId && !p.launchTemplate) {
    throw new StepFailedError(`ec2.scale needs imageId or launchTemplate to add ${n} instance(s)`, {code: 'DR_SCALE_NO_SOURCE'})
  }
  const r = await ec2.send(new RunInstancesCommand(runInstancesInput({...p, tags: {...p.tags, ...p.selector}}, n, ctx, ctx.token(tokenSuffix))))
  return (r.Instances ?? []).map((i) => i.InstanceId!).filter(Boolean)
}

/**
 * Scales a tagged group to `count`: launches the missing ones (ClientToken kept in the journal, so a resume
 * gets the same instances) or terminates the extras. In a drill it only terminates instances of this run.
 */
export const ec2Scale: StepDefinition<Ec2ScaleParams> = {
  type: 'ec2.scale',
  params: ec2ScaleParams,

  async run(p, ctx) {
    const region = resolveRegion(ctx, p.region, 'dr')
    const ec2 = ctx.client(EC2Client, region)
    // A launch decided before a crash is replayed with the same token and size, not recomputed.
    let launch = ctx.state.launch as {n: number; suffix: string} | undefined
    let terminated = (ctx.state.terminated as string[] | undefined) ?? []
    let before = ctx.state.previousCount as number | undefined
    if (!launch && !ctx.state.decided) {
      const current = await groupInstances(ec2, p.selector)
      before = current.length
      if (current.length < p.count) launch = {n: p.count - current.length, suffix: `scale-${p.count}`}
      else if (current.length > p.count) {
        let candidates = p.terminate === 'newest' ? [...current].reverse() : current
        if (ctx.mode === 'drill') candidates = candidates.filter((i) => hasRunTag(i, ctx.runId))
        terminated = candidates.slice(0, current.length - p.count).map((i) => i.InstanceId!)
        if (terminated.length < current.length - p.count) {
          ctx.log.info(`drill: only instances launched by this run are terminated; ${current.length - p.count - terminated.length} fewer than asked`)
        }
      }
      await ctx.saveState({decided: true, launch, terminated, previousCount: before, region})
    }
    let launched: string[] = []
    if (launch) {
      launched = await launchMore(ctx, p, ec2, region, launch.n, launch.suffix)
      const known = new Set((ctx.state.launched as string[] | undefined) ?? [])
      for (const id of launched) if (!known.has(id)) await ctx.recordResource({kind: 'ec2:instance', id, region})
      await ctx.saveState({launched})
      ctx.log.info(`launched ${launched.join(', ')}`)
      if (p.waitFor !== 'none') await waitInstances(ctx, ec2, region, launched, {waitFor: p.waitFor, pollInterval: p.pollInterval, maxWait: p.maxWait})
    }
    if (terminated.length > 0) {
      ctx.log.info(`terminating ${terminated.join(', ')}`)
      await terminateInstances(ec2, terminated)
      if (p.waitFor !== 'none') await waitInstances(ctx, ec2, region, terminated, {waitFor: 'terminated', pollInterval: p.pollInterval, maxWait: p.maxWait})
    }
    const now = await groupInstances(ec2, p.selector)
    const live = now.filter((i) => !terminated.includes(i.InstanceId!))
    const out = instanceOutputs(live, live.map((i) => i.InstanceId!))
    return {outputs: {...out, count: live.length, previousCount: before, launched, terminated, region}}
  },

  async rollback(p, result, ctx) {
    const region = resolveRegion(ctx, p.region, 'dr')
    const ec2 = ctx.client(EC2Client, region)
    const launched = (result.outputs.launched as string[] | undefined) ?? []
    await terminateInstances(ec2, launched)
    const terminated = (result.outputs.terminated as string[] | undefined) ?? []
    if (terminated.length > 0) {
      // Terminated instances cannot come back; launch as many again from the same source.
      const ids = await launchMore(ctx, p, ec2, region, terminated.length, 'rollback')
      ctx.log.info(`replaced ${terminated.length} terminated instance(s) with ${ids.join(', ')}`)
    }
  },

  async removeResource(resource: CreatedResource, ctx: StepContext) {
    if (resource.kind === 'ec2:instance') await terminateInstances(ctx.client(EC2Client, resource.region), [resource.id])
  },

  async plan(p, ctx): Promise<PlanLine> {
    const region = resolveRegion(ctx, p.region, 'dr')
    const group = Object.entries(p.selector)
      .map(([k, v]) => `${k}=${v}`)
      .join(',')
    const details: Record<string, unknown> = {region, selector: p.selector, count: p.count}
    try {
      const current = await groupInstances(ctx.client(EC2Client, region), p.selector)
      details.current = current.length
      if (current.length === p.count) return {action: 'none', summary: `group ${group} in ${region} already has ${p.count} instance(s)`, details}
      if (current.length < p.count) {
        return {action: 'create', summary: `scale group ${group} in ${region} from ${current.length} to ${p.count}: launch ${p.count - current.length} × ${describeSource(p)}`, details}
      }
      return {action: 'change', summary: `scale group ${group} in ${region} from ${current.length} to ${p.count}: terminate the ${current.length - p.count} ${p.terminate}`, details}
    } catch (error) {
      details.problem = errText(error)
      return {action: 'change', summary: `scale group ${group} in ${region} to ${p.count}`, details}
    }
  },

  async readiness(p, ctx): Promise<ReadinessCheck[]> {
    if (!p.imageId && !p.launchTemplate) return []
    return launchSourceChecks(p, ctx, resolveRegion(ctx, p.region, 'dr'))
  },
}
