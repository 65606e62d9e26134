import {Args, Flags} from '@oclif/core'

import {findInSnapshots, parseFindTime, type SnapshotMatches} from '../../backup/find.js'
import {selectSnapshots} from '../../backup/stats.js'
import {BackupCommand, repoFlags} from '../../cli/backup-command.js'
import {ExitCode} from '../../errors.js'
import {formatBytes} from '../../progress.js'

export default class BackupFind extends BackupCommand<typeof BackupFind> {
  static override description = `Find files and folders in snapshots, as restic's find.
A pattern is a glob ("*", "?", "[a-z]", "**" for any number of folders). Without a "/" it matches any path
component, so "*.jpg" finds names and "docs" finds the folder docs and what is in it; with a "/" it matches
consecutive components ("docs/*.txt"); a leading "/" anchors it at the snapshot's root.`
  static override examples = [
    "<%= config.bin %> backup find '*.jpg'",
    "<%= config.bin %> backup find 'docs/*.txt' --snapshot latest --ignore-case",
    "<%= config.bin %> backup find '/home/pi/**/*.conf' --host pi --newest '2024-05-01 12:00' --json",
  ]
  static override strict = false
  static override args = {
    pattern: Args.string({description: 'patterns to look for (repeatable)', required: true}),
  }
  static override flags = {
    ...repoFlags,
    snapshot: Flags.string({char: 's', description: 'Only this snapshot (ID prefix or "latest"; repeatable). Default: all.', multiple: true}),
    host: Flags.string({description: 'Only snapshots of this host (repeatable).', multiple: true}),
    tag: Flags.string({description: 'Only snapshots with this tag (repeatable; "a,b" needs both).', multiple: true}),
    path: Flags.string({description: 'Only snapshots that include this path (repeatable).', multiple: true}),
    'ignore-case': Flags.boolean({char: 'i', description: 'Match patterns without regard to case.'}),
    oldest: Flags.string({char: 'O', description: 'Only entries modified at or after this time ("2006-01-02", "2006-01-02 15:04[:05]", local time).'}),
    newest: Flags.string({char: 'N', description: 'Only entries modified at or before this time.'}),
  }

  async run(): Promise<SnapshotMatches[]> {
    const {argv} = await this.parse(BackupFind)
    const patterns = (argv as string[]).filter(Boolean)
    if (patterns.length === 0) this.error('no pattern given: name a file or a glob such as "*.txt"', {exit: ExitCode.USAGE})
    const oldest = this.flags.oldest === undefined ? undefined : parseFindTime(this.flags.oldest, '--oldest')
    const newest = this.flags.newest === undefined ? undefined : parseFindTime(this.flags.newest, '--newest')
    const repo = await this.openRepo()
    let found: SnapshotMatches[]
    try {
      const snapshots = await selectSnapshots(repo, {ids: this.flags.snapshot, hosts: this.flags.host, tags: this.flags.tag, paths: this.flags.path})
      snapshots.reverse() // newest first, as restic prints them
      found = await findInSnapshots(repo, snapshots, {patterns, ignoreCase: this.flags['ignore-case'], oldest, newest})
    } finally {
      await repo.close()
    }
    if (!this.jsonEnabled()) {
      if (found.length === 0) this.log('no matches')
      for (const s of found) {
        this.log(`Found ${s.hits} matching entr${s.hits === 1 ? 'y' : 'ies'} in snapshot ${s.snapshot.slice(0, 8)} from ${s.time.replace('T', ' ').slice(0, 19)}`)
        for (const m of s.matches) {
          const size = m.type === 'file' ? formatBytes(m.size) : ''
          this.log(`  ${m.type.padEnd(7)} ${size.padStart(10)}  ${m.mtime.replace('T', ' ').slice(0, 19)}  ${m.path}${m.type === 'dir' ? '/' : ''}${m.linktarget ? ` -> ${m.linktarget}` : ''}`)
        }
        this.log('')
      }
    }
    return found
  }
}
