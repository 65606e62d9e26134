import {type Address, AssociateAddressCommand, DescribeAddressesCommand, DisassociateAddressCommand, EC2Client} from '@aws-sdk/client-ec2'
import {z} from 'zod'

import type {CreatedResource, PlanLine, ReadinessCheck, StepContext, StepDefinition} from '../step-types.js'
import {StepFailedError, THROTTLE_ERRORS, errText, isAwsError, isRef, regionParam, resolveRegion, withBackoff} from './common.js'

export const eipAssociateParams = z
  .object({
    allocationId: z.string().min(1),
    instanceId: z.string().min(1).optional(),
    networkInterfaceId: z.string().min(1).optional(),
    privateIpAddress: z.string().optional(),
    /** Move the address even when it is associated elsewhere (default true: that is what a failover does). */
    allowReassociation: z.boolean().default(true),
    /** In a drill, this address is used instead (a production address is never moved in a drill). */
    drillAllocationId: z.string().min(1).optional(),
    region: regionParam,
  })
  .strict()
  .refine((p) => Boolean(p.instanceId) !== Boolean(p.networkInterfaceId), {message: 'eip.associate needs exactly one of instanceId or networkInterfaceId'})
export type EipAssociateParams = z.output<typeof eipAssociateParams>

export interface PreviousAssociation {
  instanceId?: string
  networkInterfaceId?: string
  privateIpAddress?: string
}

async function describeAddress(ec2: EC2Client, allocationId: string, region: string): Promise<Address> {
  try {
    const r = await ec2.send(new DescribeAddressesCommand({AllocationIds: [allocationId]}))
    const a = r.Addresses?.[0]
    if (a) return a
  } catch (error) {
    if (!isAwsError(error, 'InvalidAllocationID.NotFound')) throw error
  }
  throw new StepFailedError(`Elastic IP ${allocationId} is not allocated in ${region}`, {code: 'DR_EIP_NOT_FOUND', hint: 'Elastic IPs are regional: allocate one in the DR region'})
}

/** Puts an address back where it was: re-associate with the previous target, or disassociate. */
async function restoreAssociation(ec2: EC2Client, allocationId: string, associationId: string | undefined, prev: PreviousAssociation | undefined): Promise<void> {
  if (prev && (prev.instanceId || prev.networkInterfaceId)) {
    await ec2.send(
      new AssociateAddressCommand({
        AllocationId: allocationId,
        InstanceId: prev.networkInterfaceId ? undefined : prev.instanceId,
        NetworkInterfaceId: prev.networkInterfaceId,
        PrivateIpAddress: prev.privateIpAddress,
        AllowReassociation: true,
      }),
    )
    return
  }
  if (!associationId) return
  try {
    await ec2.send(new DisassociateAddressCommand({AssociationId: associationId}))
  } catch (error) {
    if (!isAwsError(error, 'InvalidAssociationID.NotFound')) throw error
  }
}

function allocationFor(p: EipAssociateParams, ctx: StepContext): string {
  return ctx.mode === 'drill' && p.drillAllocationId ? p.drillAllocationId : p.allocationId
}

export const eipAssociate: StepDefinition<EipAssociateParams> = {
  type: 'eip.associate',
  params: eipAssociateParams,

  async run(p, ctx) {
    const region = resolveRegion(ctx, p.region, 'dr')
    const ec2 = ctx.client(EC2Client, region)
    const allocationId = allocationFor(p, ctx)
    const addr = await describeAddress(ec2, allocationId, region)
    let previous = ctx.state.previous as PreviousAssociation | undefined
    if (!ctx.state.saved) {
      previous = {instanceId: addr.InstanceId, networkInterfaceId: addr.NetworkInterfaceId, privateIpAddress: addr.PrivateIpAddress}
      await ctx.saveState({saved: true, previous})
    }
    const target = p.instanceId ?? p.networkInterfaceId
    const onTarget = (p.instanceId !== undefined && addr.InstanceId === p.instanceId) || (p.networkInterfaceId !== undefined && addr.NetworkInterfaceId === p.networkInterfaceId)
    const elsewhere = Boolean(addr.InstanceId || addr.NetworkInterfaceId) && !onTarget
    if (ctx.mode === 'drill' && elsewhere && !p.drillAllocationId) {
      ctx.log.info(`drill: ${addr.PublicIp} (${allocationId}) serves ${addr.InstanceId ?? addr.NetworkInterfaceId}; not moved in a drill (name a drillAllocationId)`)
      return {outputs: {skipped: 'drill: address in use', associationId: null, publicIp: addr.PublicIp, allocationId}}
    }
    // An instance launched a moment ago may not be visible or running yet: retry those two errors briefly.
    const r = await withBackoff(
      ctx,
      () =>
        ec2.send(
          new AssociateAddressCommand({
            AllocationId: allocationId,
            InstanceId: p.instanceId,
            NetworkInterfaceId: p.networkInterfaceId,
            PrivateIpAddress: p.privateIpAddress,
            AllowReassociation: p.allowReassociation,
          }),
        ),
      {retryOn: ['InvalidInstanceID.NotFound', 'IncorrectInstanceState', ...THROTTLE_ERRORS], maxAttempts: 6, baseMs: 2_000},
    )
    if (!r.AssociationId) throw new StepFailedError('AssociateAddress returned no AssociationId')
    await ctx.recordResource({kind: 'ec2:address-association', id: r.AssociationId, region, undo: {allocationId, previous}})
    ctx.log.info(`${addr.PublicIp} → ${target}`)
    return {outputs: {associationId: r.AssociationId, publicIp: addr.PublicIp, allocationId, previous}}
  },

  async rollback(p, result, ctx) {
    if (result.outputs.skipped) return
    const region = resolveRegion(ctx, p.region, 'dr')
    const prev = (result.outputs.previous ?? ctx.state.previous) as PreviousAssociation | undefined
    await restoreAssociation(ctx.client(EC2Client, region), String(result.outputs.allocationId), result.outputs.associationId as string | undefined, prev)
  },

  async removeResource(resource: CreatedResource, ctx: StepContext) {
    if (resource.kind !== 'ec2:address-association') return
    const u = (resource.undo ?? {}) as {allocationId?: string; previous?: PreviousAssociation}
    const ec2 = ctx.client(EC2Client, resource.region)
    // Only undo when the address still has our association (someone may have moved it since).
    if (u.allocationId) {
      const r = await ec2.send(new DescribeAddressesCommand({AllocationIds: [u.allocationId]})).catch((error) => {
        if (isAwsError(error, 'InvalidAllocationID.NotFound')) return {Addresses: []}
        throw error
      })
      if (r.Addresses?.[0]?.AssociationId !== resource.id) return
      await restoreAssociation(ec2, u.allocationId, resource.id, u.previous)
      return
    }
    await restoreAssociation(ec2, '', resource.id, undefined)
  },

  async plan(p, ctx): Promise<PlanLine> {
    const region = resolveRegion(ctx, p.region, 'dr')
    const allocationId = allocationFor(p, ctx)
    const target = p.instanceId ?? p.networkInterfaceId
    const details: Record<string, unknown> = {region, allocationId, target}
    let ip = allocationId
    try {
      const a = await describeAddress(ctx.client(EC2Client, region), allocationId, region)
      ip = `${a.PublicIp} (${allocationId})`
      details.currentlyOn = a.InstanceId ?? a.NetworkInterfaceId ?? null
      if (ctx.mode === 'drill' && details.currentlyOn && !p.drillAllocationId) {
        return {action: 'none', summary: `drill: leave ${ip} on ${details.currentlyOn} (a production address is not moved in a drill)`, details}
      }
    } catch (error) {
      details.problem = errText(error)
    }
    const from = details.currentlyOn ? ` (now on ${details.currentlyOn})` : ''
    return {action: 'change', summary: `associate ${ip}${from} with ${target}${isRef(target) ? ' (from an earlier step)' : ''} in ${region}`, details}
  },

  async readiness(p, ctx): Promise<ReadinessCheck[]> {
    const region = resolveRegion(ctx, p.region, 'dr')
    const ids = [p.allocationId, ...(p.drillAllocationId ? [p.drillAllocationId] : [])]
    const out: ReadinessCheck[] = []
    for (const id of ids) {
      const name = `Elastic IP ${id} in ${region}`
      try {
        const a = await describeAddress(ctx.client(EC2Client, region), id, region)
        out.push({name, ok: true, detail: `${a.PublicIp}${a.InstanceId ? `, on ${a.InstanceId}` : ', unassociated'}`})
      } catch (error) {
        out.push({name, ok: false, detail: errText(error)})
      }
    }
    return out
  },
}
