import {Args, Flags} from '@oclif/core'

import {lockRepository} from '../../backup/lock.js'
import type {SnapshotEntry} from '../../backup/repository.js'
import {matchesSnapshot} from '../../backup/snapshots.js'
import {changeTags, validateTagChange, type TagResult} from '../../backup/tag.js'
import {BackupCommand, repoFlags} from '../../cli/backup-command.js'

export default class BackupTag extends BackupCommand<typeof BackupTag> {
  static override description = `Add, remove or replace tags of snapshots, as restic's tag. Without snapshot IDs, every snapshot matching --host/--tag/--path is changed.
A changed snapshot gets a new ID; its "original" field keeps the ID it first had.`
  static override strict = false
  static override args = {snapshot: Args.string({description: 'snapshot ID, unique prefix or "latest" (repeatable)'})}
  static override examples = [
    '<%= config.bin %> backup tag --add keep 4bba301e',
    '<%= config.bin %> backup tag --remove nightly --host pi',
    '<%= config.bin %> backup tag --set "" latest',
  ]
  static override flags = {
    ...repoFlags,
    add: Flags.string({description: 'Add this tag (repeatable; "a,b" adds both).', multiple: true, multipleNonGreedy: true}),
    remove: Flags.string({description: 'Remove this tag (repeatable; "a,b" removes both).', multiple: true, multipleNonGreedy: true}),
    set: Flags.string({description: 'Replace all tags by these (repeatable; --set "" clears them).', multiple: true, multipleNonGreedy: true}),
    host: Flags.string({description: 'Only snapshots of this host (repeatable).', multiple: true, multipleNonGreedy: true}),
    tag: Flags.string({description: 'Only snapshots with this tag (repeatable; "a,b" needs both).', multiple: true, multipleNonGreedy: true}),
    path: Flags.string({description: 'Only snapshots that include this path (repeatable).', multiple: true, multipleNonGreedy: true}),
  }

  async run(): Promise<TagResult> {
    const f = this.flags
    const change = {add: f.add, remove: f.remove, set: f.set}
    validateTagChange(change)
    const {argv} = await this.parse(BackupTag)
    const refs = (argv as string[]).filter(Boolean)
    const filter = {hosts: f.host, tags: f.tag, paths: f.path}
    const repo = await this.openRepo()
    const lock = await lockRepository(repo, {exclusive: true})
    try {
      let targets: SnapshotEntry[]
      if (refs.length === 0) targets = (await repo.listSnapshots()).filter((e) => matchesSnapshot(e.snapshot, filter))
      else {
        targets = []
        for (const r of refs) {
          const e = await repo.findSnapshot(r, {hostname: f.host?.[0], paths: f.path, tags: f.tag})
          if (!targets.some((t) => t.id === e.id)) targets.push(e)
        }
      }
      const result = await changeTags(repo, targets, change)
      if (!this.jsonEnabled()) {
        for (const c of result.changed) this.log(`${c.old.slice(0, 8)} → ${c.id.slice(0, 8)}  tags: ${c.tags.join(',') || '(none)'}`)
        this.log(result.changed.length === 0 ? 'no snapshots were modified' : `modified tags on ${result.changed.length} snapshot${result.changed.length === 1 ? '' : 's'}`)
      }
      return result
    } finally {
      await lock.release()
      await repo.close()
    }
  }
}
