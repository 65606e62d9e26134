import {Flags} from '@oclif/core'

import {AwsBackupCommand, isoTime} from '../../../cli/aws-backup.js'
import {checkRpo, latestRecoveryPoint} from '../../../awsbackup/points.js'
import {formatAge, parseDurationSeconds} from '../../../awsbackup/util.js'
import {ExitCode} from '../../../errors.js'

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
Exits 1 when there is none, or when it is older than --max-age: usable from cron and monitoring.`
  static override examples = [
    '<%= config.bin %> aws-backup points latest --resource arn:aws:rds:us-east-1:123456789012:db:shop --max-age 1h',
    '<%= config.bin %> aws-backup points latest --resource arn:aws:rds:us-east-1:123456789012:db:shop --vault shop-vault --json',
  ]
  static override flags = {
    resource: Flags.string({description: 'ARN of the protected resource.', required: true}),
    vault: Flags.string({description: 'Only points in this vault (default: every vault).'}),
    'max-age': Flags.string({description: 'Exit 1 when the newest point is older than this (e.g. 90m, 1h, 1d).'}),
  }

  async run(): Promise<LatestResult> {
    const f = this.flags
    const maxAge = f['max-age'] === undefined ? undefined : parseDurationSeconds(f['max-age'], '--max-age')
    const latest = await latestRecoveryPoint({aws: await this.awsOptions(), resourceArn: f.resource, vault: f.vault})
    const check = checkRpo(latest, maxAge)
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
