import {Args, Flags} from '@oclif/core'

import {lockRepository} from '../../backup/lock.js'
import {restoreSnapshot, type RestoreResult} from '../../backup/restorer.js'
import {BackupCommand, coldFlags, coldOptionsFrom, repoFlags} from '../../cli/backup-command.js'
import {renderMode, withProgress} from '../../cli/progress.js'
import {ExitCode} from '../../errors.js'
import {formatBytes, formatDuration} from '../../progress.js'

export default class BackupRestore extends BackupCommand<typeof BackupRestore> {
  static override description = `Restore a snapshot (ID prefix, "latest", or ID:subfolder) into a folder.
Contents and metadata are restored; every blob is verified as it is decrypted, --verify also reads the files back.
Damaged data is reported with the files it affects (exit 1) while everything else is restored.`
  static override examples = [
    '<%= config.bin %> backup restore latest --target /srv/restore',
    '<%= config.bin %> backup restore 4f1a2b --target /tmp/r --include /home/pi/docs --verify',
    '<%= config.bin %> backup restore latest:/home/pi --target /home/pi --exclude "*.cache"',
  ]
  static override args = {snapshot: Args.string({description: 'snapshot ID (unique prefix), "latest", optionally followed by :SUBFOLDER', required: true})}
  static override flags = {
    ...repoFlags,
    ...coldFlags,
    target: Flags.string({char: 't', description: 'Folder to restore into (created if needed).', required: true}),
    include: Flags.string({char: 'i', description: 'Restore only paths matching a pattern (repeatable).', multiple: true}),
    exclude: Flags.string({char: 'e', description: 'Do not restore paths matching a pattern (repeatable).', multiple: true}),
    verify: Flags.boolean({description: 'Read the restored files back and check their contents.'}),
    host: Flags.string({description: 'With "latest": the newest snapshot of this host.'}),
  }

  async run(): Promise<Record<string, unknown>> {
    const [ref, ...sub] = this.args.snapshot.split(':')
    const repo = await this.openRepo()
    let result: RestoreResult
    try {
      const lock = await lockRepository(repo, {exclusive: false})
      try {
        const snapshot = await repo.findSnapshot(ref, {hostname: this.flags.host})
        await repo.loadIndex()
        this.info(`restoring snapshot ${snapshot.id.slice(0, 8)} of ${snapshot.snapshot.paths.join(', ')} to ${this.flags.target}`)
        result = await withProgress(`restore ${snapshot.id.slice(0, 8)}`, {mode: renderMode({json: this.jsonEnabled()})}, (onEvent) =>
          restoreSnapshot(repo, {
            cold: coldOptionsFrom(this.flags, (m) => this.info(m)),
            snapshot,
            target: this.flags.target,
            include: this.flags.include,
            exclude: this.flags.exclude,
            subPath: sub.length > 0 ? sub.join(':') : undefined,
            verify: this.flags.verify,
            onEvent,
          }),
        )
      } finally {
        await lock.release()
      }
    } finally {
      await repo.close()
    }
    for (const w of result.warnings) this.addWarning(`${w.path ? `${w.path}: ` : ''}${w.message}`)
    if (!this.jsonEnabled()) {
      for (const e of result.errors) this.logToStderr(`error: ${e.path}: ${e.message}`)
      this.log(`restored ${result.files} files and ${result.dirs} folders, ${formatBytes(result.bytes)} in ${formatDuration(result.durationMs / 1000)}`)
      if (result.verified) {
        this.log(
          result.verified.mismatches.length === 0
            ? `verified ${result.verified.files} files (${formatBytes(result.verified.bytes)}): all match`
            : `verification found ${result.verified.mismatches.length} mismatching file(s): ${result.verified.mismatches.join(', ')}`,
        )
      }
    }
    if (result.errors.length > 0 || (result.verified?.mismatches.length ?? 0) > 0) this.exitCodeAfterRun = ExitCode.FAILURE
    else if (result.warnings.length > 0) this.exitCodeAfterRun = ExitCode.WARNINGS
    return {...result}
  }
}
