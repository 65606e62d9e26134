/**
 * `forget`: apply a policy to each group of snapshots and delete the snapshot files it does not keep
 * (no prune: the data stays until prune runs). The caller holds an exclusive lock when not a dry run.
 */
import {applyPolicy, groupSnapshots, isEmptyPolicy, normalizeTagLists, type ForgetPolicy, type GroupBy, type SnapshotGroup} from './policy.js'
import type {Repository, SnapshotEntry} from './repository.js'
import {matchesSnapshot, type SnapshotFilterOptions} from './snapshots.js'

export interface ForgetItem {
  id: string
  short_id: string
  time: string
  hostname?: string
  paths: string[]
  tags?: string[]
  /** Rules that keep it (restic's words); empty for removed snapshots. */
  reasons: string[]
}

export interface ForgetGroup {
  /** What the snapshots of this group share (only the fields grouped by). */
  key: SnapshotGroup<SnapshotEntry>['key']
  keep: ForgetItem[]
  remove: ForgetItem[]
}

export interface ForgetResult {
  dryRun: boolean
  /** True when no rule was given: nothing is removed (as restic). */
  policyEmpty: boolean
  policy: ForgetPolicy
  groups: ForgetGroup[]
  /** IDs of snapshot files deleted (empty on a dry run). */
  removed: string[]
}

export interface ForgetOptions {
  policy: ForgetPolicy
  filter?: SnapshotFilterOptions
  groupBy?: GroupBy
  dryRun?: boolean
  now?: Date
  /** Called after each snapshot file is deleted. */
  onRemoved?: (id: string) => void
  /** Remove exactly these snapshots (IDs, unique prefixes or "latest") instead of applying a policy. */
  ids?: string[]
}

/** The policy in restic's terms, tag lists split: what the JSON output shows. */
function describePolicy(p: ForgetPolicy): ForgetPolicy {
  const out: ForgetPolicy = {}
  for (const k of ['last', 'hourly', 'daily', 'weekly', 'monthly', 'yearly'] as const) if (p[k]) out[k] = p[k]
  if (p.within) out.within = p.within
  const tags = normalizeTagLists(p.keepTags)
  if (tags.length > 0) out.keepTags = tags
  return out
}

export async function forgetSnapshots(repo: Repository, opts: ForgetOptions): Promise<ForgetResult> {
  const dryRun = Boolean(opts.dryRun)
  const policy = describePolicy(opts.policy)
  if (opts.ids && opts.ids.length > 0) return forgetByIds(repo, opts.ids, policy, dryRun, opts)
  if (isEmptyPolicy(policy)) return {dryRun, policyEmpty: true, policy, groups: [], removed: []}
  const list = (await repo.listSnapshots()).filter((e) => matchesSnapshot(e.snapshot, opts.filter ?? {}))
  const groups: ForgetGroup[] = groupSnapshots(list, opts.groupBy).map((g) => {
    const decided = applyPolicy(g.snapshots, policy, opts.now)
    const item = (d: (typeof decided)[number]): ForgetItem => ({
      id: d.id,
      short_id: d.id.slice(0, 8),
      time: d.snapshot.time,
      hostname: d.snapshot.hostname,
      paths: d.snapshot.paths,
      tags: d.snapshot.tags,
      reasons: d.reasons,
    })
    return {key: g.key, keep: decided.filter((d) => d.keep).map(item), remove: decided.filter((d) => !d.keep).map(item)}
  })
  const removed: string[] = []
  if (!dryRun) {
    for (const g of groups) {
      for (const s of g.remove) {
        await repo.backend.remove({type: 'snapshot', name: s.id})
        removed.push(s.id)
        opts.onRemoved?.(s.id)
      }
    }
  }
  return {dryRun, policyEmpty: false, policy, groups, removed}
}

/** restic's `forget ID…`: the named snapshots, each resolved first so a wrong ID removes nothing. */
async function forgetByIds(repo: Repository, refs: string[], policy: ForgetPolicy, dryRun: boolean, opts: ForgetOptions): Promise<ForgetResult> {
  const seen = new Set<string>()
  const remove: ForgetItem[] = []
  for (const ref of refs) {
    const e = await repo.findSnapshot(ref, {})
    if (seen.has(e.id)) continue
    seen.add(e.id)
    remove.push({id: e.id, short_id: e.id.slice(0, 8), time: e.snapshot.time, hostname: e.snapshot.hostname, paths: e.snapshot.paths, tags: e.snapshot.tags, reasons: []})
  }
  const removed: string[] = []
  if (!dryRun) {
    for (const s of remove) {
      await repo.backend.remove({type: 'snapshot', name: s.id})
      removed.push(s.id)
      opts.onRemoved?.(s.id)
    }
  }
  return {dryRun, policyEmpty: false, policy, groups: [{key: {}, keep: [], remove}], removed}
}

/** restic's within duration from the config's `backup.keep.within` (units s, m = minutes, h, d, w): whole hours, days. */
export function withinFromConfig(d: string): string {
  const m = /^(\d+)(s|m|h|d|w)$/.exec(d.trim())
  if (!m) return d
  const n = Number(m[1])
  if (m[2] === 'd') return `${n}d`
  if (m[2] === 'w') return `${n * 7}d`
  if (m[2] === 'h') return `${n}h`
  return `${Math.ceil(n / (m[2] === 'm' ? 60 : 3600))}h`
}
