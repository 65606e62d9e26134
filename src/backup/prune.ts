/**
 * `prune`: remove the data no snapshot needs any more, as restic 0.14's prune.
 *
 * 1. Under an exclusive lock, load the index, list the pack files and the snapshots.
 * 2. Walk every tree reachable from a snapshot: the used blobs (trees and file contents).
 * 3. Give each used blob one owner pack (packs whose blobs are all used come first, so a blob stored twice
 *    is kept where keeping costs nothing); every other copy counts as unused (a duplicate).
 * 4. Classify the indexed packs: no owned blob → delete; every blob owned → keep; partly used → repack while
 *    the unused space left would exceed --max-unused (default 5 % of the used size, restic's rule), within
 *    --max-repack-size. Tree packs and mixed packs are always repacked when partly used (they are small).
 * 5. Repack, in worker threads (workers/prune-worker.ts): each pack is read once, every blob to keep is
 *    verified (decrypted, decompressed, hashed) and copied, still encrypted, into new packs (data and tree
 *    blobs apart) that the worker streams into the repository; the main thread only hands out packs.
 * 6. Write the new index: the kept packs' file(s) while the workers repack (the first lists the old files in
 *    `supersedes`), the new packs' after; then delete the old index files, the obsolete packs, packs no index
 *    names and stale temporary files. A repack that fails removes the early index file again.
 *
 * A crash at any point leaves a repository restic accepts: new packs are stored before an index names them,
 * the new index before the old is removed, and a pack is deleted only once no index names it (at worst some
 * packs are left unreferenced, which a later prune removes).
 */
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import type {Worker} from 'node:worker_threads'

import {LifeboatError, UsageError, errorMessage} from '../errors.js'
import {LocalBackend} from './backend/local.js'
import {expectedPackSize, parseTreeForCheck} from './checker.js'
import {CRYPTO_OVERHEAD} from './crypto.js'
import {splitIndex, type IndexJSON} from './index.js'
import {lockRepository, type RepositoryLock} from './lock.js'
import {decodeBlob, PackWriter, type FinishedPack} from './pack.js'
import type {Repository} from './repository.js'
import type {BlobType, FileHandle, IndexPackEntry, PackedBlob, ProgressListener} from './types.js'
import type {PruneJob, PruneJobResult, PruneWorkerInit} from './workers/prune-worker.js'
import {startWorker} from './workers/start.js'

export interface PruneOptions {
  /** "P%" of the used size, a size ("50M", bytes when bare) or "unlimited" (default "5%"). */
  maxUnused?: string
  /** Repack at most this many bytes of packs (default unlimited). */
  maxRepackBytes?: number
  /** Repack only tree packs (restic's "cacheable" packs). */
  repackCacheableOnly?: boolean
  /** Plan only: nothing is written or deleted. */
  dryRun?: boolean
  /** Wait this long for conflicting locks to go away (default 0: fail at once). */
  retryLockMs?: number
  /** The caller already holds an exclusive lock (forget --prune). */
  lockHeld?: boolean
  /** Worker threads verifying packs to repack (default: all cores). */
  workers?: number
  /** Temporary files (`*-tmp-*`) older than this are removed (default 1 h). */
  tmpMaxAgeMs?: number
  onEvent?: ProgressListener
}

export interface PruneResult {
  dryRun: boolean
  snapshots: number
  blobs: {used: number; unused: number; duplicate: number; total: number; repack: number; remove: number; remaining: number}
  size: {used: number; unused: number; duplicate: number; total: number; repack: number; remove: number; unreferenced: number}
  packs: {
    total: number
    fullyUsed: number
    partlyUsed: number
    unused: number
    keep: number
    repack: number
    delete: number
    unreferenced: number
    /** Indexed packs whose file is missing (dropped from the index; their blobs were not needed). */
    missing: number
    /** Packs written by the repack. */
    written: number
  }
  /** Pack file bytes before and after (after: estimated on a dry run). */
  sizeBefore: number
  sizeAfter: number
  /** Bytes freed. */
  freed: number
  /** Unused bytes left in kept packs, and as a percentage of the remaining size. */
  unusedAfter: number
  unusedAfterPercent: number
  indexFiles: {old: number; written: number}
  tmpFilesRemoved: number
  durationMs: number
}

const TREE_CONCURRENCY = 16
const TMP_RE = /^[0-9a-f]{64}-tmp-/
const HEADER_ENTRY_PLAIN = 1 + 4 + 32
const HEADER_ENTRY_COMPRESSED = 1 + 4 + 4 + 32

// ------------------------------------------------------------------------------------------ parsing

const SIZE_UNITS: Record<string, number> = {'': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4}

/** restic's sizes: a number with an optional unit k, M, G, T (powers of 1024; "KiB", "MB" also accepted). */
export function parseSize(s: string, flag = 'size'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([bkmgt]?)(?:i?b)?\s*$/i.exec(s)
  if (!m) throw new UsageError(`invalid ${flag} ${JSON.stringify(s)}`, {hint: 'use a size such as 500M, 2G or 1048576 (units k, M, G, T; powers of 1024)'})
  return Math.floor(Number(m[1]) * SIZE_UNITS[m[2].toLowerCase()])
}

/** --max-unused: a function from the used size to the unused bytes allowed to remain. */
export function parseMaxUnused(s: string): (used: number) => number {
  const t = s.trim()
  if (t === 'unlimited') return () => Number.POSITIVE_INFINITY
  if (t.endsWith('%')) {
    const p = Number(t.slice(0, -1))
    if (t.length === 1 || !Number.isFinite(p) || p < 0 || p > 100) {
      throw new UsageError(`invalid --max-unused ${JSON.stringify(s)}: the percentage must be between 0 and 100`, {hint: 'e.g. --max-unused 5%'})
    }
    if (p === 100) return () => Number.POSITIVE_INFINITY
    // restic: unused / (used + unused) ≤ p %  ⇔  unused ≤ p / (100 − p) · used
    return (used) => (p / (100 - p)) * used
  }
  const n = parseSize(t, '--max-unused')
  return () => n
}

/** Go-style durations for --retry-lock: "30s", "5m", "1h30m", "500ms". */
export function parseLockDuration(s: string): number {
  const t = s.trim()
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/y
  let ms = 0
  let pos = 0
  for (let m = re.exec(t); m; m = re.exec(t)) {
    ms += Number(m[1]) * {ms: 1, s: 1000, m: 60_000, h: 3_600_000}[m[2] as 'ms' | 's' | 'm' | 'h']
    pos = re.lastIndex
  }
  if (t === '' || pos !== t.length) throw new UsageError(`invalid duration ${JSON.stringify(s)}`, {hint: 'use a duration such as 30s, 5m or 1h30m'})
  return ms
}

// ------------------------------------------------------------------------------------------ helpers

/** A set of blobs by type and ID (one Set per type: no key string built per lookup). */
class BlobSet {
  readonly data = new Set<string>()
  readonly tree = new Set<string>()

  has(type: BlobType, id: string): boolean {
    return (type === 'data' ? this.data : this.tree).has(id)
  }

  /** Adds; false when it was there already. */
  add(type: BlobType, id: string): boolean {
    const s = type === 'data' ? this.data : this.tree
    if (s.has(id)) return false
    s.add(id)
    return true
  }

  get size(): number {
    return this.data.size + this.tree.size
  }

  *missingFrom(other: BlobSet): Generator<{type: BlobType; id: string}> {
    for (const type of ['tree', 'data'] as const) for (const id of this[type]) if (!other[type].has(id)) yield {type, id}
  }
}
const entrySize = (b: PackedBlob): number => b.length + (b.uncompressedLength === undefined ? HEADER_ENTRY_PLAIN : HEADER_ENTRY_COMPRESSED)

async function eachLimit<T>(items: Iterable<T>, n: number, fn: (t: T) => Promise<void>): Promise<void> {
  const it = items[Symbol.iterator]()
  const worker = async () => {
    for (let r = it.next(); !r.done; r = it.next()) await fn(r.value)
  }
  await Promise.all(Array.from({length: n}, worker))
}

interface PackPlan {
  entry: IndexPackEntry
  size: number
  owned: boolean[]
  ownedCount: number
  usedSize: number
  unusedSize: number
  types: Set<BlobType>
  action: 'keep' | 'repack' | 'delete'
}

export class PruneError extends LifeboatError {
  constructor(message: string, hint = 'run `lifeboat backup check` to see what is wrong; nothing was deleted') {
    super(message, {code: 'PRUNE_FAILED', hint})
  }
}

// ------------------------------------------------------------------------------------------ prune

export async function pruneRepository(repo: Repository, o: PruneOptions = {}): Promise<PruneResult> {
  const started = Date.now()
  const emit: ProgressListener = o.onEvent ?? (() => {})
  const maxUnused = parseMaxUnused(o.maxUnused ?? '5%')
  const maxRepack = o.maxRepackBytes ?? Number.POSITIVE_INFINITY
  const dryRun = Boolean(o.dryRun)
  let lock: RepositoryLock | undefined
  if (!o.lockHeld) lock = await lockRepository(repo, {exclusive: !dryRun, retryMs: o.retryLockMs})
  // On a local folder the repack workers start now, so their start-up overlaps the index load and tree walk.
  const workers = !dryRun && repo.backend instanceof LocalBackend ? new RepackWorkers(repo, repo.backend, o.workers ?? os.availableParallelism()) : undefined
  try {
    return await prune(repo, o, emit, maxUnused, maxRepack, dryRun, started, workers)
  } finally {
    await workers?.terminate()
    await lock?.release()
  }
}

async function prune(
  repo: Repository,
  o: PruneOptions,
  emit: ProgressListener,
  maxUnused: (used: number) => number,
  maxRepack: number,
  dryRun: boolean,
  started: number,
  workers: RepackWorkers | undefined,
): Promise<PruneResult> {
  const backend = repo.backend
  // ---- load
  emit({kind: 'start', phase: 'load-index'})
  const [packList, indexList, snapshotList] = await Promise.all([backend.list('pack'), backend.list('index'), backend.list('snapshot')])
  await repo.loadIndex(8)
  const oldIndexFiles = indexList.map((f) => f.name).filter((n) => repo.index.loadedFiles.has(n))
  const packFiles = new Map(packList.map((f) => [f.name, f.size]))
  emit({kind: 'done', phase: 'load-index'})

  // ---- used blobs
  emit({kind: 'start', phase: 'find-used-blobs', totalFiles: snapshotList.length})
  const roots: string[] = []
  await eachLimit(snapshotList, 8, async (f) => {
    let sn
    try {
      sn = await repo.loadSnapshot(f.name)
    } catch (error) {
      throw new PruneError(`snapshot ${f.name} cannot be read: ${errorMessage(error)}`, 'remove the damaged snapshot (lifeboat backup forget) or repair it, then prune again; nothing was deleted')
    }
    if (typeof sn?.tree !== 'string') throw new PruneError(`snapshot ${f.name} has no tree`)
    roots.push(sn.tree)
  })
  const used = await findUsedBlobs(repo, roots, emit)
  emit({kind: 'done', phase: 'find-used-blobs'})

  // ---- classify
  emit({kind: 'start', phase: 'plan'})
  const plans: PackPlan[] = []
  const missingPacks: string[] = []
  let blobsTotal = 0
  for (const entry of repo.index.packs()) {
    const size = packFiles.get(entry.id)
    if (size === undefined) {
      missingPacks.push(entry.id)
      continue
    }
    const want = expectedPackSize(entry.blobs)
    if (want !== size) {
      throw new PruneError(`pack ${entry.id}: file size ${size} does not match the index (expected ${want} bytes)`, 'run `lifeboat backup check`; a damaged index needs rebuilding before a prune; nothing was deleted')
    }
    blobsTotal += entry.blobs.length
    const allUsed = entry.blobs.every((b) => used.has(b.type, b.id))
    plans.push({entry, size, owned: [], ownedCount: allUsed ? -1 : 0, usedSize: 0, unusedSize: 0, types: new Set(entry.blobs.map((b) => b.type)), action: 'keep'})
  }
  // Owners: fully used packs first, so a duplicate blob stays where keeping it is free.
  const order = [...plans].sort((a, b) => (a.ownedCount === -1 ? 0 : 1) - (b.ownedCount === -1 ? 0 : 1))
  const owned = new BlobSet()
  let usedBlobs = 0
  let usedSize = 0
  let unusedBlobs = 0
  let unusedSize = 0
  let dupBlobs = 0
  let dupSize = 0
  for (const p of order) {
    p.ownedCount = 0
    for (const b of p.entry.blobs) {
      const sz = entrySize(b)
      const isUsed = used.has(b.type, b.id)
      if (isUsed && owned.add(b.type, b.id)) {
        p.owned.push(true)
        p.ownedCount++
        p.usedSize += sz
        usedBlobs++
        usedSize += sz
      } else {
        p.owned.push(false)
        p.unusedSize += sz
        if (isUsed) {
          dupBlobs++
          dupSize += sz
        } else {
          unusedBlobs++
          unusedSize += sz
        }
      }
    }
  }
  if (owned.size !== used.size) {
    const lost = [...used.missingFrom(owned)]
    const desc = lost.slice(0, 3).map((b) => `${b.type} ${b.id.slice(0, 12)}`).join(', ')
    throw new PruneError(
      `${lost.length} blob(s) used by snapshots are in no existing pack (${desc}${lost.length > 3 ? ', …' : ''})`,
      'run `lifeboat backup check`; the snapshots that need them are damaged; nothing was deleted',
    )
  }

  const fullyUsed = plans.filter((p) => p.ownedCount === p.entry.blobs.length)
  const unusedPacks = plans.filter((p) => p.ownedCount === 0)
  const partly = plans.filter((p) => p.ownedCount > 0 && p.ownedCount < p.entry.blobs.length)
  for (const p of unusedPacks) p.action = 'delete'
  let removeSize = 0
  for (const p of unusedPacks) removeSize += p.unusedSize
  // restic: most unused per used byte first.
  partly.sort((a, b) => b.unusedSize * a.usedSize - a.unusedSize * b.usedSize)
  const allowed = maxUnused(usedSize)
  let repackSize = 0
  let repackRemoved = 0
  const totalUnused = unusedSize + dupSize
  for (const p of partly) {
    const isData = p.types.size === 1 && p.types.has('data')
    if (o.repackCacheableOnly && isData) continue
    if (repackSize + p.size > maxRepack) continue
    const reachedLimit = totalUnused - removeSize - repackRemoved <= allowed
    if (isData && reachedLimit) continue
    p.action = 'repack'
    repackSize += p.size
    repackRemoved += p.unusedSize
  }
  const toRepack = plans.filter((p) => p.action === 'repack')
  const toDelete = plans.filter((p) => p.action === 'delete')
  const keep = plans.filter((p) => p.action === 'keep')
  const unreferenced = [...packFiles.keys()].filter((id) => !repo.index.hasPack(id))
  let unreferencedSize = 0
  for (const id of unreferenced) unreferencedSize += packFiles.get(id)!
  let sizeBefore = 0
  for (const s of packFiles.values()) sizeBefore += s
  emit({kind: 'done', phase: 'plan'})
  // Stale temporary files (left by killed processes, older than an hour) are looked for while the workers repack
  // (this thread is mostly idle then; during the index load and tree walk it is not).
  const staleScan = staleTempFiles(repo, o.tmpMaxAgeMs ?? 60 * 60 * 1000)
  staleScan.catch(() => {})

  let repackBlobs = 0
  let repackUsedSize = 0
  for (const p of toRepack) {
    repackBlobs += p.ownedCount
    repackUsedSize += p.usedSize
  }
  let removeBlobs = 0
  for (const p of toDelete) removeBlobs += p.entry.blobs.length
  for (const p of toRepack) removeBlobs += p.entry.blobs.length - p.ownedCount
  let unusedAfter = 0
  for (const p of keep) unusedAfter += p.unusedSize

  const result: PruneResult = {
    dryRun,
    snapshots: snapshotList.length,
    blobs: {used: usedBlobs, unused: unusedBlobs, duplicate: dupBlobs, total: blobsTotal, repack: repackBlobs, remove: removeBlobs, remaining: blobsTotal - removeBlobs},
    size: {used: usedSize, unused: unusedSize, duplicate: dupSize, total: usedSize + unusedSize + dupSize, repack: repackSize, remove: removeSize + repackRemoved, unreferenced: unreferencedSize},
    packs: {
      total: packFiles.size,
      fullyUsed: fullyUsed.length,
      partlyUsed: partly.length,
      unused: unusedPacks.length,
      keep: keep.length,
      repack: toRepack.length,
      delete: toDelete.length,
      unreferenced: unreferenced.length,
      missing: missingPacks.length,
      written: 0,
    },
    sizeBefore,
    sizeAfter: 0,
    freed: 0,
    unusedAfter,
    unusedAfterPercent: 0,
    indexFiles: {old: oldIndexFiles.length, written: 0},
    tmpFilesRemoved: 0,
    durationMs: 0,
  }
  let removedPackBytes = unreferencedSize
  for (const p of toDelete) removedPackBytes += p.size
  for (const p of toRepack) removedPackBytes += p.size
  // Estimated size of the repacked data: the used blobs plus one header per ~pack size.
  let written = repackUsedSize + Math.ceil(repackUsedSize / repo.packSize) * (CRYPTO_OVERHEAD + 4) * (toRepack.length > 0 ? 1 : 0)

  const finish = (): PruneResult => {
    result.sizeAfter = sizeBefore - removedPackBytes + written
    result.freed = sizeBefore - result.sizeAfter
    result.unusedAfterPercent = result.sizeAfter > 0 ? (100 * unusedAfter) / result.sizeAfter : 0
    result.durationMs = Date.now() - started
    return result
  }

  // ---- object lock: refuse before writing anything when something to delete is still retained
  if (backend.retained) {
    const willChangeIndex = toRepack.length > 0 || toDelete.length > 0 || missingPacks.length > 0
    const handles: FileHandle[] = [
      ...[...toDelete, ...toRepack].map((p) => ({type: 'pack' as const, name: p.entry.id})),
      ...unreferenced.map((id) => ({type: 'pack' as const, name: id})),
      ...(willChangeIndex ? oldIndexFiles.map((id) => ({type: 'index' as const, name: id})) : []),
    ]
    const locked = handles.length > 0 ? await backend.retained(handles) : []
    if (locked.length > 0) {
      const until = locked.reduce((a, b) => (b.until > a ? b.until : a), locked[0].until)
      throw new LifeboatError(
        `prune refused: ${locked.length} of the ${handles.length} objects it would delete are under object-lock retention (${[...new Set(locked.map((l) => l.mode ?? 'retention'))].join(', ')}) until as late as ${until.toISOString()}; nothing was changed`,
        {
          code: 'OBJECT_LOCKED',
          where: backend.location,
          hint: `run prune after ${until.toISOString()} (or with a shorter retention on new objects: lifeboat s3 object-lock set); forget works, prune frees space only once retention ends`,
          details: {locked: locked.slice(0, 20).map((l) => ({type: l.handle.type, id: l.handle.name, until: l.until.toISOString(), mode: l.mode}))},
        },
      )
    }
  }

  if (dryRun) {
    result.tmpFilesRemoved = (await staleScan).length
    return finish()
  }

  // ---- repack; meanwhile the index of the kept packs is written (this thread is idle while the workers repack)
  const indexChanged = toRepack.length > 0 || toDelete.length > 0 || missingPacks.length > 0
  const newIds = new Set<string>()
  const saveIndex = async (entries: IndexPackEntry[], supersedes: string[] | undefined): Promise<void> => {
    const files: IndexJSON[] = splitIndex(entries)
    if (supersedes) {
      if (files.length === 0) files.push({packs: []})
      files[0].supersedes = supersedes
    }
    for (const j of files) newIds.add(await repo.saveUnpacked('index', j))
    result.indexFiles.written += files.length
  }
  const keptIndex = indexChanged && keep.length > 0 ? saveIndex(keep.map((p) => p.entry), oldIndexFiles) : undefined
  keptIndex?.catch(() => {})
  const newPacks: IndexPackEntry[] = []
  if (toRepack.length > 0) {
    written = 0
    let packs: FinishedPack[]
    try {
      packs = await repack(repo, toRepack, emit, workers)
    } catch (error) {
      // The old index files still name everything: the early index file goes again, the repository is as it was.
      await keptIndex?.catch(() => {})
      for (const id of newIds) await backend.remove({type: 'index', name: id}).catch(() => {})
      throw error
    }
    for (const fp of packs) {
      newPacks.push({id: fp.id, blobs: fp.blobs})
      written += fp.size
    }
    result.packs.written = packs.length
  }

  // ---- new index complete (kept + new packs), then old index removed
  if (indexChanged) {
    emit({kind: 'start', phase: 'write-index'})
    await keptIndex
    if (newPacks.length > 0 || !keptIndex) await saveIndex(newPacks, keptIndex ? undefined : oldIndexFiles)
    emit({kind: 'done', phase: 'write-index'})
    emit({kind: 'start', phase: 'remove-old-index', totalFiles: oldIndexFiles.length})
    await eachLimit(
      oldIndexFiles.filter((id) => !newIds.has(id)),
      8,
      (id) => backend.remove({type: 'index', name: id}).catch(() => {}),
    )
    emit({kind: 'done', phase: 'remove-old-index'})
  }

  // ---- packs no index names any more
  const obsolete = [...toDelete.map((p) => p.entry.id), ...toRepack.map((p) => p.entry.id), ...unreferenced]
  emit({kind: 'start', phase: 'remove-packs', totalFiles: obsolete.length})
  let removed = 0
  await eachLimit(obsolete, 8, async (id) => {
    await backend.remove({type: 'pack', name: id}).catch(() => {})
    removed++
    if (removed % 64 === 0) emit({kind: 'progress', phase: 'remove-packs', files: removed, bytes: 0, totalFiles: obsolete.length})
  })
  emit({kind: 'done', phase: 'remove-packs'})

  // ---- stale temporary files (left by killed processes)
  const stale = await staleScan
  for (const f of stale) await fs.unlink(f).catch(() => {})
  result.tmpFilesRemoved = stale.length
  return finish()
}

/** Temporary files of the local backend older than maxAge (other backends have none to clean). */
async function staleTempFiles(repo: Repository, maxAgeMs: number): Promise<string[]> {
  const backend = repo.backend
  if (!(backend instanceof LocalBackend)) return []
  const root = backend.location
  const dirs = ['index', 'snapshots', 'locks', 'keys']
  for (let i = 0; i < 256; i++) dirs.push(path.join('data', i.toString(16).padStart(2, '0')))
  const out: string[] = []
  const limit = Date.now() - maxAgeMs
  await eachLimit(dirs, 16, async (d) => {
    let names: string[]
    try {
      names = await fs.readdir(path.join(root, d))
    } catch {
      return
    }
    for (const n of names) {
      if (!TMP_RE.test(n)) continue
      const f = path.join(root, d, n)
      try {
        if ((await fs.stat(f)).mtimeMs < limit) out.push(f)
      } catch {
        // gone meanwhile
      }
    }
  })
  return out
}

// ------------------------------------------------------------------------------------------ used blobs

/** Every blob reachable from the given trees. */
async function findUsedBlobs(repo: Repository, roots: string[], emit: ProgressListener): Promise<BlobSet> {
  const used = new BlobSet()
  const queue: string[] = []
  const push = (id: string): void => {
    if (used.add('tree', id)) queue.push(id)
  }
  for (const r of roots) push(r)
  let active = 0
  let done = 0
  let failure: unknown
  await new Promise<void>((resolve) => {
    const pump = (): void => {
      while (!failure && active < TREE_CONCURRENCY && queue.length > 0) {
        const id = queue.pop()!
        active++
        loadTreeNodes(repo, id)
          .then((nodes) => {
            for (const n of nodes) {
              if (n.type === 'file') {
                if (Array.isArray(n.content)) for (const b of n.content) used.data.add(b)
              } else if (n.type === 'dir' && n.subtree) {
                push(n.subtree)
              }
            }
          })
          .catch((error: unknown) => {
            failure ??= error
          })
          .finally(() => {
            active--
            done++
            if (done % 256 === 0) emit({kind: 'progress', phase: 'find-used-blobs', files: done, bytes: 0})
            pump()
          })
      }
      if (active === 0 && (queue.length === 0 || failure)) resolve()
    }
    pump()
  })
  if (failure) throw failure
  return used
}

async function loadTreeNodes(repo: Repository, id: string): Promise<ReturnType<typeof parseTreeForCheck>> {
  if (!repo.index.has('tree', id)) {
    throw new PruneError(`tree ${id} is used by a snapshot but in no index`, 'run `lifeboat backup check`; nothing was deleted')
  }
  try {
    return parseTreeForCheck(await repo.loadBlob('tree', id))
  } catch (error) {
    throw new PruneError(`tree ${id} cannot be read: ${errorMessage(error)}`, 'run `lifeboat backup check`; nothing was deleted')
  }
}

// ------------------------------------------------------------------------------------------ repack

const WORKER_LIMITS = {maxYoungGenerationSizeMb: 8}

/** The repack workers of a local repository (workers/prune-worker.ts); a start-up failure is kept for repack. */
class RepackWorkers {
  readonly workers: Worker[]
  failure: Error | undefined

  constructor(repo: Repository, local: LocalBackend, n: number) {
    const init: PruneWorkerInit = {key: {encrypt: repo.key.encrypt, macK: repo.key.macK, macR: repo.key.macR}, repoRoot: local.location, packSize: repo.packSize, fsync: true}
    this.workers = Array.from({length: Math.max(1, n)}, () => {
      const w = startWorker('prune-worker', init, {resourceLimits: WORKER_LIMITS})
      w.on('error', (e) => {
        this.failure ??= e
      })
      return w
    })
  }

  async terminate(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()))
  }
}

/**
 * Copies the owned blobs of the packs to repack into new packs. Each pack is first verified in a check
 * worker (its owned blobs decrypted, decompressed, hashed); the main thread then copies the encrypted blobs.
 */
async function repack(repo: Repository, plans: PackPlan[], emit: ProgressListener, pool: RepackWorkers | undefined): Promise<FinishedPack[]> {
  const backend = repo.backend
  const local = backend instanceof LocalBackend ? backend : undefined
  let totalBytes = 0
  for (const p of plans) totalBytes += p.size
  emit({kind: 'start', phase: 'repack', totalFiles: plans.length, totalBytes})
  const writers: Record<BlobType, PackWriter | undefined> = {data: undefined, tree: undefined}
  const out: FinishedPack[] = []
  const seen = new BlobSet()
  const save = async (w: PackWriter): Promise<void> => {
    const fp = w.finish()
    await backend.save({type: 'pack', name: fp.id}, fp.parts.length === 1 ? fp.parts[0] : Buffer.concat(fp.parts, fp.size), {packType: fp.blobs[0]?.type ?? 'data'})
    out.push({...fp, parts: []})
  }
  let packsDone = 0
  let bytesDone = 0

  const copyBlobs = async (p: PackPlan, data: Buffer): Promise<void> => {
    const blobs = p.entry.blobs
    for (let i = 0; i < blobs.length; i++) {
      if (!p.owned[i]) continue
      const b = blobs[i]
      if (!seen.add(b.type, b.id)) continue
      if (b.offset + b.length > data.length) throw new PruneError(`pack ${p.entry.id} is shorter than the index says; nothing was deleted`)
      const enc = Buffer.from(data.subarray(b.offset, b.offset + b.length))
      let w = writers[b.type]
      if (!w) w = writers[b.type] = new PackWriter(repo.key)
      w.add(b.type, b.id, enc, b.uncompressedLength)
      if (w.size + CRYPTO_OVERHEAD >= repo.packSize) {
        writers[b.type] = undefined
        await save(w)
      }
    }
    packsDone++
    bytesDone += p.size
    emit({kind: 'progress', phase: 'repack', files: packsDone, bytes: bytesDone, totalFiles: plans.length, totalBytes})
  }

  const ownedBlobs = (p: PackPlan): PackedBlob[] => p.entry.blobs.filter((_, i) => p.owned[i])

  if (!local || !pool) {
    // Remote backends: verify in this thread (no shared file to hand to a worker).
    for (const p of plans) {
      const data = await backend.load({type: 'pack', name: p.entry.id})
      for (const b of ownedBlobs(p)) {
        try {
          decodeBlob(repo.key, data.subarray(b.offset, b.offset + b.length), b.id, b.uncompressedLength)
        } catch (error) {
          throw new PruneError(`pack ${p.entry.id}: ${b.type} blob ${b.id} is damaged: ${errorMessage(error)}`, 'run `lifeboat backup check --read-data`; nothing was deleted')
        }
      }
      await copyBlobs(p, data)
    }
  } else {
    // Local: the workers verify, copy and write the new packs themselves; this thread only hands out packs.
    if (pool.failure) throw new LifeboatError(`repack worker crashed: ${pool.failure.message}`, {cause: pool.failure})
    const workers = pool.workers.slice(0, Math.min(pool.workers.length, plans.length))
    // Trees first, then data: a worker's new packs fill with one type at a time.
    const ordered = [...plans].sort((a, b) => (a.types.has('tree') ? 0 : 1) - (b.types.has('tree') ? 0 : 1))
    await new Promise<void>((resolve, reject) => {
      let next = 0
      let seq = 0
      let failed = false
      const pending = new Map<Worker, number>()
      const feed = (w: Worker): void => {
        while (!failed && next < ordered.length && (pending.get(w) ?? 0) < 2) {
          const p = ordered[next++]
          pending.set(w, (pending.get(w) ?? 0) + 1)
          const job: PruneJob = {t: 'pack', seq: seq++, id: p.entry.id, path: local.filename({type: 'pack', name: p.entry.id}), blobs: ownedBlobs(p)}
          w.postMessage(job)
          sizes.set(job.seq, p.size)
        }
        if (!failed && next >= ordered.length && (pending.get(w) ?? 0) === 0 && !finished.has(w)) {
          finished.add(w)
          pending.set(w, 1)
          w.postMessage({t: 'finish', seq: -1} satisfies PruneJob)
        }
      }
      const sizes = new Map<number, number>()
      const finished = new Set<Worker>()
      let closed = 0
      for (const w of workers) {
        w.on('message', (m: PruneJobResult) => {
          if (failed) return
          pending.set(w, (pending.get(w) ?? 1) - 1)
          out.push(...m.packs.map((sp) => ({id: sp.id, size: sp.size, blobs: sp.blobs, parts: []})))
          if (m.error) {
            failed = true
            reject(new PruneError(m.error, 'run `lifeboat backup check --read-data`; nothing was deleted'))
            return
          }
          if (m.seq === -1) {
            if (++closed === workers.length) resolve()
            return
          }
          packsDone++
          bytesDone += sizes.get(m.seq) ?? 0
          emit({kind: 'progress', phase: 'repack', files: packsDone, bytes: bytesDone, totalFiles: plans.length, totalBytes})
          feed(w)
        })
        w.on('error', (e) => {
          failed = true
          reject(new LifeboatError(`repack worker crashed: ${e.message}`, {cause: e}))
        })
        feed(w)
      }
    })
  }
  for (const t of ['tree', 'data'] as const) {
    const w = writers[t]
    if (w && w.count > 0) await save(w)
  }
  emit({kind: 'done', phase: 'repack'})
  return out
}
