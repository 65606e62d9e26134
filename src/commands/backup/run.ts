import {Args, Flags} from '@oclif/core'

import {Archiver, type BackupResult} from '../../backup/archiver.js'
import {readExcludeFiles} from '../../backup/exclude.js'
import {backendFor} from '../../backup/open.js'
import type {Repository} from '../../backup/repository.js'
import {BackupCommand, repoFlags} from '../../cli/backup-command.js'
import {jobFlags, jobIO} from '../../cli/job-flags.js'
import {renderMode, withProgress} from '../../cli/progress.js'
import {ExitCode} from '../../errors.js'
import {sample} from '../../ops/metrics.js'
import {reportJob} from '../../ops/report.js'
import {formatBytes, formatDuration, type ProgressEvent} from '../../progress.js'

export default class BackupRun extends BackupCommand<typeof BackupRun> {
  static override description = `Back up files and folders into a snapshot.
Unchanged files (same size, mtime, ctime and inode as in the parent snapshot) are not read again. Files that
cannot be read are reported and left out; the snapshot is still written and the exit code is 3.
When the default local repository does not exist yet, it is created first.`
  static override examples = [
    '<%= config.bin %> backup run ~/Documents',
    '<%= config.bin %> backup run /srv/data --tag nightly --exclude "*.tmp" --exclude-file /etc/lifeboat/excludes',
    'LIFEBOAT_PASSWORD_FILE=/etc/lifeboat/pw <%= config.bin %> backup run /mnt/raid --repo /mnt/usb/repo --json',
  ]
  static override strict = false
  static override args = {paths: Args.string({description: 'files and folders to back up', required: false})}
  static override flags = {
    ...repoFlags,
    tag: Flags.string({description: 'Tag the snapshot (repeatable).', multiple: true}),
    host: Flags.string({description: 'Hostname stored in the snapshot (default: this machine).'}),
    exclude: Flags.string({char: 'e', description: 'Exclude paths matching a pattern (repeatable; restic syntax).', multiple: true}),
    'exclude-file': Flags.string({description: 'Read exclude patterns from a file (repeatable).', multiple: true}),
    'one-file-system': Flags.boolean({char: 'x', description: 'Do not cross into other filesystems.'}),
    parent: Flags.string({description: 'Parent snapshot to compare with (default: the latest with the same host and paths).'}),
    force: Flags.boolean({description: 'Read every file again (no parent snapshot).'}),
    'dry-run': Flags.boolean({char: 'n', description: 'Scan and report what would be stored; write nothing.'}),
    ...jobFlags,
  }

  async run(): Promise<Record<string, unknown>> {
    // A dry run is not a job: nothing to notify, record or measure.
    if (this.flags['dry-run']) return this.backup()
    const {config} = await this.getConfig()
    const loc = await this.location()
    return reportJob({job: 'backup', repository: loc.location, io: jobIO(this.flags, config, (m) => this.info(m))}, () => this.backup(), (r) => {
      const n = r as {snapshot_id?: string; files_new: number; files_changed: number; data_added: number; total_files_processed: number; total_bytes_processed: number}
      return {
        state: this.warnings.length > 0 ? 'warning' : 'success',
        summary: `snapshot ${n.snapshot_id?.slice(0, 8)} saved: ${n.files_new} new, ${n.files_changed} changed files, ${formatBytes(n.data_added)} added${this.warnings.length > 0 ? `; ${this.warnings.length} warning(s): ${this.warnings.slice(0, 3).join('; ')}` : ''}`,
        numbers: {snapshot: n.snapshot_id ?? '', filesNew: n.files_new, filesChanged: n.files_changed, addedBytes: n.data_added, processedBytes: n.total_bytes_processed, warnings: this.warnings.length},
        bytes: n.total_bytes_processed,
        files: n.total_files_processed,
        metrics: [sample('lifeboat_snapshot_age_seconds', {repository: loc.location}, 0)],
      }
    })
  }

  private async backup(): Promise<Record<string, unknown>> {
    const {argv} = await this.parse(BackupRun)
    const paths = (argv as string[]).filter(Boolean)
    const {config} = await this.getConfig()
    const f = this.flags
    const targets = paths.length > 0 ? paths : (config.backup?.paths ?? [])
    if (targets.length === 0) this.error('nothing to back up: name the files and folders (or set backup.paths in the config)', {exit: ExitCode.USAGE})
    const excludes = [...(config.backup?.exclude ?? []), ...(f.exclude ?? []), ...readExcludeFiles([...(f['exclude-file'] ?? []), ...(config.backup?.excludeFile ? [config.backup.excludeFile] : [])])]

    const loc = await this.location()
    let created = false
    let repo: Repository
    const exists = await (await backendFor(loc.location, await this.backendOptions())).exists({type: 'config', name: 'config'})
    if (!exists && loc.source === 'default' && !f['dry-run']) {
      repo = await this.initRepo(loc)
      created = true
      this.info(`created the default repository at ${repo.backend.location}`)
    } else {
      repo = await this.openRepo()
    }

    const json = this.jsonEnabled()
    let lastStatus = 0
    const jsonStatus = (ev: ProgressEvent) => {
      if (ev.kind !== 'progress') return
      const now = Date.now()
      if (now - lastStatus < 1000) return
      lastStatus = now
      process.stdout.write(
        JSON.stringify({
          message_type: 'status',
          seconds_elapsed: Math.round((now - started) / 1000),
          percent_done: ev.totalBytes ? ev.bytes / ev.totalBytes : 0,
          total_files: ev.totalFiles,
          files_done: ev.files,
          total_bytes: ev.totalBytes,
          bytes_done: ev.bytes,
          current_files: ev.currentFile ? [ev.currentFile] : [],
        }) + '\n',
      )
    }
    const s3Connections = (await this.backendOptions()).s3?.connections
    const started = Date.now()
    let result: BackupResult
    try {
      result = await withProgress(`backup to ${repo.backend.location}`, {mode: renderMode({json})}, (onEvent) =>
        new Archiver(repo, {
          uploadConnections: s3Connections,
          paths: targets,
          // restic semantics: --tag a,b is two tags.
          tags: (f.tag ?? config.backup?.tags)?.flatMap((t) => t.split(',')).filter(Boolean),
          host: f.host ?? config.backup?.host,
          excludes,
          oneFileSystem: f['one-file-system'] || config.backup?.oneFileSystem,
          parent: f.force ? null : f.parent,
          dryRun: f['dry-run'],
          onEvent: (ev) => {
            if (json) jsonStatus(ev)
            else onEvent(ev)
          },
        }).run(),
      )
    } finally {
      await repo.close()
    }
    for (const w of result.warnings) this.warnings.push(`${w.path ? `${w.path}: ` : ''}${w.message}`)
    const s = result.summary
    const elapsed = (Date.now() - started) / 1000
    if (!json) {
      for (const w of result.warnings) this.logToStderr(`warning: ${w.path ? `${w.path}: ` : ''}${w.message}`)
      if (result.parent) this.log(`using parent snapshot ${result.parent.slice(0, 8)}`)
      this.log(`Files:  ${s.files_new} new, ${s.files_changed} changed, ${s.files_unmodified} unmodified`)
      this.log(`Dirs:   ${s.dirs_new} new, ${s.dirs_changed} changed, ${s.dirs_unmodified} unmodified`)
      this.log(`Added to the repository: ${formatBytes(s.data_added)} (${formatBytes(s.data_added_packed)} stored)`)
      this.log(`processed ${s.total_files_processed} files, ${formatBytes(s.total_bytes_processed)} in ${formatDuration(elapsed)}`)
      this.log(result.dryRun ? 'dry run: nothing was written' : `snapshot ${result.snapshotId!.slice(0, 8)} saved`)
    }
    if (result.warnings.length > 0) this.exitCodeAfterRun = ExitCode.WARNINGS
    return {
      message_type: 'summary',
      ...s,
      total_duration: elapsed,
      snapshot_id: result.snapshotId,
      parent: result.parent,
      dry_run: result.dryRun,
      repository: repo.backend.location,
      repository_created: created,
    }
  }

  protected override logJson(json: unknown): void {
    // JSON lines: the status lines and the closing envelope are one object per line.
    process.stdout.write(JSON.stringify(json) + '\n')
  }
}
