import {Args, Flags} from '@oclif/core'

import {copySnapshots, type CopyResult} from '../../backup/copy.js'
import {lockRepository} from '../../backup/lock.js'
import {openRepository} from '../../backup/open.js'
import {BackupCommand, repoFlags} from '../../cli/backup-command.js'
import {fromRepository, fromRepoFlags} from '../../cli/from-repo.js'
import {renderMode, withProgress} from '../../cli/progress.js'
import {formatBytes, formatDuration} from '../../progress.js'

export default class BackupCopy extends BackupCommand<typeof BackupCopy> {
  static override description = `Copy snapshots FROM the repository --from-repo INTO the repository --repo (as restic 0.14's copy; older restic called the source --repo2).
Without snapshot IDs, every snapshot matching --host/--tag/--path is copied. Snapshots the destination already has (same time, tree, host, paths, tags — restic's rule) are skipped, so running copy again copies only what is new.
Only blobs the destination lacks are transferred: each is decrypted with the source key and re-encrypted with the destination key. Data deduplicates with the destination's own backups only when both share chunker parameters (create the destination with \`backup init --copy-chunker-params --from-repo SRC\`).`
  static override strict = false
  static override args = {snapshot: Args.string({description: 'snapshot ID of the source repository, unique prefix or "latest" (repeatable)'})}
  static override examples = [
    '<%= config.bin %> backup copy --repo /mnt/offsite --from-repo /mnt/raid/backup --from-password-file /etc/lifeboat/raid-pw',
    '<%= config.bin %> backup copy latest --repo offsite --from-repo local --host pi',
    'LIFEBOAT_FROM_PASSWORD_FILE=/etc/lifeboat/pw <%= config.bin %> backup copy 4bba301e 77d0c2a1 --from-repo /mnt/raid/backup',
  ]
  static override flags = {
    ...repoFlags,
    ...fromRepoFlags,
    host: Flags.string({char: 'H', description: 'Only snapshots of this host (repeatable; with "latest": its newest snapshot).', multiple: true, multipleNonGreedy: true}),
    tag: Flags.string({description: 'Only snapshots with this tag (repeatable; "a,b" needs both).', multiple: true, multipleNonGreedy: true}),
    path: Flags.string({description: 'Only snapshots that include this path (repeatable).', multiple: true, multipleNonGreedy: true}),
  }

  async run(): Promise<CopyResult> {
    const f = this.flags
    const {argv} = await this.parse(BackupCopy)
    const refs = (argv as string[]).filter(Boolean)
    const {config} = await this.getConfig()
    const from = fromRepository(f, config, this.prompts)
    // The source first: a wrong source password fails before the destination is touched.
    const src = await openRepository({location: from.location, password: from.password, backend: await this.backendOptions()})
    let result: CopyResult
    try {
      const dst = await this.openRepo()
      try {
        const srcLock = await lockRepository(src, {exclusive: false})
        try {
          const dstLock = await lockRepository(dst, {exclusive: false})
          try {
            this.info(`copying snapshots from ${src.backend.location} to ${dst.backend.location}`)
            result = await withProgress('copy', {mode: renderMode({json: this.jsonEnabled()})}, (onEvent) =>
              copySnapshots(src, dst, {snapshots: refs, filter: {hosts: f.host, tags: f.tag, paths: f.path}, onEvent}),
            )
          } finally {
            await dstLock.release()
          }
        } finally {
          await srcLock.release()
        }
      } finally {
        await dst.close()
      }
    } finally {
      await src.close()
    }
    if (!this.jsonEnabled()) {
      for (const s of result.skipped) this.log(`skipped ${s.source.slice(0, 8)} (${s.paths.join(', ')} at ${s.time}): already copied as ${s.existing.slice(0, 8)}`)
      for (const c of result.copied) this.log(`copied ${c.source.slice(0, 8)} → ${c.id.slice(0, 8)}  ${c.hostname ?? ''}  ${c.paths.join(', ')}`)
      this.log(
        `${result.copied.length} snapshot${result.copied.length === 1 ? '' : 's'} copied, ${result.skipped.length} skipped; ` +
          `${result.blobs.data} data and ${result.blobs.tree} tree blobs (${formatBytes(result.bytes)}, ${formatBytes(result.storedBytes)} stored) in ${formatDuration(result.durationMs / 1000)}`,
      )
      if (!result.sameChunkerParams && result.copied.length > 0) {
        this.logToStderr('note: the repositories have different chunker parameters, so copied data does not deduplicate with backups made directly into the destination')
      }
    }
    return result
  }
}
