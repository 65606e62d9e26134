import {Args, Flags} from '@oclif/core'

import {forgetSnapshots, withinFromConfig, type ForgetGroup, type ForgetResult} from '../../backup/forget.js'
import {lockRepository} from '../../backup/lock.js'
import {parseDuration, parseGroupBy, type ForgetPolicy} from '../../backup/policy.js'
import {pruneRepository, type PruneResult} from '../../backup/prune.js'
import {BackupCommand, repoFlags} from '../../cli/backup-command.js'
import {jobFlags, jobIO} from '../../cli/job-flags.js'
import {table} from '../../cli/format.js'
import {UsageError} from '../../errors.js'
import {reportJob} from '../../ops/report.js'
import {formatBytes} from '../../progress.js'
import {pruneNumbers, pruneSummary} from './prune.js'

const count = (what: string) => Flags.integer({description: `Keep the newest snapshot of each of the N newest ${what}.`, min: 0, helpGroup: 'POLICY'})

export default class BackupForget extends BackupCommand<typeof BackupForget> {
  static override description = `Remove snapshots by a policy, as restic's forget: snapshots are grouped (--group-by), and in each group every snapshot no keep rule matches is removed. Only the snapshot files are deleted; the data stays until prune.
Without keep flags the policy comes from the config's backup.keep; with no policy at all nothing is removed.`
  static override examples = [
    '<%= config.bin %> backup forget --keep-daily 7 --keep-weekly 4 --dry-run',
    '<%= config.bin %> backup forget --keep-last 3 --keep-tag important --host pi --json',
    '<%= config.bin %> backup forget --keep-within 1m15d --group-by host',
    '<%= config.bin %> backup forget 4bba301e 77d0c2a1',
  ]
  static override strict = false
  static override args = {
    snapshot: Args.string({description: 'Snapshots to remove (IDs, unique prefixes, or "latest") instead of a policy.', required: false}),
  }
  static override flags = {
    ...repoFlags,
    'keep-last': Flags.integer({description: 'Keep the N newest snapshots.', min: 0, helpGroup: 'POLICY'}),
    'keep-hourly': count('hours'),
    'keep-daily': count('days'),
    'keep-weekly': count('ISO weeks'),
    'keep-monthly': count('months'),
    'keep-yearly': count('years'),
    'keep-within': Flags.string({description: 'Keep snapshots newer than the newest snapshot minus DURATION, e.g. 1y2m3d4h (m = months).', helpGroup: 'POLICY'}),
    'keep-tag': Flags.string({description: 'Keep snapshots with these tags (repeatable; "a,b" needs both).', multiple: true, multipleNonGreedy: true, helpGroup: 'POLICY'}),
    host: Flags.string({description: 'Only consider snapshots of this host (repeatable).', multiple: true, multipleNonGreedy: true}),
    tag: Flags.string({description: 'Only consider snapshots with this tag (repeatable; "a,b" needs both).', multiple: true, multipleNonGreedy: true}),
    path: Flags.string({description: 'Only consider snapshots that include this path (repeatable).', multiple: true, multipleNonGreedy: true}),
    'group-by': Flags.string({description: 'Apply the policy to each group of snapshots sharing these: host, paths, tags (comma-separated; "" = one group).', default: 'host,paths'}),
    'dry-run': Flags.boolean({char: 'n', description: 'Only show what would be kept and removed, and why.'}),
    prune: Flags.boolean({description: 'Run `backup prune` (default settings) after removing snapshots, under the same lock.'}),
    ...jobFlags,
  }

  async run(): Promise<ForgetResult & {prune?: PruneResult}> {
    const f = this.flags
    const {argv} = await this.parse(BackupForget)
    const ids = (argv as string[]).filter(Boolean)
    const groupBy = parseGroupBy(f['group-by'])
    const policy = ids.length > 0 ? {} : await this.policy()
    if (ids.length > 0 && ['keep-last', 'keep-hourly', 'keep-daily', 'keep-weekly', 'keep-monthly', 'keep-yearly', 'keep-within', 'keep-tag'].some((k) => (f as Record<string, unknown>)[k] !== undefined)) {
      throw new UsageError('give either snapshot IDs or --keep-* rules, not both', {hint: 'run forget twice: once with the IDs, once with the policy'})
    }
    if (policy.within !== undefined) parseDuration(policy.within) // a usage error before touching the repository
    if (f['dry-run']) return this.forget(ids, policy, groupBy)
    const {config} = await this.getConfig()
    const loc = await this.location()
    const job = f.prune ? 'forget-prune' : 'forget'
    return reportJob({job, repository: loc.location, io: jobIO(this.flags, config, (m) => this.info(m))}, () => this.forget(ids, policy, groupBy), (r) => ({
      state: r.policyEmpty ? 'warning' : 'success',
      summary: r.policyEmpty
        ? 'no keep policy is set (flags or backup.keep): nothing was removed'
        : `removed ${r.removed.length} snapshot(s)${r.prune ? `; prune freed ${formatBytes(r.prune.freed)}` : ''}`,
      numbers: {snapshotsRemoved: r.removed.length, snapshotsKept: r.groups.reduce((a, g) => a + g.keep.length, 0), ...(r.prune ? pruneNumbers(r.prune) : {})},
      bytes: r.prune?.freed,
    }))
  }

  private async forget(ids: string[], policy: ForgetPolicy, groupBy: ReturnType<typeof parseGroupBy>): Promise<ForgetResult & {prune?: PruneResult}> {
    const f = this.flags
    const repo = await this.openRepo()
    const lock = f['dry-run'] ? undefined : await lockRepository(repo, {exclusive: true})
    try {
      const result = await forgetSnapshots(repo, {ids, policy, groupBy, dryRun: f['dry-run'], filter: {hosts: f.host, tags: f.tag, paths: f.path}})
      if (!this.jsonEnabled()) this.render(result)
      if (!f.prune || f['dry-run']) return result
      const prune = await pruneRepository(repo, {lockHeld: true})
      if (!this.jsonEnabled()) for (const line of pruneSummary(prune)) this.log(line)
      return {...result, prune}
    } finally {
      await lock?.release()
      await repo.close()
    }
  }

  /** The keep flags, or the config's backup.keep when none is given. */
  private async policy(): Promise<ForgetPolicy> {
    const f = this.flags
    const fromFlags: ForgetPolicy = {
      last: f['keep-last'],
      hourly: f['keep-hourly'],
      daily: f['keep-daily'],
      weekly: f['keep-weekly'],
      monthly: f['keep-monthly'],
      yearly: f['keep-yearly'],
      within: f['keep-within'],
      keepTags: f['keep-tag'],
    }
    if (Object.values(fromFlags).some((v) => v !== undefined)) return fromFlags
    const keep = (await this.getConfig()).config.backup?.keep
    if (!keep) return {}
    return {...keep, within: keep.within === undefined ? undefined : withinFromConfig(keep.within)}
  }

  private render(r: ForgetResult): void {
    if (r.policyEmpty) {
      this.logToStderr('no policy was specified, no snapshots will be removed')
      return
    }
    for (const g of r.groups) {
      this.log(`snapshots for ${describeGroup(g)}:`)
      const rows = [...g.keep.map((s) => ({s, action: 'keep'})), ...g.remove.map((s) => ({s, action: r.dryRun ? 'would remove' : 'remove'}))]
      rows.sort((a, b) => Date.parse(b.s.time) - Date.parse(a.s.time))
      this.log(
        table(
          ['ID', 'Time', 'Host', 'Tags', 'Action', 'Reasons'],
          rows.map(({s, action}) => [s.short_id, s.time.replace('T', ' ').replace(/\.\d+/, '').slice(0, 19), s.hostname ?? '', (s.tags ?? []).join(','), action, s.reasons.join(', ')]),
        ),
      )
      this.log('')
    }
    const n = r.groups.reduce((a, g) => a + g.remove.length, 0)
    const s = (k: number) => `${k} snapshot${k === 1 ? '' : 's'}`
    this.log(r.dryRun ? `would remove ${s(n)} (dry run)` : `removed ${s(r.removed.length)}`)
  }
}

function describeGroup(g: ForgetGroup): string {
  const parts: string[] = []
  if (g.key.hostname !== undefined) parts.push(`host [${g.key.hostname}]`)
  if (g.key.paths !== undefined) parts.push(`paths [${g.key.paths.join(', ')}]`)
  if (g.key.tags !== undefined) parts.push(`tags [${g.key.tags.join(', ')}]`)
  return parts.length === 0 ? 'all snapshots' : `(${parts.join(', ')})`
}
