/**
 * Repository statistics, as restic's `stats` (numbers checked against restic 0.14 on the same repository).
 *
 * Modes:
 * - restore-size (default): every node below a snapshot's root is counted (files, dirs, symlinks…); sizes
 *   add up, a hard-linked inode only once per snapshot. What a restore of these snapshots would write.
 * - files-by-contents: nodes unique by content (the list of data blob IDs), over all selected snapshots.
 * - blobs-per-file: for files of unique content, each (path, data blob) pair once, plaintext blob sizes.
 * - raw-data: the unique blobs (data and tree) the snapshots reference, with their stored sizes — what the
 *   repository really keeps for them. Adds uncompressed sizes, compression and deduplication ratios.
 */
import type {Repository, SnapshotEntry} from './repository.js'
import {matchesSnapshot, type SnapshotFilterOptions} from './snapshots.js'
import {decodeTree} from './tree.js'
import {NotFoundError} from './errors.js'
import type {BlobType, TreeNode} from './types.js'

export type StatsMode = 'restore-size' | 'files-by-contents' | 'raw-data' | 'blobs-per-file'
export const STATS_MODES: readonly StatsMode[] = ['restore-size', 'files-by-contents', 'raw-data', 'blobs-per-file']

/** The crypto overhead restic counts into a blob's "uncompressed size" (IV + MAC). */
const BLOB_OVERHEAD = 32

export interface StatsResult {
  mode: StatsMode
  snapshots_count: number
  /** Bytes: restore size, unique contents, blob references, or (raw-data) stored blob bytes. restic's meaning. */
  total_size: number
  /** Nodes (restore-size), unique contents (files-by-contents), paths (blobs-per-file); 0 for raw-data. */
  total_file_count: number
  /** Blobs (raw-data), (path, blob) pairs (blobs-per-file). */
  total_blob_count?: number
  // raw-data only (restic ≥ 0.15 field names where restic has them):
  /** Sum over blobs of plaintext length + 32 (restic's definition: comparable to total_size). */
  total_uncompressed_size?: number
  /** Uncompressed / stored size of the blobs that are stored compressed. */
  compression_ratio?: number
  /** Share of the uncompressed size that is stored compressed, %. */
  compression_progress?: number
  /** 1 − stored / uncompressed, %. */
  compression_space_saving?: number
  /** Plaintext bytes of the unique data blobs: the file data the repository holds once. */
  unique_data_size?: number
  /** What restoring every selected snapshot would write (restore-size mode's total_size). */
  restore_size?: number
  /** restore_size / unique_data_size: how many times each stored byte of file data is used. */
  dedup_ratio?: number
}

export interface SnapshotSelection extends SnapshotFilterOptions {
  /** IDs, unique prefixes or "latest"; none = every snapshot matching the filters. */
  ids?: string[]
}

/**
 * The snapshots named (IDs, prefixes, "latest" = newest matching the filters), or every snapshot matching
 * the filters; oldest first, no duplicates.
 */
export async function selectSnapshots(repo: Repository, sel: SnapshotSelection = {}): Promise<SnapshotEntry[]> {
  const all = await repo.listSnapshots()
  const filtered = all.filter((e) => matchesSnapshot(e.snapshot, sel))
  if (!sel.ids || sel.ids.length === 0) return filtered
  const out = new Map<string, SnapshotEntry>()
  for (const ref of sel.ids) {
    if (ref === 'latest') {
      const last = filtered.at(-1)
      if (!last) {
        const e = await repo.findSnapshot('latest', {hostname: sel.hosts?.[0]}) // throws a clear "no snapshot found"
        out.set(e.id, e)
      } else out.set(last.id, last)
    } else {
      const e = await repo.findSnapshot(ref)
      out.set(e.id, e)
    }
  }
  return [...out.values()].sort((a, b) => Date.parse(a.snapshot.time) - Date.parse(b.snapshot.time) || (a.id < b.id ? -1 : 1))
}

/** Key of a node's content (restic: hash of the concatenated blob IDs; here the IDs themselves). */
function contentKey(n: TreeNode): string {
  return (n.content ?? []).join('')
}

/**
 * Visits every node below a tree, parents before children. `visit` returns false to skip a dir's subtree.
 */
async function walk(repo: Repository, treeId: string, prefix: string, visit: (path: string, n: TreeNode) => boolean | void): Promise<void> {
  const nodes = decodeTree(await repo.loadBlob('tree', treeId))
  for (const n of nodes) {
    const p = prefix + '/' + n.name
    const enter = visit(p, n)
    if (n.type === 'dir' && n.subtree && enter !== false) await walk(repo, n.subtree, p, visit)
  }
}

function blobSize(repo: Repository, type: BlobType, id: string): {stored: number; plain: number; compressed: boolean} {
  const loc = repo.index.lookup(type, id)
  if (!loc) throw new NotFoundError(`${type} blob ${id}`, repo.backend.location)
  const plain = loc.uncompressedLength ?? loc.length - BLOB_OVERHEAD
  return {stored: loc.length, plain, compressed: loc.uncompressedLength !== undefined}
}

/** Adds the blobs reachable from a tree (the tree itself included) to `seen`, entering each tree once. */
async function collectBlobs(repo: Repository, treeId: string, trees: Set<string>, data: Set<string>): Promise<void> {
  if (trees.has(treeId)) return
  trees.add(treeId)
  for (const n of decodeTree(await repo.loadBlob('tree', treeId))) {
    if (n.type === 'file') for (const id of n.content ?? []) data.add(id)
    if (n.type === 'dir' && n.subtree) await collectBlobs(repo, n.subtree, trees, data)
  }
}

async function restoreSize(repo: Repository, snapshots: SnapshotEntry[]): Promise<{size: number; count: number}> {
  let size = 0
  let count = 0
  for (const s of snapshots) {
    const inodes = new Set<number>()
    await walk(repo, s.snapshot.tree, '', (_p, n) => {
      count++
      const inode = n.inode ?? 0
      if (inode === 0 || !inodes.has(inode)) {
        inodes.add(inode)
        size += n.size ?? 0
      }
    })
  }
  return {size, count}
}

/** Computes statistics over the given snapshots. Loads the index when needed. */
export async function repositoryStats(repo: Repository, snapshots: SnapshotEntry[], mode: StatsMode = 'restore-size'): Promise<StatsResult> {
  if (repo.index.loadedFiles.size === 0) await repo.loadIndex()
  const res: StatsResult = {mode, snapshots_count: snapshots.length, total_size: 0, total_file_count: 0}
  switch (mode) {
    case 'restore-size': {
      const r = await restoreSize(repo, snapshots)
      res.total_size = r.size
      res.total_file_count = r.count
      break
    }
    case 'files-by-contents': {
      const seen = new Set<string>()
      for (const s of snapshots) {
        await walk(repo, s.snapshot.tree, '', (_p, n) => {
          const k = contentKey(n)
          if (seen.has(k)) return
          seen.add(k)
          res.total_size += n.size ?? 0
          res.total_file_count++
        })
      }
      break
    }
    case 'blobs-per-file': {
      const seen = new Set<string>()
      const fileBlobs = new Map<string, Set<string>>()
      res.total_blob_count = 0
      for (const s of snapshots) {
        await walk(repo, s.snapshot.tree, '', (p, n) => {
          const k = contentKey(n)
          if (seen.has(k)) return
          seen.add(k)
          for (const id of n.content ?? []) {
            let set = fileBlobs.get(p)
            if (!set) {
              set = new Set()
              fileBlobs.set(p, set)
              res.total_file_count++
            }
            if (set.has(id)) continue
            set.add(id)
            res.total_size += blobSize(repo, 'data', id).plain
            res.total_blob_count!++
          }
        })
      }
      break
    }
    case 'raw-data': {
      const trees = new Set<string>()
      const data = new Set<string>()
      for (const s of snapshots) await collectBlobs(repo, s.snapshot.tree, trees, data)
      let uncompressed = 0
      let compressedStored = 0
      let compressedUncompressed = 0
      let uniqueData = 0
      const add = (type: BlobType, id: string) => {
        const b = blobSize(repo, type, id)
        res.total_size += b.stored
        uncompressed += b.plain + BLOB_OVERHEAD
        if (b.compressed) {
          compressedStored += b.stored
          compressedUncompressed += b.plain + BLOB_OVERHEAD
        }
        if (type === 'data') uniqueData += b.plain
      }
      for (const id of trees) add('tree', id)
      for (const id of data) add('data', id)
      res.total_blob_count = trees.size + data.size
      res.total_uncompressed_size = uncompressed
      res.compression_ratio = compressedStored > 0 ? compressedUncompressed / compressedStored : 1
      res.compression_progress = uncompressed > 0 ? (compressedUncompressed / uncompressed) * 100 : 0
      res.compression_space_saving = uncompressed > 0 ? (1 - res.total_size / uncompressed) * 100 : 0
      const restore = await restoreSize(repo, snapshots)
      res.restore_size = restore.size
      res.unique_data_size = uniqueData
      res.dedup_ratio = uniqueData > 0 ? restore.size / uniqueData : 1
      break
    }
  }
  return res
}
