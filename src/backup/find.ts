/**
 * Finding files in snapshots, as restic 0.14's `find`.
 *
 * A pattern is a restic filter pattern: glob components (Go filepath.Match: `*`, `?`, `[…]`, `\`) separated
 * by "/"; `**` stands for any number of components. A pattern starting with "/" is anchored at the
 * snapshot's root; any other pattern matches a run of consecutive components anywhere in the path — so
 * "*.txt" matches names, "docs" matches the folder docs and everything below it, "docs/*.txt" the .txt
 * files directly in any folder named docs.
 */
import type {Repository, SnapshotEntry} from './repository.js'
import {UsageError} from '../errors.js'
import {decodeTree} from './tree.js'
import type {TreeNode} from './types.js'

export interface FindOptions {
  patterns: string[]
  ignoreCase?: boolean
  /** Only nodes modified at or after this instant (ms since the epoch). */
  oldest?: number
  /** Only nodes modified at or before this instant (ms since the epoch). */
  newest?: number
}

export interface FindMatch {
  path: string
  type: TreeNode['type']
  size: number
  mtime: string
  mode?: number
  uid: number
  gid: number
  user?: string
  group?: string
  linktarget?: string
}

export interface SnapshotMatches {
  snapshot: string
  time: string
  hits: number
  matches: FindMatch[]
}

interface Pattern {
  anchored: boolean
  parts: Array<RegExp | '**'>
}

/** Go filepath.Match syntax → an anchored RegExp over one path component. */
export function globToRegExp(glob: string, ignoreCase = false): RegExp {
  let re = ''
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]
    if (c === '*') re += '[^/]*'
    else if (c === '?') re += '[^/]'
    else if (c === '\\') {
      if (i + 1 >= glob.length) throw new UsageError(`bad pattern ${JSON.stringify(glob)}: ends in a backslash`)
      re += escapeRe(glob[++i])
    } else if (c === '[') {
      const end = glob.indexOf(']', i + 2)
      if (end < 0) throw new UsageError(`bad pattern ${JSON.stringify(glob)}: "[" without "]"`)
      let cls = glob.slice(i + 1, end)
      const neg = cls.startsWith('^')
      if (neg) cls = cls.slice(1)
      re += '[' + (neg ? '^' : '') + cls.replace(/[\]\\^]/g, (m) => '\\' + m) + ']'
      i = end
    } else re += escapeRe(c)
  }
  return new RegExp('^' + re + '$', ignoreCase ? 'iu' : 'u')
}

function escapeRe(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')
}

function compile(pattern: string, ignoreCase: boolean): Pattern {
  if (pattern === '') throw new UsageError('empty pattern: give a name or glob such as "*.txt"')
  const anchored = pattern.startsWith('/')
  const parts = pattern
    .split('/')
    .filter((p) => p !== '' && p !== '.')
    .map((p) => (p === '**' ? ('**' as const) : globToRegExp(p, ignoreCase)))
  return {anchored, parts}
}

/** Whether the path's components (root excluded) contain a run matching the pattern. */
function matches(p: Pattern, comps: string[]): boolean {
  const from = (pi: number, si: number): boolean => {
    if (pi === p.parts.length) return true
    const part = p.parts[pi]
    if (part === '**') {
      for (let k = si; k <= comps.length; k++) if (from(pi + 1, k)) return true
      return false
    }
    return si < comps.length && part.test(comps[si]) && from(pi + 1, si + 1)
  }
  if (p.parts.length === 0) return true
  if (p.anchored) return from(0, 0)
  for (let start = 0; start < comps.length; start++) if (from(0, start)) return true
  return false
}

/** Whether something below a folder with these components may match (only anchored patterns can rule it out). */
function childMayMatch(p: Pattern, comps: string[]): boolean {
  if (!p.anchored) return true
  for (let i = 0; i < Math.min(comps.length, p.parts.length); i++) {
    const part = p.parts[i]
    if (part === '**') return true
    if (!part.test(comps[i])) return false
  }
  return true
}

/** Parses --oldest/--newest as restic does (local time): "2006-01-02", "2006-01-02 15:04[:05]", or ISO 8601. */
export function parseFindTime(s: string, flag: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?$/.exec(s.trim())
  const t = m ? new Date(+m[1], +m[2] - 1, +m[3], +(m[4] ?? 0), +(m[5] ?? 0), +(m[6] ?? 0)).getTime() : Date.parse(s)
  if (Number.isNaN(t)) throw new UsageError(`${flag} "${s}" is not a time: use "2006-01-02", "2006-01-02 15:04" or "2006-01-02 15:04:05"`)
  return t
}

/** ms since the epoch of a Go RFC 3339 time (fraction beyond ms kept as a fraction). */
function timeMs(t: string): number {
  const m = /^(.*?T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(t)
  if (!m) return Date.parse(t)
  return Date.parse(m[1] + m[3]) + Number('0.' + (m[2] ?? '0')) * 1000
}

/** Finds the nodes of each snapshot matching any pattern. */
export async function findInSnapshots(repo: Repository, snapshots: SnapshotEntry[], opts: FindOptions): Promise<SnapshotMatches[]> {
  if (opts.patterns.length === 0) throw new UsageError('no pattern given: name a file or a glob such as "*.txt"')
  const pats = opts.patterns.map((p) => compile(p, opts.ignoreCase === true))
  if (repo.index.loadedFiles.size === 0) await repo.loadIndex()
  const out: SnapshotMatches[] = []
  for (const s of snapshots) {
    const matchesOut: FindMatch[] = []
    const walk = async (treeId: string, comps: string[]): Promise<void> => {
      for (const n of decodeTree(await repo.loadBlob('tree', treeId))) {
        const c = [...comps, n.name]
        if (pats.some((p) => matches(p, c)) && inRange(n, opts)) {
          matchesOut.push({
            path: '/' + c.join('/'),
            type: n.type,
            size: n.size ?? 0,
            mtime: n.mtime,
            mode: n.mode,
            uid: n.uid ?? 0,
            gid: n.gid ?? 0,
            user: n.user,
            group: n.group,
            linktarget: n.linktarget,
          })
        }
        if (n.type === 'dir' && n.subtree && pats.some((p) => childMayMatch(p, c))) await walk(n.subtree, c)
      }
    }
    await walk(s.snapshot.tree, [])
    if (matchesOut.length > 0) out.push({snapshot: s.id, time: s.snapshot.time, hits: matchesOut.length, matches: matchesOut})
  }
  return out
}

function inRange(n: TreeNode, o: FindOptions): boolean {
  if (o.oldest === undefined && o.newest === undefined) return true
  const t = timeMs(n.mtime)
  if (o.oldest !== undefined && t < o.oldest) return false
  if (o.newest !== undefined && t > o.newest) return false
  return true
}
