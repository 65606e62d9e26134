/** Snapshot listing and filtering, as restic's `snapshots`. */
import type {Repository} from './repository.js'
import type {Snapshot} from './types.js'

export interface SnapshotFilterOptions {
  hosts?: string[]
  /** Each entry may be "a,b" (needs both); any entry matching is enough. */
  tags?: string[]
  paths?: string[]
  latest?: number
}

export type ListedSnapshot = Snapshot & {id: string; short_id: string}

export function matchesSnapshot(s: Snapshot, f: SnapshotFilterOptions): boolean {
  if (f.hosts && f.hosts.length > 0 && !f.hosts.includes(s.hostname ?? '')) return false
  if (f.tags && f.tags.length > 0) {
    const have = new Set(s.tags ?? [])
    if (!f.tags.some((group) => group.split(',').every((t) => t === '' || have.has(t)))) return false
  }
  if (f.paths && f.paths.length > 0 && !f.paths.every((p) => s.paths.includes(p.replace(/\/+$/, '') || '/'))) return false
  return true
}

export async function listSnapshots(repo: Repository, f: SnapshotFilterOptions = {}): Promise<ListedSnapshot[]> {
  let all = (await repo.listSnapshots()).filter((e) => matchesSnapshot(e.snapshot, f))
  if (f.latest) {
    const groups = new Map<string, typeof all>()
    for (const e of all) {
      const k = `${e.snapshot.hostname}\u0000${[...e.snapshot.paths].sort().join('\u0000')}`
      groups.set(k, [...(groups.get(k) ?? []), e])
    }
    all = [...groups.values()].flatMap((g) => g.slice(-f.latest!))
    all.sort((a, b) => Date.parse(a.snapshot.time) - Date.parse(b.snapshot.time))
  }
  return all.map((e) => ({...e.snapshot, id: e.id, short_id: e.id.slice(0, 8)}))
}
