import {Flags} from '@oclif/core'

import {restoreTest, type RestoreTestResult} from '../../backup/restore-test.js'
import {BackupCommand, repoFlags} from '../../cli/backup-command.js'
import {jobFlags, jobIO} from '../../cli/job-flags.js'
import {renderMode, withProgress} from '../../cli/progress.js'
import {ExitCode} from '../../errors.js'
import {reportJob} from '../../ops/report.js'
import {formatBytes, formatDuration} from '../../progress.js'

export default class BackupRestoreTest extends BackupCommand<typeof BackupRestoreTest> {
  static override description = `Prove that backups restore: restore a random sample of a snapshot's files (or a named path) into a temporary folder, verify each against the snapshot (size and every content blob's SHA-256), report time and throughput, and clean up.
Exit 1 when any file does not match. Schedulable: lifeboat schedule add restore-test --every 1w.`
  static override examples = [
    '<%= config.bin %> backup restore-test',
    '<%= config.bin %> backup restore-test --sample 100 --json',
    '<%= config.bin %> backup restore-test --path /home/pi/Documents --snapshot 4f1a2b',
  ]
  static override flags = {
    ...repoFlags,
    sample: Flags.integer({description: 'Test this many random files (default 20).', min: 1, exclusive: ['path']}),
    path: Flags.string({description: 'Test every file at and below this path of the snapshot instead.'}),
    snapshot: Flags.string({description: 'Snapshot ID (prefix) or "latest".', default: 'latest'}),
    host: Flags.string({description: 'With "latest": the newest snapshot of this host.'}),
    seed: Flags.string({description: 'Seed of the random sample (the result shows the one used, to re-run the same sample).'}),
    'tmp-dir': Flags.string({description: 'Restore into a temporary folder below this one (default the OS temp folder; needs room for the sample).'}),
    keep: Flags.boolean({description: 'Keep the restored files (the folder is printed).'}),
    ...jobFlags,
  }

  async run(): Promise<RestoreTestResult> {
    const {config} = await this.getConfig()
    const loc = await this.location()
    const f = this.flags
    const result = await reportJob(
      {job: 'restore-test', repository: loc.location, io: jobIO(f, config, (m) => this.info(m))},
      async () => {
        const repo = await this.openRepo()
        try {
          const snapshot = await repo.findSnapshot(f.snapshot, {hostname: f.host})
          this.info(`restore test of snapshot ${snapshot.id.slice(0, 8)} (${snapshot.snapshot.time}) in ${repo.backend.location}`)
          return await withProgress(`restore test ${snapshot.id.slice(0, 8)}`, {mode: renderMode({json: this.jsonEnabled()})}, (onEvent) =>
            restoreTest(repo, {snapshot, sample: f.sample, path: f.path, seed: f.seed, tmpDir: f['tmp-dir'], keep: f.keep, onEvent}),
          )
        } finally {
          await repo.close()
        }
      },
      (r) => ({
        state: r.ok ? 'success' : 'failure',
        summary: r.ok
          ? `${r.files} files (${formatBytes(r.bytes)}) of snapshot ${r.snapshotId.slice(0, 8)} restored and verified at ${formatBytes(r.bytesPerSecond)}/s`
          : `${r.mismatches.length} of ${r.files} restored files do not match snapshot ${r.snapshotId.slice(0, 8)}: ${r.mismatches.slice(0, 3).map((m) => `${m.path}: ${m.reason}`).join('; ')}`,
        numbers: {snapshot: r.snapshotId.slice(0, 8), files: r.files, bytes: r.bytes, mismatches: r.mismatches.length, restoreSeconds: Math.round(r.restoreMs / 1000), throughputBytes: r.bytesPerSecond, ...(r.seed ? {seed: r.seed} : {})},
        bytes: r.bytes,
        files: r.files,
        action: r.ok ? undefined : 'Restored data does not match the snapshot: run `lifeboat backup check --read-data` and keep the other copies safe until it is explained.',
      }),
    )
    if (!this.jsonEnabled()) {
      for (const m of result.mismatches) this.logToStderr(`MISMATCH ${m.path}: ${m.reason}`)
      this.log(
        `${result.mode === 'sample' ? `sample of ${result.files} of ${result.candidates} files (seed ${result.seed})` : `${result.files} files at ${this.flags.path}`}: ` +
          `${formatBytes(result.bytes)} restored in ${formatDuration(result.restoreMs / 1000)} (${formatBytes(result.bytesPerSecond)}/s), verified in ${formatDuration(result.verifyMs / 1000)}`,
      )
      if (result.skipped > 0) this.log(`${result.skipped} file(s) with names that are not UTF-8 could not be sampled`)
      this.log(result.ok ? 'all files match the snapshot' : `${result.mismatches.length} file(s) do NOT match the snapshot`)
      this.log(result.cleanedUp ? 'temporary files removed' : `restored files kept in ${result.target}`)
    }
    if (!result.ok) this.exitCodeAfterRun = ExitCode.FAILURE
    return result
  }
}
