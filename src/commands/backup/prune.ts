import {Flags} from '@oclif/core'

import {parseLockDuration, parseMaxUnused, parseSize, pruneRepository, type PruneResult} from '../../backup/prune.js'
import {BackupCommand, repoFlags} from '../../cli/backup-command.js'
import {jobFlags, jobIO} from '../../cli/job-flags.js'
import {renderMode, withProgress} from '../../cli/progress.js'
import {reportJob} from '../../ops/report.js'
import {formatBytes} from '../../progress.js'

export default class BackupPrune extends BackupCommand<typeof BackupPrune> {
  static override description = `Remove data no snapshot needs, as restic's prune: packs nothing uses are deleted, partly used packs are
repacked while more than --max-unused would stay unused, and packs no index names (left by killed backups) are removed.
Takes an exclusive lock; the new index is written before anything is deleted, so an interrupted prune leaves a sound repository.`
  static override examples = [
    '<%= config.bin %> backup prune --dry-run',
    '<%= config.bin %> backup prune --max-unused 10% --max-repack-size 2G',
    '<%= config.bin %> backup prune --retry-lock 5m --json',
  ]
  static override flags = {
    ...repoFlags,
    'max-unused': Flags.string({description: 'Tolerate this much unused space: P% of the used size, a SIZE (e.g. 500M) or "unlimited".', default: '5%'}),
    'max-repack-size': Flags.string({description: 'Repack at most SIZE of packs (e.g. 2G).'}),
    'repack-cacheable-only': Flags.boolean({description: 'Only repack packs of trees (metadata).'}),
    'dry-run': Flags.boolean({char: 'n', description: 'Only show what would be removed and repacked.'}),
    'retry-lock': Flags.string({description: 'Wait up to DURATION (e.g. 30s, 5m) for other locks to go away.'}),
    ...jobFlags,
  }

  async run(): Promise<PruneResult> {
    const f = this.flags
    // Usage errors before touching the repository.
    parseMaxUnused(f['max-unused'])
    const maxRepackBytes = f['max-repack-size'] === undefined ? undefined : parseSize(f['max-repack-size'], '--max-repack-size')
    const retryLockMs = f['retry-lock'] === undefined ? undefined : parseLockDuration(f['retry-lock'])
    if (f['dry-run']) return this.prune(maxRepackBytes, retryLockMs)
    const {config} = await this.getConfig()
    const loc = await this.location()
    return reportJob({job: 'prune', repository: loc.location, io: jobIO(this.flags, config, (m) => this.info(m))}, () => this.prune(maxRepackBytes, retryLockMs), (r) => ({
      summary: `freed ${formatBytes(r.freed)}; ${r.packs.delete} packs deleted, ${r.packs.repack} repacked`,
      numbers: pruneNumbers(r),
      bytes: r.freed,
    }))
  }

  private async prune(maxRepackBytes: number | undefined, retryLockMs: number | undefined): Promise<PruneResult> {
    const f = this.flags
    const repo = await this.openRepo()
    let result: PruneResult
    try {
      result = await withProgress('prune', {mode: renderMode({json: this.jsonEnabled()})}, (onEvent) =>
        pruneRepository(repo, {
          maxUnused: f['max-unused'],
          maxRepackBytes,
          repackCacheableOnly: f['repack-cacheable-only'],
          dryRun: f['dry-run'],
          retryLockMs,
          onEvent,
        }),
      )
    } finally {
      await repo.close()
    }
    if (!this.jsonEnabled()) for (const line of pruneSummary(result)) this.log(line)
    return result
  }
}

/** The key numbers of a prune for notifications. */
export function pruneNumbers(r: PruneResult): Record<string, number> {
  return {freedBytes: r.freed, sizeBeforeBytes: r.sizeBefore, sizeAfterBytes: r.sizeAfter, packsDeleted: r.packs.delete, packsRepacked: r.packs.repack, packsWritten: r.packs.written}
}

/** restic-like summary lines of a prune. */
export function pruneSummary(r: PruneResult): string[] {
  const b = (n: number) => formatBytes(n)
  const pct = (n: number, of: number) => (of > 0 ? `${((100 * n) / of).toFixed(2)}%` : '0.00%')
  const lines = [
    `snapshots:              ${r.snapshots}`,
    `used:                   ${r.blobs.used} blobs / ${b(r.size.used)}`,
    `unused:                 ${r.blobs.unused} blobs / ${b(r.size.unused)}`,
  ]
  if (r.blobs.duplicate > 0) lines.push(`duplicates:             ${r.blobs.duplicate} blobs / ${b(r.size.duplicate)}`)
  lines.push(
    `total:                  ${r.blobs.total} blobs / ${b(r.size.total)}`,
    `unused size after prune: ${b(r.unusedAfter)} (${pct(r.unusedAfter, r.sizeAfter)} of remaining size)`,
    '',
    `totally used packs:     ${r.packs.fullyUsed}`,
    `partly used packs:      ${r.packs.partlyUsed}`,
    `unused packs:           ${r.packs.unused}`,
    `unreferenced packs:     ${r.packs.unreferenced} / ${b(r.size.unreferenced)}`,
    '',
    `to keep:                ${r.packs.keep} packs`,
    `to repack:              ${r.blobs.repack} blobs / ${r.packs.repack} packs / ${b(r.size.repack)}`,
    `to delete:              ${r.packs.delete} packs + ${r.packs.unreferenced} unreferenced`,
    `this removes:           ${r.blobs.remove} blobs / ${b(r.size.remove)}`,
    `remaining:              ${r.blobs.remaining} blobs`,
    `size before:            ${b(r.sizeBefore)}`,
    `size after:             ${b(r.sizeAfter)}${r.dryRun ? ' (estimated)' : ''}`,
    `${r.dryRun ? 'would free' : 'freed'}:${r.dryRun ? '             ' : '                  '}${b(r.freed)}`,
  )
  if (r.packs.missing > 0) lines.push(`dropped from the index: ${r.packs.missing} missing packs (nothing used them)`)
  if (r.tmpFilesRemoved > 0) lines.push(`${r.dryRun ? 'would remove' : 'removed'} ${r.tmpFilesRemoved} stale temporary file(s)`)
  lines.push(r.dryRun ? 'dry run: nothing was changed' : `done: ${r.packs.written} new packs, ${r.indexFiles.written} index files written`)
  return lines
}
