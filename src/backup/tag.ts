/**
 * `tag`: change the tags of snapshots as restic 0.14 does. A snapshot file is immutable, so a changed
 * snapshot is saved as a new file (with `original` naming the first snapshot it came from) and the old file
 * is deleted. The caller holds an exclusive lock.
 */
import {UsageError} from '../errors.js'
import type {Repository, SnapshotEntry} from './repository.js'
import type {Snapshot} from './types.js'

export interface TagChange {
  add?: string[]
  remove?: string[]
  /** Replace all tags; [""] (or an empty list given explicitly) clears them. */
  set?: string[]
}

export interface TagResult {
  /** Old ID → new ID of each snapshot whose tags changed. */
  changed: Array<{old: string; id: string; tags: string[]; original: string}>
  /** IDs of snapshots left as they were (the change made no difference). */
  unchanged: string[]
}

/** Splits "a,b" entries into single tags, dropping empty ones. */
export function splitTags(list: string[] | undefined): string[] {
  return (list ?? []).flatMap((t) => t.split(',')).map((t) => t.trim()).filter((t) => t !== '')
}

/** Checks the combination of flags as restic does. */
export function validateTagChange(c: TagChange): void {
  if (c.set !== undefined && ((c.add?.length ?? 0) > 0 || (c.remove?.length ?? 0) > 0)) {
    throw new UsageError('--set and --add/--remove cannot be given at the same time', {hint: 'use --set alone to replace all tags, or --add/--remove to change some'})
  }
  if (c.set === undefined && (c.add?.length ?? 0) === 0 && (c.remove?.length ?? 0) === 0) {
    throw new UsageError('nothing to do: give --add, --remove or --set', {hint: 'e.g. --add keep, or --set "" to clear all tags'})
  }
}

/** The snapshot with its tags changed, or undefined when nothing would change. */
export function applyTagChange(sn: Snapshot, c: TagChange): Snapshot | undefined {
  const before = sn.tags ?? []
  let tags: string[]
  if (c.set !== undefined) {
    tags = splitTags(c.set)
    // restic rewrites the snapshot on --set even when the tags are the same.
  } else {
    tags = [...before]
    for (const t of splitTags(c.add)) if (!tags.includes(t)) tags.push(t)
    const drop = new Set(splitTags(c.remove))
    tags = tags.filter((t) => !drop.has(t))
    if (tags.length === before.length && tags.every((t, i) => t === before[i])) return undefined
  }
  const out: Snapshot = {...sn, tags}
  if (tags.length === 0) delete out.tags
  return out
}

export async function changeTags(repo: Repository, targets: SnapshotEntry[], change: TagChange): Promise<TagResult> {
  validateTagChange(change)
  const result: TagResult = {changed: [], unchanged: []}
  for (const {id, snapshot} of targets) {
    const next = applyTagChange(snapshot, change)
    if (!next) {
      result.unchanged.push(id)
      continue
    }
    next.original ??= id
    const newId = await repo.saveSnapshot(next)
    if (newId !== id) await repo.backend.remove({type: 'snapshot', name: id})
    result.changed.push({old: id, id: newId, tags: next.tags ?? [], original: next.original})
  }
  return result
}
