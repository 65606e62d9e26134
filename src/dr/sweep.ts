import {
  DeleteSnapshotCommand,
  DeleteVolumeCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeSnapshotsCommand,
  DescribeVolumesCommand,
  EC2Client,
  type Filter,
} from '@aws-sdk/client-ec2'

import type {CreatedResource, StepContext} from './step-types.js'
import {errText, isAwsError} from './steps/common.js'
import {removeImage} from './steps/ami-copy.js'
import {terminateInstances} from './steps/ec2-launch.js'

export const RUN_TAG = 'lifeboat:run-id'

export interface SweepOptions {
  regions: string[]
  client: StepContext['client']
  /** Return only what was removed (default: everything found; what could not be removed has no removedAt and an undo.error). */
  removeOnly?: boolean
  /** Only look: return what still carries the tag, delete nothing (a leak check after cleanup). */
  dryRun?: boolean
  /** How long to wait for terminated instances before sweeping their volumes (default 10 minutes). */
  maxWaitMs?: number
  log?: (message: string) => void
  signal?: AbortSignal
  sleep?: (ms: number) => Promise<void>
  now?: () => Date
}

const SWEEP_STEP = '(sweep)'

/**
 * Finds every resource still tagged lifeboat:run-id=<runId> in the given regions and deletes it, in an order
 * that works: instances (terminate, wait until terminated), images (deregister + their snapshots), left-over
 * snapshots, then unattached volumes. Each found resource is returned; removed ones carry removedAt, those
 * that could not be removed carry undo.error (e.g. a snapshot another, untagged, image still uses).
 *
 * Tagged by the steps: ami.copy (image + snapshots), ec2.launch / ec2.scale (instances + volumes),
 * backup.restore (restored EC2 instances and volumes). Elastic IP associations and Route 53 weights cannot be
 * tagged; they are undone from the journal (removeResource) before the sweep runs.
 */
export async function sweepRunResources(runId: string, opts: SweepOptions): Promise<CreatedResource[]> {
  const found: CreatedResource[] = []
  const log = opts.log ?? (() => {})
  const now = opts.now ?? (() => new Date())
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)))
  const tagFilter: Filter = {Name: `tag:${RUN_TAG}`, Values: [runId]}
  const remove = async (r: CreatedResource, fn: () => Promise<void>) => {
    found.push(r)
    if (opts.dryRun) return
    try {
      await fn()
      r.removedAt = now().toISOString()
      log(`removed ${r.kind} ${r.id} (${r.region})`)
    } catch (error) {
      r.undo = {error: errText(error)}
      log(`could not remove ${r.kind} ${r.id} (${r.region}): ${errText(error)}`)
    }
  }

  for (const region of [...new Set(opts.regions)]) {
    if (opts.signal?.aborted) break
    const ec2 = opts.client(EC2Client, region)

    // Instances first: they hold volumes, and an image's snapshot may back a running instance's volume.
    const instances: string[] = []
    let NextToken: string | undefined
    do {
      const r = await ec2.send(
        new DescribeInstancesCommand({Filters: [tagFilter, {Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped', 'shutting-down']}], NextToken}),
      )
      for (const res of r.Reservations ?? []) {
        for (const i of res.Instances ?? []) if (i.InstanceId && i.State?.Name !== 'terminated') instances.push(i.InstanceId)
      }
      NextToken = r.NextToken
    } while (NextToken)
    for (const id of instances) await remove({kind: 'ec2:instance', id, region, stepId: SWEEP_STEP}, () => terminateInstances(ec2, [id]))
    if (instances.length > 0 && !opts.dryRun) await waitTerminated(ec2, instances, {sleep, now, maxWaitMs: opts.maxWaitMs ?? 10 * 60_000, signal: opts.signal, log})

    const images = await ec2.send(new DescribeImagesCommand({Owners: ['self'], Filters: [tagFilter]}))
    for (const img of images.Images ?? []) {
      if (!img.ImageId) continue
      const imageId = img.ImageId
      await remove({kind: 'ec2:image', id: imageId, region, stepId: SWEEP_STEP}, async () => {
        const snaps = await removeImage(ec2, imageId)
        if (snaps.length) log(`deleted snapshots ${snaps.join(', ')} of ${imageId}`)
      })
    }

    const snaps = await ec2.send(new DescribeSnapshotsCommand({OwnerIds: ['self'], Filters: [tagFilter]}))
    for (const s of snaps.Snapshots ?? []) {
      if (!s.SnapshotId) continue
      const id = s.SnapshotId
      await remove({kind: 'ec2:snapshot', id, region, stepId: SWEEP_STEP}, async () => {
        try {
          await ec2.send(new DeleteSnapshotCommand({SnapshotId: id}))
        } catch (error) {
          if (!isAwsError(error, 'InvalidSnapshot.NotFound')) throw error
        }
      })
    }

    const vols = await ec2.send(new DescribeVolumesCommand({Filters: [tagFilter]}))
    for (const v of vols.Volumes ?? []) {
      if (!v.VolumeId || v.State === 'deleting' || v.State === 'deleted') continue
      const id = v.VolumeId
      await remove({kind: 'ec2:volume', id, region, stepId: SWEEP_STEP}, async () => {
        try {
          await ec2.send(new DeleteVolumeCommand({VolumeId: id}))
        } catch (error) {
          if (!isAwsError(error, 'InvalidVolume.NotFound')) throw error
        }
      })
    }
  }
  return opts.removeOnly ? found.filter((r) => r.removedAt) : found
}

async function waitTerminated(
  ec2: EC2Client,
  ids: string[],
  o: {sleep: (ms: number) => Promise<void>; now: () => Date; maxWaitMs: number; signal?: AbortSignal; log: (m: string) => void},
): Promise<void> {
  const start = o.now().getTime()
  for (;;) {
    let left: string[]
    try {
      const r = await ec2.send(new DescribeInstancesCommand({InstanceIds: ids}))
      left = (r.Reservations ?? []).flatMap((x) => x.Instances ?? []).filter((i) => i.State?.Name !== 'terminated').map((i) => i.InstanceId!)
    } catch (error) {
      if (isAwsError(error, 'InvalidInstanceID.NotFound')) return
      throw error
    }
    if (left.length === 0) return
    if (o.signal?.aborted || o.now().getTime() - start >= o.maxWaitMs) {
      o.log(`still terminating: ${left.join(', ')} (their volumes are swept by the next cleanup)`)
      return
    }
    await o.sleep(5_000)
  }
}
