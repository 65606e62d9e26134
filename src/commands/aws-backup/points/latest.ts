import {Flags} from '@oclif/core'

import {AwsBackupCommand, isoTime} from '../../../cli/aws-backup.js'
import {checkRpo, latestRecoveryPoint} from '../../../awsbackup/points.js'
import {formatAge, parseDurationSeconds} from '../../../awsbackup/util.js'
import {jobFlags, jobIO} from '../../../cli/job-flags.js'
import {ExitCode} from '../../../errors.js'
import {sample} from '../../../ops/metrics.js'
import {type JobOutcome, reportJob} from '../../../ops/report.js'

export interface LatestResult {
  ok: boolean
  resourceArn: string
  /** none: no COMPLETED point; stale: older than --max-age. */
  reason?: 'none' | 'stale'
  arn?: string
  vault?: string
  creationDate?: Date
  ageSeconds?: number
  age?: string
  maxAgeSeconds?: number
}

export default class PointsLatest extends AwsBackupCommand<typeof PointsLatest> {
  static override description = `The newest COMPLETED recovery point of a resource and its age (the achieved RPO).
Exits 1 when there is none, or when it is older than --max-age: usable from cron and monitoring.
Reported as the job "aws-backup-rpo" (notifications, --log-file, lifeboat status); --metrics-file also gets lifeboat_recovery_point_age_seconds{resource="ARN"}.`
  static override examples = [
    '<%= config.bin %> aws-backup points latest --resource arn:aws:rds:us-east-1:123456789012:db:shop --max-age 1h',
    '<%= config.bin %> aws-backup points latest --resource arn:aws:rds:us-east-1:123456789012:db:shop --vault shop-vault --json',
  ]
  static override flags = {
    resource: Flags.string({description: 'ARN of the protected resource.', required: true}),
    vault: Flags.string({description: 'Only points in this vault (default: every vault).'}),
    'max-age': Flags.string({description: 'Exit 1 when the newest point is older than this (e.g. 90m, 1h, 1d).'}),
    ...jobFlags,
  }

  async run(): Promise<LatestResult> {
    const f = this.flags
    const maxAge = f['max-age'] === undefined ? undefined : parseDurationSeconds(f['max-age'], '--max-age')
    const {config} = await this.getConfig()
    const aws = await this.awsOptions()
    const {latest, check} = await reportJob(
      {job: 'aws-backup-rpo', resource: f.resource, io: {...jobIO(f, config, (m) => this.info(m)), aws}},
      async () => {
        const latest = await latestRecoveryPoint({aws, resourceArn: f.resource, vault: f.vault})
        return {latest, check: checkRpo(latest, maxAge)}
      },
      ({latest, check}) => rpoOutcome(f.resource, latest, check, maxAge),
    )
    const result: LatestResult = {
      ok: check.ok,
      resourceArn: f.resource,
      reason: check.reason,
      arn: latest?.recoveryPointArn,
      vault: latest?.vaultName,
      creationDate: latest?.creationDate,
      ageSeconds: latest?.ageSeconds,
      age: latest ? formatAge(latest.ageSeconds) : undefined,
      maxAgeSeconds: maxAge,
    }
    if (!check.ok) this.exitCodeAfterRun = ExitCode.FAILURE
    if (!this.jsonEnabled()) {
      if (!latest) {
        this.log(`no completed recovery point of ${f.resource}${f.vault ? ` in vault ${f.vault}` : ''}`)
      } else {
        this.log(`${latest.recoveryPointArn}`)
        this.log(`  created ${isoTime(latest.creationDate)}${latest.vaultName ? ` in vault ${latest.vaultName}` : ''}`)
        this.log(`  age ${formatAge(latest.ageSeconds)}${maxAge === undefined ? '' : ` (max ${formatAge(maxAge)}: ${check.ok ? 'ok' : 'TOO OLD'})`}`)
      }
    }
    return result
  }
}

export function rpoOutcome(
  resource: string,
  latest: {recoveryPointArn?: string; ageSeconds: number; vaultName?: string} | undefined,
  check: {ok: boolean; reason?: 'none' | 'stale'},
  maxAge: number | undefined,
): JobOutcome {
  const numbers: Record<string, number | string> = {}
  if (latest) numbers.ageSeconds = Math.round(latest.ageSeconds)
  if (maxAge !== undefined) numbers.maxAgeSeconds = maxAge
  if (latest?.recoveryPointArn) numbers.recoveryPoint = latest.recoveryPointArn
  const limit = maxAge === undefined ? '' : ` (max ${formatAge(maxAge)})`
  return {
    state: check.ok ? 'success' : 'failure',
    summary: !latest
      ? `no completed recovery point of ${resource}`
      : `newest recovery point of ${resource} is ${formatAge(latest.ageSeconds)} old${limit}${check.reason === 'stale' ? ': TOO OLD' : ''}`,
    numbers,
    metrics: latest ? [sample('lifeboat_recovery_point_age_seconds', {resource}, Math.round(latest.ageSeconds))] : [],
    action: check.ok
      ? undefined
      : !latest
        ? 'No backup of this resource has completed: check its backup plan (lifeboat aws-backup plan show) and start one (lifeboat aws-backup job start … --wait).'
        : 'Backups of this resource have stopped or fail: look at the recent jobs (lifeboat aws-backup job list) and its backup plan; start one now with lifeboat aws-backup job start … --wait.',
  }
}
