import {Flags} from '@oclif/core'

import {type ListedSnapshot, listSnapshots} from '../../backup/snapshots.js'
import {BackupCommand, repoFlags} from '../../cli/backup-command.js'
import {table} from '../../cli/format.js'

export default class BackupSnapshots extends BackupCommand<typeof BackupSnapshots> {
  static override description = 'List snapshots, oldest first.'
  static override examples = ['<%= config.bin %> backup snapshots', '<%= config.bin %> backup snapshots --host pi --tag nightly --latest 3 --json']
  static override flags = {
    ...repoFlags,
    host: Flags.string({description: 'Only snapshots of this host (repeatable).', multiple: true}),
    tag: Flags.string({description: 'Only snapshots with this tag (repeatable; "a,b" needs both).', multiple: true}),
    path: Flags.string({description: 'Only snapshots that include this path (repeatable).', multiple: true}),
    latest: Flags.integer({description: 'Only the newest N snapshots of each host and path set.', min: 1}),
  }

  async run(): Promise<{snapshots: ListedSnapshot[]}> {
    const repo = await this.openRepo()
    try {
      const list = await listSnapshots(repo, {hosts: this.flags.host, tags: this.flags.tag, paths: this.flags.path, latest: this.flags.latest})
      if (!this.jsonEnabled()) {
        this.log(
          table(
            ['ID', 'Time', 'Host', 'Tags', 'Paths'],
            list.map((s) => [s.short_id, s.time.replace('T', ' ').replace(/\.\d+/, '').slice(0, 19), s.hostname ?? '', (s.tags ?? []).join(','), s.paths.join('\n' + ' '.repeat(0))]),
          ),
        )
        this.log(`${list.length} snapshot${list.length === 1 ? '' : 's'}`)
      }
      return {snapshots: list}
    } finally {
      await repo.close()
    }
  }
}
