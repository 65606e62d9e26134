/**
 * Differences between two snapshots, as restic 0.14's `diff` (same paths, modifiers and statistics).
 *
 * Modifiers: "+" added, "-" removed, "M" a file's content changed, "T" the type changed, "U" only metadata
 * changed (reported when `metadata` is set, as restic's --metadata). Dirs end in "/". Identical subtrees
 * (same tree ID) are not walked for changes, only for the blob accounting. As in restic, a path whose type
 * changed is not descended into (a file that became a dir lists the dir, not its contents).
 */
import type {Repository} from './repository.js'
import {decodeTree} from './tree.js'
import type {BlobType, TreeNode} from './types.js'

export type DiffModifier = '+' | '-' | 'M' | 'T' | 'U' | 'TU'

export interface DiffChange {
  path: string
  modifier: string
}

export interface DiffCounts {
  files: number
  dirs: number
  others: number
  data_blobs: number
  tree_blobs: number
  /** Plaintext bytes of those blobs. */
  bytes: number
}

export interface DiffStats {
  source_snapshot: string
  target_snapshot: string
  changed_files: number
  added: DiffCounts
  removed: DiffCounts
}

export interface DiffOptions {
  /** Report metadata-only changes ("U"). */
  metadata?: boolean
  /** Called for each change as it is found (for streaming output). */
  onChange?: (c: DiffChange) => void
}

export interface DiffResult {
  changes: DiffChange[]
  stats: DiffStats
}

const zero = (): DiffCounts => ({files: 0, dirs: 0, others: 0, data_blobs: 0, tree_blobs: 0, bytes: 0})

function addCount(c: DiffCounts, n: TreeNode): void {
  if (n.type === 'file') c.files++
  else if (n.type === 'dir') c.dirs++
  else c.others++
}

function addBlobs(set: Set<string>, n: TreeNode | undefined): void {
  if (!n) return
  if (n.type === 'file') for (const id of n.content ?? []) set.add('d' + id)
  else if (n.type === 'dir' && n.subtree) set.add('t' + n.subtree)
}

/** A Go time's instant, comparable as a string (restic compares times with time.Equal). */
function instant(t: string | undefined): string {
  if (!t) return ''
  const m = /^(.*?T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(t)
  if (!m) return t
  return `${Date.parse(m[1] + m[3])}.${(m[2] ?? '').padEnd(9, '0')}`
}

function bytesOf(b: Buffer | undefined, s: string | undefined): string {
  return b ? b.toString('hex') : Buffer.from(s ?? '', 'utf8').toString('hex')
}

/** restic's Node.Equals: every recorded field, times by instant. */
export function sameNode(a: TreeNode, b: TreeNode): boolean {
  const xattrs = (n: TreeNode) => (n.extended_attributes ?? []).map((x) => `${x.name}=${Buffer.from(x.value).toString('hex')}`).join('\u0000')
  return (
    a.name === b.name &&
    a.type === b.type &&
    (a.mode ?? 0) === (b.mode ?? 0) &&
    instant(a.mtime) === instant(b.mtime) &&
    instant(a.atime) === instant(b.atime) &&
    instant(a.ctime) === instant(b.ctime) &&
    (a.uid ?? 0) === (b.uid ?? 0) &&
    (a.gid ?? 0) === (b.gid ?? 0) &&
    (a.user ?? '') === (b.user ?? '') &&
    (a.group ?? '') === (b.group ?? '') &&
    (a.inode ?? 0) === (b.inode ?? 0) &&
    (a.device_id ?? 0) === (b.device_id ?? 0) &&
    (a.size ?? 0) === (b.size ?? 0) &&
    (a.links ?? 0) === (b.links ?? 0) &&
    bytesOf(a.linktargetRaw, a.linktarget) === bytesOf(b.linktargetRaw, b.linktarget) &&
    (a.device ?? 0) === (b.device ?? 0) &&
    (a.content ?? []).join() === (b.content ?? []).join() &&
    xattrs(a) === xattrs(b) &&
    (a.subtree ?? '') === (b.subtree ?? '') &&
    (a.error ?? '') === (b.error ?? '')
  )
}

function joinPath(prefix: string, name: string): string {
  return prefix.endsWith('/') ? prefix + name : prefix + '/' + name
}

/** Compares two snapshots' trees (by snapshot root tree IDs). Needs the index loaded. */
export async function diffTrees(repo: Repository, source: {id: string; tree: string}, target: {id: string; tree: string}, opts: DiffOptions = {}): Promise<DiffResult> {
  const changes: DiffChange[] = []
  const stats: DiffStats = {source_snapshot: source.id, target_snapshot: target.id, changed_files: 0, added: zero(), removed: zero()}
  const before = new Set<string>(['t' + source.tree])
  const after = new Set<string>(['t' + target.tree])
  const common = new Set<string>()
  const emit = (path: string, modifier: string) => {
    const c = {path, modifier}
    changes.push(c)
    opts.onChange?.(c)
  }
  const load = async (id: string) => decodeTree(await repo.loadBlob('tree', id))

  const printDir = async (mode: '+' | '-', counts: DiffCounts, blobs: Set<string>, prefix: string, treeId: string): Promise<void> => {
    for (const n of await load(treeId)) {
      let name = joinPath(prefix, n.name)
      if (n.type === 'dir') name += '/'
      emit(name, mode)
      addCount(counts, n)
      addBlobs(blobs, n)
      if (n.type === 'dir' && n.subtree) await printDir(mode, counts, blobs, name, n.subtree)
    }
  }

  const collectDir = async (blobs: Set<string>, treeId: string): Promise<void> => {
    for (const n of await load(treeId)) {
      addBlobs(blobs, n)
      if (n.type === 'dir' && n.subtree) await collectDir(blobs, n.subtree)
    }
  }

  const diffTree = async (prefix: string, id1: string, id2: string): Promise<void> => {
    const [t1, t2] = await Promise.all([load(id1), load(id2)])
    const m1 = new Map(t1.map((n) => [n.name, n]))
    const m2 = new Map(t2.map((n) => [n.name, n]))
    // Go's sort.Strings: byte order of the UTF-8 names.
    const names = [...new Set([...m1.keys(), ...m2.keys()])].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
    for (const name of names) {
      const n1 = m1.get(name)
      const n2 = m2.get(name)
      addBlobs(before, n1)
      addBlobs(after, n2)
      if (n1 && n2) {
        let path = joinPath(prefix, name)
        let mod = ''
        if (n1.type !== n2.type) mod += 'T'
        if (n2.type === 'dir') path += '/'
        if (n1.type === 'file' && n2.type === 'file' && JSON.stringify(n1.content) !== JSON.stringify(n2.content)) {
          mod += 'M'
          stats.changed_files++
        } else if (opts.metadata && !sameNode(n1, n2)) mod += 'U'
        if (mod) emit(path, mod)
        if (n1.type === 'dir' && n2.type === 'dir' && n1.subtree && n2.subtree) {
          if (n1.subtree === n2.subtree) await collectDir(common, n1.subtree)
          else await diffTree(path, n1.subtree, n2.subtree)
        }
      } else if (n1) {
        let path = joinPath(prefix, name)
        if (n1.type === 'dir') path += '/'
        emit(path, '-')
        addCount(stats.removed, n1)
        if (n1.type === 'dir' && n1.subtree) await printDir('-', stats.removed, before, path, n1.subtree)
      } else if (n2) {
        let path = joinPath(prefix, name)
        if (n2.type === 'dir') path += '/'
        emit(path, '+')
        addCount(stats.added, n2)
        if (n2.type === 'dir' && n2.subtree) await printDir('+', stats.added, after, path, n2.subtree)
      }
    }
  }

  if (repo.index.loadedFiles.size === 0) await repo.loadIndex()
  await diffTree('/', source.tree, target.tree)

  const count = (keys: Iterable<string>, c: DiffCounts) => {
    for (const k of keys) {
      const type: BlobType = k[0] === 'd' ? 'data' : 'tree'
      if (type === 'data') c.data_blobs++
      else c.tree_blobs++
      const loc = repo.index.lookup(type, k.slice(1))
      if (loc) c.bytes += loc.uncompressedLength ?? loc.length - 32
    }
  }
  count([...before].filter((k) => !after.has(k) && !common.has(k)), stats.removed)
  count([...after].filter((k) => !before.has(k) && !common.has(k)), stats.added)
  return {changes, stats}
}
