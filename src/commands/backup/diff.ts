import {Args, Flags} from '@oclif/core'

import {diffTrees, type DiffResult} from '../../backup/diff.js'
import {BackupCommand, repoFlags} from '../../cli/backup-command.js'
import {formatBytes} from '../../progress.js'

export default class BackupDiff extends BackupCommand<typeof BackupDiff> {
  static override description = `Show what changed between two snapshots, as restic's diff.
Each line is a modifier and a path: + added, - removed, M content changed, T type changed, U metadata
changed (with --metadata); folders end in "/". Then a summary of files, folders, blobs and bytes added and removed.`
  static override examples = [
    '<%= config.bin %> backup diff 4f1a2b latest',
    '<%= config.bin %> backup diff 4f1a2b 9c0d3e --metadata',
    '<%= config.bin %> backup diff 4f1a2b latest --json',
  ]
  static override args = {
    source: Args.string({description: 'the older snapshot: ID (a unique prefix is enough) or "latest"', required: true}),
    target: Args.string({description: 'the newer snapshot: ID (a unique prefix is enough) or "latest"', required: true}),
  }
  static override flags = {
    ...repoFlags,
    metadata: Flags.boolean({description: 'Also list paths whose metadata changed (mode, times, owner…): "U".'}),
    host: Flags.string({description: 'With "latest": the newest snapshot of this host.'}),
  }

  async run(): Promise<DiffResult> {
    const repo = await this.openRepo()
    const human = !this.jsonEnabled()
    try {
      const a = await repo.findSnapshot(this.args.source, {hostname: this.flags.host})
      const b = await repo.findSnapshot(this.args.target, {hostname: this.flags.host})
      await repo.loadIndex()
      if (human) this.log(`comparing snapshot ${a.id.slice(0, 8)} to ${b.id.slice(0, 8)}:\n`)
      const r = await diffTrees(repo, {id: a.id, tree: a.snapshot.tree}, {id: b.id, tree: b.snapshot.tree}, {
        metadata: this.flags.metadata,
        onChange: human ? (c) => this.log(`${c.modifier.padEnd(5)}${c.path}`) : undefined,
      })
      if (human) {
        const s = r.stats
        const n = (v: number) => String(v).padStart(5)
        this.log('')
        this.log(`Files:       ${n(s.added.files)} new, ${n(s.removed.files)} removed, ${n(s.changed_files)} changed`)
        this.log(`Dirs:        ${n(s.added.dirs)} new, ${n(s.removed.dirs)} removed`)
        this.log(`Others:      ${n(s.added.others)} new, ${n(s.removed.others)} removed`)
        this.log(`Data Blobs:  ${n(s.added.data_blobs)} new, ${n(s.removed.data_blobs)} removed`)
        this.log(`Tree Blobs:  ${n(s.added.tree_blobs)} new, ${n(s.removed.tree_blobs)} removed`)
        this.log(`  Added:   ${formatBytes(s.added.bytes)}`)
        this.log(`  Removed: ${formatBytes(s.removed.bytes)}`)
      }
      return r
    } finally {
      await repo.close()
    }
  }
}
