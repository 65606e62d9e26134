import {Flags} from '@oclif/core'

import {checkRepository, type CheckResult} from '../../backup/checker.js'
import {BackupCommand, coldFlags, coldOptionsFrom, repoFlags} from '../../cli/backup-command.js'
import {jobFlags, jobIO} from '../../cli/job-flags.js'
import {renderMode, withProgress} from '../../cli/progress.js'
import {ExitCode} from '../../errors.js'
import {reportJob} from '../../ops/report.js'
import {formatBytes, formatDuration} from '../../progress.js'

export default class BackupCheck extends BackupCommand<typeof BackupCheck> {
  static override description = `Check the repository: index against packs, every snapshot's trees, every referenced blob.
With --read-data every pack is read and every blob decrypted and verified. Damage is reported with the packs and
the snapshot files it affects, and the exit code is 1.`
  static override examples = [
    '<%= config.bin %> backup check',
    '<%= config.bin %> backup check --read-data',
    '<%= config.bin %> backup check --read-data-subset 1/7   # a seventh of the packs each day',
    '<%= config.bin %> backup check --read-data-subset 10% --json',
  ]
  static override flags = {
    ...repoFlags,
    ...coldFlags,
    'read-data': Flags.boolean({description: 'Read and verify all data.', exclusive: ['read-data-subset']}),
    'read-data-subset': Flags.string({description: 'Read and verify a subset of the packs: n/t or x%.'}),
    ...jobFlags,
  }

  async run(): Promise<CheckResult> {
    const subset = this.flags['read-data-subset']
    if (subset !== undefined && !/^(\d+\/\d+|\d+(\.\d+)?%)$/.test(subset)) {
      this.error(`--read-data-subset "${subset}" is not n/t (e.g. 2/5) or x% (e.g. 10%)`, {exit: ExitCode.USAGE})
    }
    const {config} = await this.getConfig()
    const loc = await this.location()
    return reportJob({job: 'check', repository: loc.location, io: jobIO(this.flags, config, (m) => this.info(m))}, () => this.check(subset), (r) => ({
      state: r.ok ? 'success' : 'failure',
      summary: r.ok
        ? `no errors in ${r.stats.snapshots} snapshots, ${r.stats.packs} packs${r.stats.packsRead > 0 ? ` (${r.stats.packsRead} packs read)` : ''}`
        : `${r.errors.length} error(s): ${r.errors.slice(0, 3).map((e) => e.message).join('; ')}`,
      numbers: {snapshots: r.stats.snapshots, packs: r.stats.packs, packsRead: r.stats.packsRead, readBytes: r.stats.bytesRead, errors: r.errors.length, affectedFiles: r.affected.length},
      bytes: r.stats.bytesRead,
      action: r.ok ? undefined : 'The repository is damaged: run `lifeboat backup check --read-data` to see every affected file, keep the other copies safe, and back up the affected files again.',
    }))
  }

  private async check(subset: string | undefined): Promise<CheckResult> {
    const repo = await this.openRepo()
    let result: CheckResult
    try {
      result = await withProgress('check', {mode: renderMode({json: this.jsonEnabled()})}, (onEvent) =>
        checkRepository(repo, {
            readData: this.flags['read-data'], readDataSubset: subset, onEvent, cold: coldOptionsFrom(this.flags, (m) => this.info(m))}),
      )
    } finally {
      await repo.close()
    }
    if (!this.jsonEnabled()) {
      const s = result.stats
      for (const e of result.errors) this.logToStderr(`error: ${e.kind}${e.id ? ` ${e.id.slice(0, 12)}` : ''}: ${e.message}`)
      for (const a of result.affected) this.logToStderr(`affected: snapshot ${a.snapshot.slice(0, 8)}: ${a.path}${a.pack ? ` (pack ${a.pack.slice(0, 12)})` : ''}`)
      if (result.unreferencedPacks.length > 0) {
        this.log(`${result.unreferencedPacks.length} pack(s) are in no index (left by an interrupted backup; not an error, a prune removes them)`)
      }
      this.log(`checked ${s.snapshots} snapshots, ${s.trees} trees, ${s.packs} packs${s.packsRead > 0 ? `; read ${s.packsRead} packs (${formatBytes(s.bytesRead)})` : ''} in ${formatDuration(s.durationMs / 1000)}`)
      this.log(result.ok ? 'no errors were found' : `${result.errors.length} error(s) found`)
    }
    if (!result.ok) this.exitCodeAfterRun = ExitCode.FAILURE
    return result
  }
}
