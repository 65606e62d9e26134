import {
  DescribeImagesCommand,
  DescribeInstanceStatusCommand,
  DescribeInstancesCommand,
  DescribeLaunchTemplatesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  EC2Client,
  type Instance,
  RunInstancesCommand,
  type RunInstancesCommandInput,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2'
import {z} from 'zod'

import type {CreatedResource, PlanLine, ReadinessCheck, StepContext, StepDefinition} from '../step-types.js'
import {StepFailedError, duration, errText, formatMs, isAwsError, isRef, pollUntil, regionParam, resolveRegion, stringList, tagList} from './common.js'

export const launchTemplateParam = z
  .object({id: z.string().optional(), name: z.string().optional(), version: z.union([z.string(), z.number()]).optional()})
  .strict()
  .refine((t) => Boolean(t.id) !== Boolean(t.name), {message: 'launchTemplate needs exactly one of id or name'})

export const launchSource = {
  imageId: z.string().min(1).optional(),
  launchTemplate: launchTemplateParam.optional(),
  instanceType: z.string().optional(),
  subnetId: z.string().optional(),
  securityGroupIds: stringList.optional(),
  keyName: z.string().optional(),
  /** Tags for the instances (and their volumes), on top of the run's lifeboat:* tags. */
  tags: z.record(z.string(), z.string()).optional(),
  /** Plain-text user data; base64-encoded for the API. */
  userData: z.string().optional(),
  iamInstanceProfile: z.string().optional(),
}

export const ec2LaunchParams = z
  .object({
    ...launchSource,
    count: z.number().int().min(1).max(100).default(1),
    region: regionParam,
    /** What to wait for: 'running' (default), 'status-ok' (both status checks passed) or 'none'. */
    waitFor: z.enum(['running', 'status-ok', 'none']).default('running'),
    pollInterval: duration.default(5_000),
    maxWait: duration.default(15 * 60_000),
    /** readiness: fail when the AMI is older than this (e.g. 7d for a nightly AMI pipeline). */
    maxImageAge: duration.optional(),
  })
  .strict()
  .refine((p) => p.imageId !== undefined || p.launchTemplate !== undefined, {message: 'ec2.launch needs imageId or launchTemplate'})
export type Ec2LaunchParams = z.output<typeof ec2LaunchParams>
export type LaunchSource = Pick<Ec2LaunchParams, keyof typeof launchSource>

/** The RunInstances input for a launch source (shared with ec2.scale). */
export function runInstancesInput(p: LaunchSource, count: number, ctx: StepContext, clientToken: string): RunInstancesCommandInput {
  const tags = tagList(p.tags, ctx.tags())
  const input: RunInstancesCommandInput = {
    MinCount: count,
    MaxCount: count,
    ImageId: p.imageId,
    InstanceType: p.instanceType as RunInstancesCommandInput['InstanceType'],
    SubnetId: p.subnetId,
    SecurityGroupIds: p.securityGroupIds,
    KeyName: p.keyName,
    ClientToken: clientToken,
    TagSpecifications: [
      {ResourceType: 'instance', Tags: tags},
      {ResourceType: 'volume', Tags: tags},
    ],
  }
  if (p.userData !== undefined) input.UserData = Buffer.from(p.userData, 'utf8').toString('base64')
  if (p.iamInstanceProfile) {
    input.IamInstanceProfile = p.iamInstanceProfile.startsWith('arn:') ? {Arn: p.iamInstanceProfile} : {Name: p.iamInstanceProfile}
  }
  if (p.launchTemplate) {
    input.LaunchTemplate = {
      LaunchTemplateId: p.launchTemplate.id,
      LaunchTemplateName: p.launchTemplate.name,
      Version: p.launchTemplate.version === undefined ? undefined : String(p.launchTemplate.version),
    }
  }
  return input
}

export async function describeInstances(ec2: EC2Client, ids: string[]): Promise<Instance[]> {
  const out: Instance[] = []
  let NextToken: string | undefined
  do {
    const r = await ec2.send(new DescribeInstancesCommand({InstanceIds: ids, NextToken}))
    for (const res of r.Reservations ?? []) out.push(...(res.Instances ?? []))
    NextToken = r.NextToken
  } while (NextToken)
  return out
}

export interface WaitInstancesOptions {
  waitFor: 'running' | 'status-ok' | 'stopped' | 'terminated'
  pollInterval: number
  maxWait: number
}

/** Waits for all instances to reach a state; fails at once when one goes the wrong way (e.g. terminated while launching). */
export async function waitInstances(ctx: StepContext, ec2: EC2Client, region: string, ids: string[], o: WaitInstancesOptions): Promise<Instance[]> {
  if (ids.length === 0) return []
  const target = o.waitFor === 'status-ok' ? 'running' : o.waitFor
  let notFoundLooks = 0
  const instances = await pollUntil<Instance[]>(ctx, {
    what: `${ids.length === 1 ? ids[0] : `${ids.length} instances`} in ${region} to be ${target}`,
    intervalMs: o.pollInterval,
    timeoutMs: o.maxWait,
    hint: `raise maxWait (now ${formatMs(o.maxWait)}) or look at the instances in the EC2 console (${region})`,
    check: async () => {
      let list: Instance[]
      try {
        list = await describeInstances(ec2, ids)
      } catch (error) {
        // New instance ids may not be visible at once (eventual consistency).
        if (isAwsError(error, 'InvalidInstanceID.NotFound') && ++notFoundLooks <= 5) return {done: false, progress: 'instances not visible yet'}
        throw error
      }
      if (target !== 'terminated') {
        const gone = list.filter((i) => i.State?.Name === 'terminated' || i.State?.Name === 'shutting-down')
        if (gone.length > 0) {
          const why = gone.map((i) => `${i.InstanceId}: ${i.StateReason?.Message ?? i.State?.Name}`).join('; ')
          throw new StepFailedError(`instances ended while waiting for ${target}: ${why}`, {code: 'DR_INSTANCES_ENDED', details: {instances: gone.map((i) => i.InstanceId)}})
        }
      }
      const states = list.map((i) => `${i.InstanceId}=${i.State?.Name}`).join(', ')
      const all = list.length >= ids.length && list.every((i) => i.State?.Name === target)
      return {done: all, value: list, progress: states}
    },
  })
  if (o.waitFor !== 'status-ok') return instances
  await pollUntil(ctx, {
    what: `status checks of ${ids.join(', ')} in ${region} to pass`,
    intervalMs: o.pollInterval,
    timeoutMs: o.maxWait,
    check: async () => {
      const r = await ec2.send(new DescribeInstanceStatusCommand({InstanceIds: ids, IncludeAllInstances: true}))
      const st = r.InstanceStatuses ?? []
      const ok = st.length >= ids.length && st.every((s) => s.InstanceStatus?.Status === 'ok' && s.SystemStatus?.Status === 'ok')
      const progress = st.map((s) => `${s.InstanceId}: instance ${s.InstanceStatus?.Status}, system ${s.SystemStatus?.Status}`).join('; ')
      return {done: ok, value: undefined, progress}
    },
  })
  return instances
}

export async function terminateInstances(ec2: EC2Client, ids: string[]): Promise<void> {
  if (ids.length === 0) return
  try {
    await ec2.send(new TerminateInstancesCommand({InstanceIds: ids}))
  } catch (error) {
    if (!isAwsError(error, 'InvalidInstanceID.NotFound')) throw error
    // One unknown id fails the whole call: terminate the rest one by one.
    for (const id of ids) {
      try {
        await ec2.send(new TerminateInstancesCommand({InstanceIds: [id]}))
      } catch (error_) {
        if (!isAwsError(error_, 'InvalidInstanceID.NotFound')) throw error_
      }
    }
  }
}

export function instanceOutputs(instances: Instance[], order: string[]): Record<string, unknown> {
  const byId = new Map(instances.map((i) => [i.InstanceId, i]))
  const sorted = order.map((id) => byId.get(id)).filter((i): i is Instance => i !== undefined)
  return {
    instanceIds: order,
    instanceId: order[0],
    privateIps: sorted.map((i) => i.PrivateIpAddress ?? null),
    publicIps: sorted.map((i) => i.PublicIpAddress ?? null),
  }
}

/** Readiness of a launch source in its region: AMI (present, available, recent), template, subnet, security groups. */
export async function launchSourceChecks(p: LaunchSource & {maxImageAge?: number}, ctx: StepContext, region: string): Promise<ReadinessCheck[]> {
  const ec2 = ctx.client(EC2Client, region)
  const checks: ReadinessCheck[] = []
  const guard = async (name: string, fn: () => Promise<ReadinessCheck[]>) => {
    try {
      checks.push(...(await fn()))
    } catch (error) {
      const missing = isAwsError(error, 'InvalidAMIID.NotFound', 'InvalidAMIID.Malformed', 'InvalidSubnetID.NotFound', 'InvalidGroup.NotFound', 'InvalidLaunchTemplateId.NotFound', 'InvalidLaunchTemplateName.NotFoundException', 'InvalidLaunchTemplateId.Malformed')
      checks.push({name, ok: false, detail: missing ? `not found in ${region}` : errText(error)})
    }
  }
  if (p.imageId !== undefined) {
    const name = `AMI ${p.imageId} in ${region}`
    if (isRef(p.imageId)) checks.push({name, ok: true, detail: 'comes from an earlier step'})
    else {
      await guard(name, async () => {
        const img = (await ec2.send(new DescribeImagesCommand({ImageIds: [p.imageId!]}))).Images?.[0]
        if (!img) return [{name, ok: false, detail: `not found in ${region}`}]
        const out: ReadinessCheck[] = [{name, ok: img.State === 'available', detail: `state ${img.State}, created ${img.CreationDate}`}]
        if (p.maxImageAge !== undefined && img.CreationDate) {
          const age = ctx.now().getTime() - Date.parse(img.CreationDate)
          out.push({name: `AMI ${p.imageId} age`, ok: age <= p.maxImageAge, detail: `${formatMs(age)} old, limit ${formatMs(p.maxImageAge)}`})
        }
        return out
      })
    }
  }
  if (p.launchTemplate) {
    const lt = p.launchTemplate
    const name = `launch template ${lt.id ?? lt.name} in ${region}`
    await guard(name, async () => {
      const r = await ec2.send(new DescribeLaunchTemplatesCommand(lt.id ? {LaunchTemplateIds: [lt.id]} : {LaunchTemplateNames: [lt.name!]}))
      const t = r.LaunchTemplates?.[0]
      return [{name, ok: Boolean(t), detail: t ? `default version ${t.DefaultVersionNumber}, latest ${t.LatestVersionNumber}` : 'not found'}]
    })
  }
  if (p.subnetId && !isRef(p.subnetId)) {
    const name = `subnet ${p.subnetId} in ${region}`
    await guard(name, async () => {
      const s = (await ec2.send(new DescribeSubnetsCommand({SubnetIds: [p.subnetId!]}))).Subnets?.[0]
      return [{name, ok: Boolean(s), detail: s ? `${s.AvailabilityZone}, ${s.AvailableIpAddressCount} free addresses` : 'not found'}]
    })
  }
  const groups = (p.securityGroupIds ?? []).filter((g) => !isRef(g))
  if (groups.length > 0) {
    const name = `security groups ${groups.join(', ')} in ${region}`
    await guard(name, async () => {
      const r = await ec2.send(new DescribeSecurityGroupsCommand({GroupIds: groups}))
      const found = new Set((r.SecurityGroups ?? []).map((g) => g.GroupId))
      const missing = groups.filter((g) => !found.has(g))
      return [{name, ok: missing.length === 0, detail: missing.length ? `missing: ${missing.join(', ')}` : 'all present'}]
    })
  }
  return checks
}

export function describeSource(p: LaunchSource): string {
  const from = p.launchTemplate
    ? `launch template ${p.launchTemplate.id ?? p.launchTemplate.name}${p.launchTemplate.version === undefined ? '' : ` v${p.launchTemplate.version}`}`
    : `${p.imageId}`
  return `${p.instanceType ?? '(template type)'} from ${from}${p.subnetId ? ` in ${p.subnetId}` : ''}`
}

export const ec2Launch: StepDefinition<Ec2LaunchParams> = {
  type: 'ec2.launch',
  params: ec2LaunchParams,

  async run(p, ctx) {
    const region = resolveRegion(ctx, p.region, 'dr')
    const ec2 = ctx.client(EC2Client, region)
    // The same ClientToken on a relaunch (resume after a crash) returns the same reservation, not new instances.
    // Only after the instances ended (e.g. no capacity) does a retry get a new token.
    const attempt = typeof ctx.state.launchAttempt === 'number' ? ctx.state.launchAttempt : 0
    const token = attempt === 0 ? ctx.token() : ctx.token(`launch-${attempt}`)
    const r = await ec2.send(new RunInstancesCommand(runInstancesInput(p, p.count, ctx, token)))
    const ids = (r.Instances ?? []).map((i) => i.InstanceId).filter((id): id is string => Boolean(id))
    if (ids.length === 0) throw new StepFailedError(`RunInstances in ${region} returned no instances`)
    const known = new Set(Array.isArray(ctx.state.instanceIds) ? (ctx.state.instanceIds as string[]) : [])
    for (const id of ids) if (!known.has(id)) await ctx.recordResource({kind: 'ec2:instance', id, region})
    await ctx.saveState({instanceIds: ids, region})
    ctx.log.info(`launched ${ids.join(', ')} in ${region}`)
    let instances = r.Instances ?? []
    if (p.waitFor !== 'none') {
      try {
        instances = await waitInstances(ctx, ec2, region, ids, {...p, waitFor: p.waitFor})
      } catch (error) {
        if ((error as {code?: string}).code === 'DR_INSTANCES_ENDED') {
          await terminateInstances(ec2, ids).catch(() => undefined)
          await ctx.saveState({launchAttempt: attempt + 1, instanceIds: []})
        }
        throw error
      }
    }
    return {outputs: {...instanceOutputs(instances, ids), region}}
  },

  async rollback(_p, result, ctx) {
    const ids = (result.outputs.instanceIds as string[] | undefined) ?? []
    const region = typeof result.outputs.region === 'string' ? result.outputs.region : ctx.regions.dr
    await terminateInstances(ctx.client(EC2Client, region), ids)
  },

  async removeResource(resource: CreatedResource, ctx: StepContext) {
    if (resource.kind !== 'ec2:instance') return
    await terminateInstances(ctx.client(EC2Client, resource.region), [resource.id])
  },

  async plan(p, ctx): Promise<PlanLine> {
    const region = resolveRegion(ctx, p.region, 'dr')
    const checks = await launchSourceChecks(p, ctx, region)
    const problems = checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`)
    return {
      action: 'create',
      summary: `launch ${p.count} × ${describeSource(p)} in ${region}, wait ${p.waitFor === 'none' ? 'for nothing' : `until ${p.waitFor}`}`,
      details: {region, count: p.count, imageId: p.imageId, launchTemplate: p.launchTemplate, ...(problems.length ? {problem: problems.join('; ')} : {})},
    }
  },

  async readiness(p, ctx) {
    return launchSourceChecks(p, ctx, resolveRegion(ctx, p.region, 'dr'))
  },
}
