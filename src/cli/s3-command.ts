import {S3Client} from '@aws-sdk/client-s3'
import {type Command, Flags} from '@oclif/core'

import {makeAwsClient, resolveAws} from '../aws/clients.js'
import {LifeboatError, UsageError} from '../errors.js'
import {describeField, type FieldChange} from '../s3/diff.js'
import {checkBucketName} from '../s3/names.js'
import {awsFlags} from './aws-flags.js'
import {BaseCommand} from './base-command.js'
import {askConfirm, isCI, type PromptPolicy} from './prompt.js'

/** Flags of every `s3` bucket command. */
export const s3Flags = {
  bucket: Flags.string({char: 'b', description: 'The bucket (its name, not s3://…).', required: true}),
  ...awsFlags,
}

export const dryRunFlag = {
  'dry-run': Flags.boolean({char: 'n', description: 'Print the plan and exit without changing anything.'}),
}

/**
 * How the s3 commands wait between verification reads. Tests replace `sleep` so verify-after-write retries
 * do not take real time.
 */
export const s3Runtime: {sleep: (ms: number) => Promise<void>; verifyAttempts: number} = {
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  verifyAttempts: 5,
}

/** Base of the `s3` commands: the S3 client (SDK chain, --profile, --region), the bucket, confirmations. */
export abstract class S3Command<T extends typeof Command> extends BaseCommand<T> {
  private s3client?: S3Client

  protected async s3(): Promise<S3Client> {
    if (!this.s3client) {
      const {config} = await this.getConfig()
      const f = this.flags as {profile?: string; region?: string}
      this.s3client = makeAwsClient(S3Client, resolveAws({profile: f.profile, region: f.region}, config.aws))
    }
    return this.s3client
  }

  /** An S3 client for another region (replication destinations), same credentials. */
  protected async s3In(region: string): Promise<S3Client> {
    const {config} = await this.getConfig()
    const f = this.flags as {profile?: string}
    return makeAwsClient(S3Client, {...resolveAws({profile: f.profile}, config.aws), region})
  }

  protected get bucket(): string {
    return checkBucketName((this.flags as {bucket: string}).bucket)
  }

  protected get applyOptions(): {sleep: (ms: number) => Promise<void>; verifyAttempts: number} {
    return {sleep: s3Runtime.sleep, verifyAttempts: s3Runtime.verifyAttempts}
  }

  /** Asks before a change (on a TTY) or needs --yes (scripts: exit 2 naming --yes). A "no" changes nothing (exit 1). */
  protected async confirmChange(question: string): Promise<void> {
    const ok = await askConfirm(this.prompts, {message: question, flag: '--yes'})
    if (!ok) throw new LifeboatError('not confirmed; nothing was changed', {code: 'NOT_CONFIRMED'})
  }

  /** Human lines of a plan (only without --json). */
  protected printLines(lines: string[]): void {
    if (!this.jsonEnabled()) for (const l of lines) this.log(l)
  }
}

/**
 * A confirmation that --yes does NOT give: the user types the bucket's name, or passes --confirm NAME.
 * For what cannot be undone (COMPLIANCE-mode object lock).
 */
export async function confirmTypedName(policy: PromptPolicy, o: {name: string; action: string; confirm?: string}): Promise<void> {
  if (o.confirm !== undefined) {
    if (o.confirm === o.name) return
    throw new UsageError(`--confirm "${o.confirm}" does not match "${o.name}"; nothing was done`, {
      code: 'CONFIRMATION_MISMATCH',
      hint: `pass --confirm ${o.name} to ${o.action}`,
    })
  }
  // --yes is not enough here; prompt only when a person is at a terminal.
  const interactive = policy.interactive || (policy.reason === '--yes is set' && Boolean(process.stdin.isTTY && process.stdout.isTTY) && !isCI())
  if (!interactive) {
    throw new UsageError(`${o.action} cannot be undone and needs the bucket's name: pass --confirm ${o.name} (--yes is not enough)`, {
      code: 'CONFIRMATION_REQUIRED',
      hint: `not prompting because ${policy.reason ?? 'prompting is off'}`,
    })
  }
  const {input} = await import('@inquirer/prompts')
  const typed = await input({message: `This will ${o.action}. Type the bucket name "${o.name}" to confirm:`})
  if (typed.trim() !== o.name) throw new UsageError(`confirmation did not match "${o.name}"; nothing was done`, {code: 'CONFIRMATION_MISMATCH'})
}

/** Lines for one planned rule change: "+ add  id", then its field changes indented. */
export function changeLines(c: {id: string; action: string; fields: FieldChange[]}, labels: Record<string, string> = {}): string[] {
  const sign: Record<string, string> = {add: '+', change: '~', remove: '-', keep: '=', unchanged: '='}
  const label = labels[c.action] ?? c.action
  const head = `  ${sign[c.action] ?? ' '} ${label.padEnd(9)} ${c.id}`
  if (c.action === 'keep' || c.action === 'unchanged') return [head]
  return [head, ...c.fields.map((f) => `        ${describeField(f)}`)]
}

export function summarizeChanges(changes: Array<{action: string}>): string {
  const n = (a: string) => changes.filter((c) => c.action === a).length
  return `${n('add')} to add, ${n('change')} to change, ${n('remove')} to remove, ${n('keep') + n('unchanged')} unchanged`
}

/** The wanted lifecycle rules: a file and/or the backup-repo preset (shared by `lifecycle plan` and `apply`). */
export const lifecycleRuleFlags = {
  file: Flags.string({char: 'f', description: 'Rules file (YAML, see docs/s3.md).', helpGroup: 'RULES'}),
  preset: Flags.string({description: 'Built-in rules: backup-repo (data packs of a repository to cold storage).', options: ['backup-repo'], helpGroup: 'RULES'}),
  prefix: Flags.string({description: 'backup-repo: the repository prefix in the bucket (s3://BUCKET/PREFIX; "" for the root).', helpGroup: 'RULES'}),
  'cold-after': Flags.integer({description: 'backup-repo: days after upload before data packs move to cold storage [default: 30].', min: 0, helpGroup: 'RULES'}),
  'cold-class': Flags.string({description: 'backup-repo: the cold storage class [default: GLACIER].', options: ['GLACIER', 'DEEP_ARCHIVE', 'GLACIER_IR'], helpGroup: 'RULES'}),
  replace: Flags.boolean({description: 'Remove the bucket\'s rules that the wanted rules do not name (default: keep them).', helpGroup: 'RULES'}),
  'rule-id': Flags.string({description: 'One rule by flags: its id.', helpGroup: 'RULE BY FLAGS'}),
  'filter-prefix': Flags.string({description: 'One rule by flags: only keys under this prefix.', helpGroup: 'RULE BY FLAGS'}),
  tag: Flags.string({description: 'One rule by flags: only objects with this tag, KEY=VALUE (repeatable).', multiple: true, helpGroup: 'RULE BY FLAGS'}),
  transition: Flags.string({description: 'One rule by flags: DAYS:CLASS, e.g. 30:GLACIER (repeatable).', multiple: true, helpGroup: 'RULE BY FLAGS'}),
  'expire-days': Flags.integer({description: 'One rule by flags: delete objects this many days after creation.', helpGroup: 'RULE BY FLAGS'}),
  'noncurrent-expire-days': Flags.integer({description: 'One rule by flags: delete old versions this many days after they became noncurrent.', helpGroup: 'RULE BY FLAGS'}),
  'abort-uploads-days': Flags.integer({description: 'One rule by flags: abort incomplete multipart uploads after this many days.', helpGroup: 'RULE BY FLAGS'}),
}
