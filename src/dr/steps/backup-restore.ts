import {BackupClient, DescribeRecoveryPointCommand, DescribeRestoreJobCommand, GetRecoveryPointRestoreMetadataCommand, StartRestoreJobCommand} from '@aws-sdk/client-backup'
import {CreateTagsCommand, DeleteVolumeCommand, EC2Client} from '@aws-sdk/client-ec2'
import {z} from 'zod'

import {latestRecoveryPoint, type LatestPoint} from '../../awsbackup/points.js'
import {lockRepository} from '../../backup/lock.js'
import {openRepository, resolvePassword} from '../../backup/open.js'
import type {Repository} from '../../backup/repository.js'
import {restoreSnapshot} from '../../backup/restorer.js'
import {formatBytes} from '../../progress.js'
import type {CreatedResource, PlanLine, ReadinessCheck, StepContext, StepDefinition} from '../step-types.js'
import {StepFailedError, duration, errText, formatMs, isAwsError, pollUntil, regionParam, resolveRegion, tagList} from './common.js'
import {terminateInstances} from './ec2-launch.js'

const awsBackupSource = z
  .object({
    /** The protected resource (e.g. arn:aws:ec2:us-east-1:111122223333:volume/vol-…); its newest COMPLETED point is restored. */
    resourceArn: z.string().min(1),
    /** Only points in this vault of the DR region (otherwise every vault). */
    vault: z.string().optional(),
    /** A specific recovery point instead of the newest. */
    recoveryPointArn: z.string().optional(),
    iamRoleArn: z.string().min(1),
    /** Merged over the metadata GetRecoveryPointRestoreMetadata returns (e.g. {availabilityZone: us-west-2a}). */
    metadata: z.record(z.string(), z.string()).optional(),
    resourceType: z.string().optional(),
  })
  .strict()

const repositorySource = z
  .object({
    /** Repository location (a folder; what `--repo` takes). */
    location: z.string().min(1),
    /** File holding the password (first line); otherwise LIFEBOAT_PASSWORD, RESTIC_PASSWORD(_FILE) … as for `backup`. */
    passwordFile: z.string().optional(),
    /** Name of an environment variable holding the password. */
    passwordEnv: z.string().optional(),
    /** Snapshot id (prefix) or "latest". */
    snapshot: z.string().default('latest'),
    host: z.string().optional(),
    target: z.string().min(1),
    /** Restore only this folder of the snapshot. */
    subPath: z.string().optional(),
    include: z.array(z.string()).optional(),
    exclude: z.array(z.string()).optional(),
    verify: z.boolean().default(false),
  })
  .strict()

export const backupRestoreParams = z
  .object({
    awsBackup: awsBackupSource.optional(),
    repository: repositorySource.optional(),
    /** Region of the vault and the restore: 'dr' (default), 'primary' or a region name. */
    region: regionParam,
    /** readiness: fail when the newest point/snapshot is older (default: the playbook's RPO target, when the runner passes it). */
    maxAge: duration.optional(),
    pollInterval: duration.default(30_000),
    maxWait: duration.default(6 * 3_600_000),
  })
  .strict()
  .refine((p) => Boolean(p.awsBackup) !== Boolean(p.repository), {message: 'backup.restore needs exactly one source: awsBackup or repository'})
export type BackupRestoreParams = z.output<typeof backupRestoreParams>
type AwsBackupSource = z.output<typeof awsBackupSource>
type RepositorySource = z.output<typeof repositorySource>

const ageSeconds = (ctx: StepContext, d: Date) => Math.max(0, Math.round((ctx.now().getTime() - d.getTime()) / 1000))

/** RFC 3339 with nanoseconds (Go) → Date. */
function snapshotTime(t: string): Date {
  return new Date(t.replace(/(\.\d{3})\d+/, '$1'))
}

async function pickPoint(ctx: StepContext, src: AwsBackupSource, backup: BackupClient, region: string): Promise<LatestPoint> {
  if (src.recoveryPointArn) {
    if (!src.vault) throw new StepFailedError('awsBackup.recoveryPointArn needs awsBackup.vault (the vault that holds it)')
    const rp = await backup.send(new DescribeRecoveryPointCommand({BackupVaultName: src.vault, RecoveryPointArn: src.recoveryPointArn}))
    if (rp.Status !== 'COMPLETED') throw new StepFailedError(`recovery point ${src.recoveryPointArn} is ${rp.Status}, not COMPLETED`, {code: 'DR_NO_RECOVERY_POINT'})
    const creationDate = rp.CreationDate ?? ctx.now()
    return {recoveryPointArn: src.recoveryPointArn, resourceArn: src.resourceArn, vaultName: src.vault, creationDate, status: rp.Status, ageSeconds: ageSeconds(ctx, creationDate)}
  }
  const point = await latestRecoveryPoint({resourceArn: src.resourceArn, vault: src.vault, client: backup, now: ctx.now()})
  if (!point) {
    throw new StepFailedError(`no COMPLETED recovery point of ${src.resourceArn} in ${src.vault ? `vault ${src.vault} of ` : ''}${region}`, {
      code: 'DR_NO_RECOVERY_POINT',
      hint: 'copy recovery points to the DR region (a CopyAction in the backup plan) and check `lifeboat aws-backup points latest`',
    })
  }
  return point
}

/** The AWS resources a restore creates that lifeboat can remove safely: EC2 instances and EBS volumes. */
function simpleResource(arn: string): {type: 'instance' | 'volume'; id: string; region: string} | undefined {
  const m = /^arn:aws[\w-]*:ec2:([\w-]+):\d*:(instance|volume)\/((?:i|vol)-[0-9a-f]+)$/.exec(arn)
  return m ? {type: m[2] as 'instance' | 'volume', id: m[3], region: m[1]} : undefined
}

async function runAwsBackup(p: BackupRestoreParams, src: AwsBackupSource, ctx: StepContext) {
  const region = resolveRegion(ctx, p.region, 'dr')
  const backup = ctx.client(BackupClient, region)
  let jobId = typeof ctx.state.restoreJobId === 'string' ? ctx.state.restoreJobId : undefined
  // The point is chosen once and kept: a resume sends the same request with the same IdempotencyToken,
  // even if a newer point appeared meanwhile.
  let point = ctx.state.point as {recoveryPointArn: string; creationDate: string; vaultName?: string} | undefined
  if (!point) {
    const chosen = await pickPoint(ctx, src, backup, region)
    point = {recoveryPointArn: chosen.recoveryPointArn, creationDate: chosen.creationDate.toISOString(), vaultName: chosen.vaultName}
    await ctx.saveState({point})
  }
  if (!jobId) {
    const meta = await backup.send(new GetRecoveryPointRestoreMetadataCommand({BackupVaultName: point.vaultName, RecoveryPointArn: point.recoveryPointArn}))
    const Metadata = {...meta.RestoreMetadata, ...src.metadata}
    ctx.log.info(`restoring ${point.recoveryPointArn} (${formatMs(ageSeconds(ctx, new Date(point.creationDate)) * 1000)} old) in ${region}`)
    const r = await backup.send(
      new StartRestoreJobCommand({
        RecoveryPointArn: point.recoveryPointArn,
        Metadata,
        IamRoleArn: src.iamRoleArn,
        IdempotencyToken: ctx.token(),
        ResourceType: src.resourceType ?? meta.ResourceType,
      }),
    )
    if (!r.RestoreJobId) throw new StepFailedError('StartRestoreJob returned no RestoreJobId')
    jobId = r.RestoreJobId
    await ctx.saveState({restoreJobId: jobId})
  }
  const id = jobId
  const job = await pollUntil(ctx, {
    what: `restore job ${id} in ${region}`,
    intervalMs: p.pollInterval,
    timeoutMs: p.maxWait,
    hint: 'the job goes on in AWS Backup; `lifeboat dr resume` waits for it again',
    check: async () => {
      const j = await backup.send(new DescribeRestoreJobCommand({RestoreJobId: id}))
      if (j.Status === 'COMPLETED') return {done: true, value: j}
      if (j.Status === 'FAILED' || j.Status === 'ABORTED') {
        throw new StepFailedError(`restore job ${id} ${j.Status}: ${j.StatusMessage ?? 'no message'}`, {
          code: 'DR_RESTORE_FAILED',
          details: {restoreJobId: id, status: j.Status, statusMessage: j.StatusMessage},
          hint: 'check the IAM role, the restore metadata overrides and the vault in the DR region; then run the step again',
        })
      }
      return {done: false, progress: `${id}: ${j.Status}${j.PercentDone ? ` ${j.PercentDone}%` : ''}`}
    },
  })
  const created = job.CreatedResourceArn
  if (created) {
    await ctx.recordResource({kind: 'backup:restored-resource', id: created, region})
    const simple = simpleResource(created)
    // Tag what we can, so a drill's sweep by lifeboat:run-id finds it too.
    if (simple) await ctx.client(EC2Client, simple.region).send(new CreateTagsCommand({Resources: [simple.id], Tags: tagList(ctx.tags())}))
  }
  const creation = new Date(point.creationDate)
  return {
    restoreJobId: id,
    createdResourceArn: created ?? null,
    recoveryPointArn: point.recoveryPointArn,
    dataTime: point.creationDate,
    dataAgeSeconds: ageSeconds(ctx, creation),
  }
}

async function openRepo(src: RepositorySource): Promise<Repository> {
  const env = src.passwordEnv ? {LIFEBOAT_PASSWORD: process.env[src.passwordEnv]} : process.env
  if (src.passwordEnv && !process.env[src.passwordEnv]) throw new StepFailedError(`the environment variable ${src.passwordEnv} (repository password) is not set`, {code: 'MISSING_PASSWORD'})
  return openRepository({location: {location: src.location, source: 'flag'}, password: () => resolvePassword({passwordFile: src.passwordFile, env})})
}

async function runRepository(src: RepositorySource, ctx: StepContext) {
  const repo = await openRepo(src)
  try {
    const lock = await lockRepository(repo, {exclusive: false})
    try {
      const snap = await repo.findSnapshot(src.snapshot, {hostname: src.host})
      await repo.loadIndex()
      ctx.log.info(`restoring snapshot ${snap.id.slice(0, 8)} (${snap.snapshot.time}) to ${src.target}`)
      const r = await restoreSnapshot(repo, {
        snapshot: snap,
        target: src.target,
        subPath: src.subPath,
        include: src.include,
        exclude: src.exclude,
        verify: src.verify,
        onEvent: (ev) => {
          if (ev.kind === 'progress') ctx.log.progress(`${ev.files} files, ${formatBytes(ev.bytes)}${ev.totalBytes ? ` of ${formatBytes(ev.totalBytes)}` : ''} restored`)
        },
      })
      const problems = [...r.errors, ...(r.verified?.mismatches ?? []).map((m) => ({path: m, message: 'content differs after restore'}))]
      if (problems.length > 0) {
        throw new StepFailedError(`restore of ${snap.id.slice(0, 8)} to ${src.target} found ${problems.length} problem(s): ${problems.slice(0, 3).map((x) => `${x.path}: ${x.message}`).join('; ')}`, {
          code: 'DR_RESTORE_FAILED',
          details: {errors: problems},
          hint: 'run `lifeboat backup check --read-data` on the repository',
        })
      }
      const time = snapshotTime(snap.snapshot.time)
      return {snapshotId: snap.id, dataTime: time.toISOString(), dataAgeSeconds: ageSeconds(ctx, time), files: r.files, bytes: r.bytes, target: src.target, warnings: r.warnings.length}
    } finally {
      await lock.release()
    }
  } finally {
    await repo.close()
  }
}

/** The newest data available (readiness, plan): time and age. */
async function newest(p: BackupRestoreParams, ctx: StepContext): Promise<{what: string; time: Date}> {
  if (p.awsBackup) {
    const region = resolveRegion(ctx, p.region, 'dr')
    const point = await pickPoint(ctx, {...p.awsBackup, recoveryPointArn: undefined}, ctx.client(BackupClient, region), region)
    return {what: point.recoveryPointArn, time: point.creationDate}
  }
  const repo = await openRepo(p.repository!)
  try {
    const snap = await repo.findSnapshot(p.repository!.snapshot, {hostname: p.repository!.host})
    return {what: `snapshot ${snap.id.slice(0, 8)}`, time: snapshotTime(snap.snapshot.time)}
  } finally {
    await repo.close()
  }
}

export const backupRestore: StepDefinition<BackupRestoreParams> = {
  type: 'backup.restore',
  params: backupRestoreParams,

  async run(p, ctx) {
    const outputs = p.awsBackup ? await runAwsBackup(p, p.awsBackup, ctx) : await runRepository(p.repository!, ctx)
    return {outputs}
  },

  async removeResource(resource: CreatedResource, ctx: StepContext) {
    if (resource.kind !== 'backup:restored-resource') return
    const simple = simpleResource(resource.id)
    if (!simple) {
      throw new StepFailedError(`the restored resource ${resource.id} is left for you to delete (lifeboat only removes restored EC2 instances and EBS volumes)`, {
        code: 'DR_MANUAL_CLEANUP',
        hint: 'delete it in its service console or CLI, then run `lifeboat dr cleanup` again',
      })
    }
    const ec2 = ctx.client(EC2Client, simple.region)
    if (simple.type === 'instance') {
      await terminateInstances(ec2, [simple.id])
      return
    }
    try {
      await ec2.send(new DeleteVolumeCommand({VolumeId: simple.id}))
    } catch (error) {
      if (!isAwsError(error, 'InvalidVolume.NotFound')) throw error
    }
  },

  async plan(p, ctx): Promise<PlanLine> {
    const details: Record<string, unknown> = {}
    let from = p.awsBackup ? `the newest recovery point of ${p.awsBackup.resourceArn}` : `snapshot ${p.repository!.snapshot} of ${p.repository!.location}`
    try {
      const n = await newest(p, ctx)
      details.dataTime = n.time.toISOString()
      details.dataAgeSeconds = ageSeconds(ctx, n.time)
      from = `${n.what} (${formatMs(ageSeconds(ctx, n.time) * 1000)} old)`
    } catch (error) {
      details.problem = errText(error)
    }
    const to = p.awsBackup ? `in ${resolveRegion(ctx, p.region, 'dr')} via AWS Backup` : `into ${p.repository!.target}`
    return {action: 'create', summary: `restore ${from} ${to}`, details}
  },

  async readiness(p, ctx): Promise<ReadinessCheck[]> {
    const name = p.awsBackup ? `recovery point of ${p.awsBackup.resourceArn}` : `snapshot ${p.repository!.snapshot} in ${p.repository!.location}`
    let n: {what: string; time: Date}
    try {
      n = await newest(p, ctx)
    } catch (error) {
      return [{name, ok: false, detail: errText(error)}]
    }
    const age = ageSeconds(ctx, n.time) * 1000
    const limit = p.maxAge ?? ctx.targets?.rpoMs
    const detail = `${n.what} from ${n.time.toISOString()}, ${formatMs(age)} old${limit === undefined ? '' : ` (RPO ${formatMs(limit)})`}`
    return [{name, ok: limit === undefined || age <= limit, detail}]
  },
}
