import {
  CopyImageCommand,
  DeleteSnapshotCommand,
  DeregisterImageCommand,
  DescribeImagesCommand,
  DescribeSnapshotsCommand,
  EC2Client,
  type Image,
} from '@aws-sdk/client-ec2'
import {z} from 'zod'

import type {CreatedResource, PlanLine, ReadinessCheck, StepContext, StepDefinition} from '../step-types.js'
import {
  StepFailedError,
  duration,
  errText,
  formatMs,
  isAwsError,
  isRef,
  pollUntil,
  regionParam,
  resolveRegion,
  tagList,
} from './common.js'

export const amiCopyParams = z
  .object({
    sourceImageId: z.string().min(1),
    /** Where the source AMI lives: 'primary' (default), 'dr' or a region name. */
    sourceRegion: regionParam,
    /** Where the copy goes: 'dr' (default), 'primary' or a region name. */
    region: regionParam,
    name: z.string().min(1).max(128),
    description: z.string().max(255).optional(),
    encrypted: z.boolean().optional(),
    kmsKeyId: z.string().optional(),
    /** Copy the source AMI's user tags too (CopyImageTags). Default true. */
    copyImageTags: z.boolean().default(true),
    tags: z.record(z.string(), z.string()).optional(),
    pollInterval: duration.default(15_000),
    /** Cross-region copies of large AMIs take 30+ minutes. */
    maxWait: duration.default(2 * 3_600_000),
    /** readiness: warn when the source AMI is older than this. */
    maxSourceAge: duration.optional(),
  })
  .strict()
export type AmiCopyParams = z.output<typeof amiCopyParams>

const FAILED_STATES = new Set(['failed', 'invalid', 'error', 'deregistered', 'disabled'])

function snapshotIdsOf(image: Image | undefined): string[] {
  return (image?.BlockDeviceMappings ?? []).flatMap((b) => (b.Ebs?.SnapshotId ? [b.Ebs.SnapshotId] : []))
}

async function describeImage(ec2: EC2Client, imageId: string): Promise<Image | undefined> {
  try {
    const r = await ec2.send(new DescribeImagesCommand({ImageIds: [imageId]}))
    return r.Images?.[0]
  } catch (error) {
    if (isAwsError(error, 'InvalidAMIID.NotFound', 'InvalidAMIID.Unavailable')) return undefined
    throw error
  }
}

/** Deregisters an AMI and deletes its EBS snapshots; tolerates either being gone already. */
export async function removeImage(ec2: EC2Client, imageId: string, extraSnapshotIds: string[] = []): Promise<string[]> {
  const image = await describeImage(ec2, imageId)
  const snapshots = new Set([...snapshotIdsOf(image), ...extraSnapshotIds])
  if (image && image.State !== 'deregistered') {
    try {
      await ec2.send(new DeregisterImageCommand({ImageId: imageId}))
    } catch (error) {
      if (!isAwsError(error, 'InvalidAMIID.NotFound', 'InvalidAMIID.Unavailable')) throw error
    }
  }
  // Snapshots a copy made carry the destination AMI id in their description ("Copied for DestinationAmi ami-…").
  const found = await ec2.send(
    new DescribeSnapshotsCommand({OwnerIds: ['self'], Filters: [{Name: 'description', Values: [`*${imageId}*`]}]}),
  )
  for (const s of found.Snapshots ?? []) if (s.SnapshotId) snapshots.add(s.SnapshotId)
  for (const id of snapshots) {
    try {
      await ec2.send(new DeleteSnapshotCommand({SnapshotId: id}))
    } catch (error) {
      if (!isAwsError(error, 'InvalidSnapshot.NotFound')) throw error
    }
  }
  return [...snapshots]
}

export const amiCopy: StepDefinition<AmiCopyParams> = {
  type: 'ami.copy',
  params: amiCopyParams,

  async run(p, ctx) {
    const region = resolveRegion(ctx, p.region, 'dr')
    const sourceRegion = resolveRegion(ctx, p.sourceRegion, 'primary')
    const ec2 = ctx.client(EC2Client, region)
    let imageId = typeof ctx.state.imageId === 'string' ? ctx.state.imageId : undefined
    // After a copy that ended failed, a retry needs a new ClientToken (the old one returns the failed image).
    const attempt = typeof ctx.state.copyAttempt === 'number' ? ctx.state.copyAttempt : 0
    if (!imageId) {
      const runTags = tagList(ctx.tags(), p.tags)
      ctx.log.info(`copying ${p.sourceImageId} from ${sourceRegion} to ${region} as ${p.name}`)
      const r = await ec2.send(
        new CopyImageCommand({
          SourceRegion: sourceRegion,
          SourceImageId: p.sourceImageId,
          Name: p.name,
          Description: p.description,
          Encrypted: p.encrypted,
          KmsKeyId: p.kmsKeyId,
          CopyImageTags: p.copyImageTags,
          // Tag the AMI and its snapshots, so a drill's cleanup finds both by lifeboat:run-id.
          TagSpecifications: [
            {ResourceType: 'image', Tags: runTags},
            {ResourceType: 'snapshot', Tags: runTags},
          ],
          ClientToken: attempt === 0 ? ctx.token() : ctx.token(`copy-${attempt}`),
        }),
      )
      if (!r.ImageId) throw new StepFailedError(`CopyImage in ${region} returned no ImageId`)
      imageId = r.ImageId
      await ctx.recordResource({kind: 'ec2:image', id: imageId, region})
      await ctx.saveState({imageId, region})
    } else {
      ctx.log.info(`resuming: waiting for ${imageId} in ${region}`)
    }
    const id = imageId
    let notFoundLooks = 0
    const image = await pollUntil<Image>(ctx, {
      what: `image ${id} in ${region} to become available`,
      intervalMs: p.pollInterval,
      timeoutMs: p.maxWait,
      hint: `the copy goes on in AWS; \`lifeboat dr resume\` waits for it again, or raise maxWait (now ${formatMs(p.maxWait)})`,
      check: async () => {
        const img = await describeImage(ec2, id)
        if (!img) {
          // Just after CopyImage, DescribeImages may not know the new id yet (eventual consistency).
          if (++notFoundLooks > 5) throw new StepFailedError(`image ${id} disappeared from ${region} while copying`)
          return {done: false, progress: `${id}: not visible yet`}
        }
        const state = img.State ?? 'unknown'
        if (state === 'available') return {done: true, value: img}
        if (FAILED_STATES.has(state)) {
          const reason = img.StateReason?.Message ?? img.StateReason?.Code ?? 'no reason given'
          // The failed AMI is useless and holds the name: remove it now (best effort; cleanup retries) and
          // let a retry start a fresh copy.
          await removeImage(ec2, id).catch((error) => ctx.log.info(`could not remove failed image ${id}: ${errText(error)}`))
          await ctx.saveState({imageId: null, copyAttempt: attempt + 1})
          throw new StepFailedError(`copy of ${p.sourceImageId} to ${region} failed: image ${id} is ${state}: ${reason}`, {
            details: {imageId: id, state, stateReason: img.StateReason},
            hint: 'check the source AMI (encryption, KMS key grants in the DR region, snapshot limits) and run the step again',
          })
        }
        return {done: false, progress: `${id}: ${state}`}
      },
    })
    return {outputs: {imageId: id, name: image.Name ?? p.name, snapshotIds: snapshotIdsOf(image), region}}
  },

  async removeResource(resource: CreatedResource, ctx: StepContext) {
    if (resource.kind === 'ec2:image') {
      await removeImage(ctx.client(EC2Client, resource.region), resource.id)
    } else if (resource.kind === 'ec2:snapshot') {
      try {
        await ctx.client(EC2Client, resource.region).send(new DeleteSnapshotCommand({SnapshotId: resource.id}))
      } catch (error) {
        if (!isAwsError(error, 'InvalidSnapshot.NotFound')) throw error
      }
    }
  },

  async rollback(_p, result, ctx) {
    const imageId = result.outputs.imageId
    const region = typeof result.outputs.region === 'string' ? result.outputs.region : ctx.regions.dr
    if (typeof imageId === 'string') await removeImage(ctx.client(EC2Client, region), imageId)
  },

  async plan(p, ctx): Promise<PlanLine> {
    const region = resolveRegion(ctx, p.region, 'dr')
    const sourceRegion = resolveRegion(ctx, p.sourceRegion, 'primary')
    const details: Record<string, unknown> = {sourceImageId: p.sourceImageId, sourceRegion, region, name: p.name}
    if (!isRef(p.sourceImageId)) {
      try {
        const src = await describeImage(ctx.client(EC2Client, sourceRegion), p.sourceImageId)
        if (src) {
          details.sourceState = src.State
          details.sourceCreated = src.CreationDate
        } else details.problem = `source image ${p.sourceImageId} not found in ${sourceRegion}`
      } catch (error) {
        details.problem = `cannot read source image: ${errText(error)}`
      }
    }
    try {
      const same = await ctx
        .client(EC2Client, region)
        .send(new DescribeImagesCommand({Owners: ['self'], Filters: [{Name: 'name', Values: [p.name]}]}))
      const existing = same.Images?.[0]
      if (existing) {
        details.existingImageId = existing.ImageId
        details.problem ??= `an image named ${p.name} already exists in ${region} (${existing.ImageId}); CopyImage will fail unless the name is unique`
      }
    } catch (error) {
      details.problem ??= `cannot list images in ${region}: ${errText(error)}`
    }
    return {action: 'create', summary: `copy ${p.sourceImageId} from ${sourceRegion} to ${region} as "${p.name}" and wait until available`, details}
  },

  async readiness(p, ctx): Promise<ReadinessCheck[]> {
    const sourceRegion = resolveRegion(ctx, p.sourceRegion, 'primary')
    const name = `source AMI ${p.sourceImageId} in ${sourceRegion}`
    if (isRef(p.sourceImageId)) return [{name, ok: true, detail: 'comes from an earlier step', severity: 'warn'}]
    let src: Image | undefined
    try {
      src = await describeImage(ctx.client(EC2Client, sourceRegion), p.sourceImageId)
    } catch (error) {
      return [{name, ok: false, detail: errText(error)}]
    }
    if (!src) return [{name, ok: false, detail: 'not found (deregistered, or not shared with this account)'}]
    const checks: ReadinessCheck[] = [{name, ok: src.State === 'available', detail: `state ${src.State}`}]
    if (p.maxSourceAge !== undefined && src.CreationDate) {
      const age = ctx.now().getTime() - Date.parse(src.CreationDate)
      checks.push({
        name: `source AMI ${p.sourceImageId} age`,
        ok: age <= p.maxSourceAge,
        detail: `created ${src.CreationDate} (${formatMs(age)} ago, limit ${formatMs(p.maxSourceAge)})`,
        severity: 'warn',
      })
    }
    return checks
  },
}
