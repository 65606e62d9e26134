import {EC2Client, ModifyInstanceAttributeCommand, StartInstancesCommand, StopInstancesCommand} from '@aws-sdk/client-ec2'
import {z} from 'zod'

import type {PlanLine, ReadinessCheck, StepContext, StepDefinition} from '../step-types.js'
import {StepFailedError, duration, errText, isRef, regionParam, resolveRegion, stringList} from './common.js'
import {describeInstances, waitInstances} from './ec2-launch.js'

export const ec2ResizeParams = z
  .object({
    /** One id, a list, or a `${steps.app.instanceIds}` reference. */
    instanceIds: stringList,
    instanceType: z.string().min(1),
    region: regionParam,
    pollInterval: duration.default(5_000),
    /** Limit of each wait (stopped, running). */
    maxWait: duration.default(10 * 60_000),
  })
  .strict()
export type Ec2ResizeParams = z.output<typeof ec2ResizeParams>

/**
 * Gives one instance a type: stop → wait stopped → ModifyInstanceAttribute → start (only when it was running)
 * → wait running. Safe to run again after a crash at any point (it looks at the type and state first).
 */
export async function setInstanceType(
  ctx: StepContext,
  ec2: EC2Client,
  region: string,
  id: string,
  type: string,
  o: {pollInterval: number; maxWait: number; startAfter: boolean},
): Promise<void> {
  const [inst] = await describeInstances(ec2, [id])
  if (!inst) throw new StepFailedError(`instance ${id} not found in ${region}`)
  const state = inst.State?.Name
  if (state === 'terminated' || state === 'shutting-down') throw new StepFailedError(`instance ${id} is ${state}; cannot change its type`)
  const wait = (waitFor: 'stopped' | 'running') => waitInstances(ctx, ec2, region, [id], {waitFor, pollInterval: o.pollInterval, maxWait: o.maxWait})
  if (inst.InstanceType !== type) {
    if (state !== 'stopped') {
      ctx.log.info(`stopping ${id} (${inst.InstanceType} → ${type})`)
      await ec2.send(new StopInstancesCommand({InstanceIds: [id]}))
      await wait('stopped')
    }
    await ec2.send(new ModifyInstanceAttributeCommand({InstanceId: id, InstanceType: {Value: type}}))
  }
  if (o.startAfter) {
    const [now] = await describeInstances(ec2, [id])
    if (now?.State?.Name !== 'running') {
      if (now?.State?.Name === 'stopped') await ec2.send(new StartInstancesCommand({InstanceIds: [id]}))
      await wait('running')
    }
  }
}

async function resizeAll(ctx: StepContext, p: Ec2ResizeParams, types: Record<string, string>, running: Record<string, boolean>): Promise<void> {
  const region = resolveRegion(ctx, p.region, 'dr')
  const ec2 = ctx.client(EC2Client, region)
  for (const id of Object.keys(types)) {
    await setInstanceType(ctx, ec2, region, id, types[id], {pollInterval: p.pollInterval, maxWait: p.maxWait, startAfter: running[id] ?? true})
  }
}

export const ec2Resize: StepDefinition<Ec2ResizeParams> = {
  type: 'ec2.resize',
  params: ec2ResizeParams,

  async run(p, ctx) {
    const region = resolveRegion(ctx, p.region, 'dr')
    const ec2 = ctx.client(EC2Client, region)
    // The types and states before the step, kept in the journal: rollback and resume use these.
    let previous = ctx.state.previousTypes as Record<string, string> | undefined
    let wasRunning = ctx.state.wasRunning as Record<string, boolean> | undefined
    if (!previous || !wasRunning) {
      const list = await describeInstances(ec2, p.instanceIds)
      previous = Object.fromEntries(list.map((i) => [i.InstanceId!, i.InstanceType ?? '']))
      wasRunning = Object.fromEntries(list.map((i) => [i.InstanceId!, i.State?.Name === 'running' || i.State?.Name === 'pending']))
      const missing = p.instanceIds.filter((id) => !(id in previous!))
      if (missing.length) throw new StepFailedError(`instances not found in ${region}: ${missing.join(', ')}`)
      await ctx.saveState({previousTypes: previous, wasRunning, region})
    }
    await resizeAll(ctx, p, Object.fromEntries(p.instanceIds.map((id) => [id, p.instanceType])), wasRunning)
    return {outputs: {instanceIds: p.instanceIds, instanceType: p.instanceType, previousTypes: previous}}
  },

  async rollback(p, result, ctx) {
    const previous = (result.outputs.previousTypes ?? ctx.state.previousTypes) as Record<string, string> | undefined
    if (!previous) return
    await resizeAll(ctx, p, previous, (ctx.state.wasRunning as Record<string, boolean> | undefined) ?? {})
  },

  async plan(p, ctx): Promise<PlanLine> {
    const region = resolveRegion(ctx, p.region, 'dr')
    const details: Record<string, unknown> = {region, instanceType: p.instanceType}
    if (!p.instanceIds.some(isRef)) {
      try {
        const list = await describeInstances(ctx.client(EC2Client, region), p.instanceIds)
        details.current = Object.fromEntries(list.map((i) => [i.InstanceId, `${i.InstanceType} (${i.State?.Name})`]))
        if (list.every((i) => i.InstanceType === p.instanceType)) {
          return {action: 'none', summary: `${p.instanceIds.join(', ')} already ${p.instanceType}`, details}
        }
      } catch (error) {
        details.problem = errText(error)
      }
    }
    return {action: 'change', summary: `resize ${p.instanceIds.join(', ')} in ${region} to ${p.instanceType} (stop → modify → start; each instance is down meanwhile)`, details}
  },

  async readiness(p, ctx): Promise<ReadinessCheck[]> {
    if (p.instanceIds.some(isRef)) return []
    const region = resolveRegion(ctx, p.region, 'dr')
    const name = `instances ${p.instanceIds.join(', ')} in ${region}`
    try {
      const list = await describeInstances(ctx.client(EC2Client, region), p.instanceIds)
      const bad = list.filter((i) => i.State?.Name === 'terminated' || i.State?.Name === 'shutting-down')
      return [{name, ok: bad.length === 0, detail: bad.length ? `terminated: ${bad.map((i) => i.InstanceId).join(', ')}` : list.map((i) => `${i.InstanceId} ${i.InstanceType} ${i.State?.Name}`).join(', ')}]
    } catch (error) {
      return [{name, ok: false, detail: errText(error)}]
    }
  },
}
