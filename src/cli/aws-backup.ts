import {type Command, Flags} from '@oclif/core'

import {type AwsOptions, resolveAws} from '../aws/clients.js'
import {followCommand, type JobKind, type JobStatus, PARTIAL_STATES, waitForJob} from '../awsbackup/jobs.js'
import {formatAge, parseDurationSeconds} from '../awsbackup/util.js'
import {ExitCode} from '../errors.js'
import {formatBytes} from '../progress.js'
import {awsFlags} from './aws-flags.js'
import {BaseCommand} from './base-command.js'

/** Flags of the commands that can wait for an AWS Backup job. */
export const waitFlags = {
  wait: Flags.boolean({description: 'Wait until the job ends (progress on stderr); exit 1 if it fails.', helpGroup: 'WAIT'}),
  timeout: Flags.string({description: 'Give up waiting after this long (the job keeps running in AWS).', default: '2h', helpGroup: 'WAIT'}),
  'poll-interval': Flags.string({description: 'Time between two status checks while waiting.', default: '30s', helpGroup: 'WAIT'}),
}

/** Base of every `aws-backup` command: --profile/--region (over the config's aws section). */
export abstract class AwsBackupCommand<T extends typeof Command> extends BaseCommand<T> {
  static override baseFlags = {...BaseCommand.baseFlags, ...awsFlags}

  protected async awsOptions(): Promise<AwsOptions> {
    const f = this.flags as {profile?: string; region?: string}
    return resolveAws({profile: f.profile, region: f.region}, (await this.getConfig()).config.aws)
  }

  /** Waits for a job when --wait is set, with progress lines on stderr; PARTIAL exits 3 with a warning. */
  protected async maybeWait(kind: JobKind, id: string): Promise<JobStatus | undefined> {
    const f = this.flags as {wait?: boolean; timeout?: string; 'poll-interval'?: string}
    if (!f.wait) return undefined
    const timeoutSeconds = parseDurationSeconds(f.timeout ?? '2h', '--timeout')
    const intervalSeconds = parseDurationSeconds(f['poll-interval'] ?? '30s', '--poll-interval')
    let last = ''
    const status = await waitForJob(kind, id, {
      aws: await this.awsOptions(),
      timeoutSeconds,
      intervalSeconds,
      onProgress: (s, elapsed) => {
        const line = `${kind} job ${id}: ${describeJobProgress(s)}`
        if (line !== last) this.info(`${line} (${formatAge(elapsed)})`)
        last = line
      },
      onPollError: (error) => this.info(`${kind} job ${id}: status check failed, retrying: ${error instanceof Error ? error.message : String(error)}`),
    })
    if (PARTIAL_STATES.has(status.state)) {
      this.addWarning(`${kind} job ${id} finished PARTIAL: ${status.statusMessage ?? 'some parts were not backed up'}`)
      this.exitCodeAfterRun = ExitCode.WARNINGS
    }
    return status
  }

  protected followHint(kind: JobKind, id: string): void {
    this.info(`follow it with: ${followCommand(kind, id)}`)
  }
}

export function describeJobProgress(s: JobStatus): string {
  const parts = [s.state]
  if (s.percentDone !== undefined) parts.push(`${s.percentDone.toFixed(0)}%`)
  if (s.bytes) parts.push(formatBytes(s.bytes))
  if (s.statusMessage) parts.push(`— ${s.statusMessage}`)
  return parts.join(' ')
}

export function isoTime(d: Date | undefined): string {
  return d ? d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z') : ''
}
