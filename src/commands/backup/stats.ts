import {Args, Flags} from '@oclif/core'

import {repositoryStats, selectSnapshots, STATS_MODES, type StatsMode, type StatsResult} from '../../backup/stats.js'
import {BackupCommand, repoFlags} from '../../cli/backup-command.js'
import {formatBytes} from '../../progress.js'

export default class BackupStats extends BackupCommand<typeof BackupStats> {
  static override description = `Show how big snapshots are, as restic's stats does.
Modes: restore-size (default: what a restore writes; every file, hard links once), files-by-contents (files of
unique content), blobs-per-file (each file's blobs), raw-data (the unique blobs stored for the snapshots, with
the compression and deduplication ratios).`
  static override examples = [
    '<%= config.bin %> backup stats',
    '<%= config.bin %> backup stats latest',
    '<%= config.bin %> backup stats --mode raw-data --json',
    '<%= config.bin %> backup stats --host pi --tag nightly --mode files-by-contents',
  ]
  static override strict = false
  static override args = {
    snapshot: Args.string({description: 'snapshot IDs (unique prefixes) or "latest"; default: all snapshots matching the filters'}),
  }
  static override flags = {
    ...repoFlags,
    mode: Flags.string({description: 'What to count.', options: [...STATS_MODES], default: 'restore-size'}),
    host: Flags.string({description: 'Only snapshots of this host (repeatable).', multiple: true}),
    tag: Flags.string({description: 'Only snapshots with this tag (repeatable; "a,b" needs both).', multiple: true}),
    path: Flags.string({description: 'Only snapshots that include this path (repeatable).', multiple: true}),
  }

  async run(): Promise<StatsResult> {
    const {argv} = await this.parse(BackupStats)
    const ids = (argv as string[]).filter(Boolean)
    const repo = await this.openRepo()
    let r: StatsResult
    try {
      const snapshots = await selectSnapshots(repo, {ids, hosts: this.flags.host, tags: this.flags.tag, paths: this.flags.path})
      r = await repositoryStats(repo, snapshots, this.flags.mode as StatsMode)
    } finally {
      await repo.close()
    }
    if (!this.jsonEnabled()) {
      const rows: Array<[string, string]> = [['Snapshots processed', String(r.snapshots_count)]]
      if (r.mode !== 'raw-data') rows.push(['Total File Count', String(r.total_file_count)])
      if (r.total_blob_count !== undefined) rows.push(['Total Blob Count', String(r.total_blob_count)])
      rows.push([r.mode === 'raw-data' ? 'Total Size (stored)' : 'Total Size', formatBytes(r.total_size)])
      if (r.mode === 'raw-data') {
        rows.push(
          ['Total Uncompressed Size', formatBytes(r.total_uncompressed_size ?? 0)],
          ['Compression Ratio', `${(r.compression_ratio ?? 1).toFixed(2)}x`],
          ['Compression Progress', `${(r.compression_progress ?? 0).toFixed(2)}%`],
          ['Compression Space Saving', `${(r.compression_space_saving ?? 0).toFixed(2)}%`],
          ['Restore Size', formatBytes(r.restore_size ?? 0)],
          ['Unique File Data', formatBytes(r.unique_data_size ?? 0)],
          ['Deduplication Ratio', `${(r.dedup_ratio ?? 1).toFixed(2)}x`],
        )
      }
      const w = Math.max(...rows.map(([k]) => k.length))
      this.log(`Stats in ${r.mode} mode:`)
      for (const [k, v] of rows) this.log(`${k.padStart(w)}:  ${v}`)
    }
    return r
  }
}
