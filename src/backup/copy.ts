/**
 * `copy`: copies snapshots from a source repository into a destination repository, as restic 0.14's copy.
 *
 * - A source snapshot is skipped when the destination has a "similar" snapshot with the same original ID
 *   (restic's rule: same time, tree, hostname, username, uid, gid, paths, tags and excludes).
 * - For each snapshot to copy, its trees are walked (each tree once per run) and every tree and data blob the
 *   destination lacks (its index plus what this run added) is copied. Blob IDs are plaintext hashes, so a
 *   blob keeps its ID: it is decrypted with the source key, verified, and sealed with the destination key.
 *   Compressed blobs stay compressed (no recompression) unless the destination has compression off or is v1.
 * - Blobs are read grouped by source pack, in coalesced ranges, a few ranges ahead: memory stays at a few
 *   ranges plus the destination's upload queue, whatever the repository size.
 * - Then the destination is flushed (packs, index) and the snapshot saved, `parent` dropped (it names a
 *   source snapshot) and `original` set to the source snapshot's ID when it had none.
 *
 * The caller holds (non-exclusive) locks on both repositories.
 */
import {decompress} from 'zstd-napi'

import {UsageError} from '../errors.js'
import {noProgress, type ProgressListener} from '../progress.js'
import {open, seal} from './crypto.js'
import {BlobCorruptError, FormatError} from './errors.js'
import type {BlobLocation} from './index.js'
import {encodeBlob, sha256Hex} from './pack.js'
import type {Repository, SnapshotEntry} from './repository.js'
import {matchesSnapshot, type SnapshotFilterOptions} from './snapshots.js'
import {decodeTree} from './tree.js'
import type {BlobType, Snapshot} from './types.js'

export interface CopyOptions {
  /** Snapshot IDs, unique prefixes or "latest"; none = every snapshot matching `filter`. */
  snapshots?: string[]
  filter?: Pick<SnapshotFilterOptions, 'hosts' | 'tags' | 'paths'>
  onEvent?: ProgressListener
  /** Bytes of one ranged read of a source pack (default 8 MiB; a larger blob is read alone). */
  maxReadBytes?: number
  /** Ranged reads in flight ahead of the one being re-encrypted (default 2). */
  readAhead?: number
  /** Copy the blobs collected so far once this many are waiting (default 20 000), even mid-snapshot. */
  batchBlobs?: number
}

export interface CopiedSnapshot {
  /** ID in the source repository. */
  source: string
  /** ID of the new snapshot in the destination. */
  id: string
  time: string
  hostname?: string
  paths: string[]
  tags?: string[]
  original: string
}

export interface SkippedSnapshot {
  source: string
  /** The destination snapshot it was already copied to. */
  existing: string
  time: string
  paths: string[]
}

export interface CopyResult {
  source: string
  destination: string
  copied: CopiedSnapshot[]
  skipped: SkippedSnapshot[]
  /** Blobs copied (the destination lacked them). */
  blobs: {data: number; tree: number}
  /** Plaintext bytes of the copied blobs. */
  bytes: number
  /** Encrypted bytes added to the destination's packs. */
  storedBytes: number
  /** Encrypted bytes read from the source's packs (ranges may include a few unneeded blobs between needed ones). */
  readBytes: number
  /** Ranged reads of source packs. */
  reads: number
  /** Trees visited in the source. */
  trees: number
  /** Whether both repositories use the same chunker polynomial (then copied data dedups with later backups). */
  sameChunkerParams: boolean
  durationMs: number
}

// ------------------------------------------------------------------------------------------ snapshot matching

/** A snapshot's time as nanoseconds since the epoch (Go's time.Equal compares instants, not strings). */
export function snapshotInstant(time: string): bigint {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/i.exec(time.trim())
  if (!m) {
    const ms = Date.parse(time)
    if (Number.isNaN(ms)) throw new FormatError(`invalid snapshot time ${JSON.stringify(time)}`)
    return BigInt(ms) * 1_000_000n
  }
  const ms = Date.parse(m[1] + m[3].toUpperCase())
  if (Number.isNaN(ms)) throw new FormatError(`invalid snapshot time ${JSON.stringify(time)}`)
  return BigInt(ms) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0') || '0')
}

function sameSet(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  const x = a ?? []
  const y = b ?? []
  return x.length === y.length && y.every((v) => x.includes(v))
}

/** restic's similarSnapshots: everything but parent and original (and the summary) must match. */
export function similarSnapshots(a: Snapshot, b: Snapshot): boolean {
  if (a.tree !== b.tree || (a.hostname ?? '') !== (b.hostname ?? '') || (a.username ?? '') !== (b.username ?? '')) return false
  if ((a.uid ?? 0) !== (b.uid ?? 0) || (a.gid ?? 0) !== (b.gid ?? 0)) return false
  if (!sameSet(a.paths, b.paths) || !sameSet(a.tags, b.tags)) return false
  const ea = a.excludes ?? []
  const eb = b.excludes ?? []
  if (ea.length !== eb.length || ea.some((e, i) => e !== eb[i])) return false
  return snapshotInstant(a.time) === snapshotInstant(b.time)
}

/** The source snapshots to copy: the given refs (deduplicated), or all matching the filter, oldest first. */
async function selectSnapshots(src: Repository, o: CopyOptions): Promise<SnapshotEntry[]> {
  const refs = (o.snapshots ?? []).filter(Boolean)
  const f = o.filter ?? {}
  if (refs.length === 0) return (await src.listSnapshots()).filter((e) => matchesSnapshot(e.snapshot, f))
  const out: SnapshotEntry[] = []
  for (const r of refs) {
    const e = await src.findSnapshot(r, {hostname: f.hosts?.[0], paths: f.paths, tags: f.tags})
    if (!out.some((x) => x.id === e.id)) out.push(e)
  }
  return out.sort((a, b) => Number(snapshotInstant(a.snapshot.time) - snapshotInstant(b.snapshot.time)) || (a.id < b.id ? -1 : 1))
}

// ------------------------------------------------------------------------------------------ blob conversion

/**
 * Decrypts a blob with the source key, checks it against its ID, and seals it with the destination key.
 * A compressed blob is re-sealed as it is (no recompression) when the destination compresses.
 */
export function reencryptBlob(
  src: Repository,
  dst: Repository,
  loc: Pick<BlobLocation, 'id' | 'uncompressedLength'>,
  encrypted: Uint8Array,
): {encrypted: Buffer; uncompressedLength?: number; plainLength: number} {
  const id = loc.id
  const inner = open(src.key, encrypted)
  const level = dst.compressionLevel
  if (loc.uncompressedLength !== undefined && loc.uncompressedLength > 0) {
    let plain: Buffer
    try {
      plain = decompress(inner)
    } catch (error) {
      throw new BlobCorruptError(`blob ${id}: zstd decompression failed`, {cause: error})
    }
    if (plain.length !== loc.uncompressedLength) throw new BlobCorruptError(`blob ${id}: decompressed to ${plain.length} bytes, index says ${loc.uncompressedLength}`)
    const got = sha256Hex(plain)
    if (got !== id) throw new BlobCorruptError(`blob ${id}: content hashes to ${got}`)
    if (level > 0) return {encrypted: seal(dst.key, inner), uncompressedLength: plain.length, plainLength: plain.length}
    return {encrypted: seal(dst.key, plain), plainLength: plain.length}
  }
  const got = sha256Hex(inner)
  if (got !== id) throw new BlobCorruptError(`blob ${id}: content hashes to ${got}`)
  if (level > 0) {
    const enc = encodeBlob(dst.key, inner, true, level, id)
    return {encrypted: enc.encrypted, uncompressedLength: enc.uncompressedLength, plainLength: inner.length}
  }
  return {encrypted: seal(dst.key, inner), plainLength: inner.length}
}

// ------------------------------------------------------------------------------------------ the copier

interface Range {
  packId: string
  offset: number
  length: number
  blobs: BlobLocation[]
}

/** Groups a pack's needed blobs into ranged reads: neighbours closer than `gap` share a read up to `max` bytes. */
export function planReads(packId: string, blobs: BlobLocation[], max: number, gap = 256 * 1024): Range[] {
  const sorted = [...blobs].sort((a, b) => a.offset - b.offset)
  const out: Range[] = []
  let cur: Range | undefined
  for (const b of sorted) {
    const end = b.offset + b.length
    if (cur && b.offset >= cur.offset + cur.length && b.offset - (cur.offset + cur.length) <= gap && end - cur.offset <= max) {
      cur.length = end - cur.offset
      cur.blobs.push(b)
    } else {
      cur = {packId, offset: b.offset, length: b.length, blobs: [b]}
      out.push(cur)
    }
  }
  return out
}

class Copier {
  /** Needed blobs not copied yet, by source pack. */
  private byPack = new Map<string, BlobLocation[]>()
  private waiting = 0
  private waitingBytes = 0
  /** type+id of blobs queued or copied in this run (the destination's index knows them once flushed). */
  private readonly queued = new Set<string>()
  private readonly visitedTrees = new Set<string>()
  readonly stats = {data: 0, tree: 0, bytes: 0, storedBytes: 0, readBytes: 0, reads: 0}
  private done = {blobs: 0, bytes: 0}
  private phase = ''

  constructor(
    private readonly src: Repository,
    private readonly dst: Repository,
    private readonly o: Required<Pick<CopyOptions, 'maxReadBytes' | 'readAhead' | 'batchBlobs'>> & {onEvent: ProgressListener},
  ) {}

  get trees(): number {
    return this.visitedTrees.size
  }

  private need(type: BlobType, id: string, where: string): void {
    const k = (type === 'data' ? 'd' : 't') + id
    if (this.queued.has(k) || this.dst.hasBlob(type, id)) return
    const loc = this.src.index.lookup(type, id)
    if (!loc) {
      throw new FormatError(`${type} blob ${id} (${where}) is not in the source repository's index`, {
        where: this.src.backend.location,
        hint: 'run `lifeboat backup check` (or `restic check`) on the source repository',
      })
    }
    this.queued.add(k)
    let list = this.byPack.get(loc.packId)
    if (!list) this.byPack.set(loc.packId, (list = []))
    list.push(loc)
    this.waiting++
    this.waitingBytes += loc.length
  }

  /** Walks a snapshot's trees (each tree once per run), queueing what the destination lacks. */
  async collect(rootTree: string): Promise<void> {
    const stack: Array<{id: string; path: string}> = [{id: rootTree, path: '/'}]
    // A few tree loads in flight: tree packs are cached whole by the repository, so this is mostly CPU.
    const CONCURRENCY = 4
    const active = new Set<Promise<void>>()
    let failure: unknown
    const visit = async (t: {id: string; path: string}) => {
      const nodes = decodeTree(await this.src.loadBlob('tree', t.id))
      this.need('tree', t.id, t.path)
      for (const n of nodes) {
        const p = t.path === '/' ? `/${n.name}` : `${t.path}/${n.name}`
        for (const id of n.content ?? []) this.need('data', id, p)
        if (n.type === 'dir' && n.subtree && !this.visitedTrees.has(n.subtree)) {
          this.visitedTrees.add(n.subtree)
          stack.push({id: n.subtree, path: p})
        }
      }
    }
    if (this.visitedTrees.has(rootTree)) return
    this.visitedTrees.add(rootTree)
    while (stack.length > 0 || active.size > 0) {
      while (stack.length > 0 && active.size < CONCURRENCY && failure === undefined) {
        const p: Promise<void> = visit(stack.pop()!)
          .catch((error: unknown) => {
            failure ??= error
          })
          .finally(() => active.delete(p))
        active.add(p)
      }
      if (failure !== undefined) {
        await Promise.allSettled(active)
        throw failure
      }
      if (active.size > 0) await Promise.race(active)
      // Bounded memory on huge snapshots: copy what is waiting before walking on.
      if (this.waiting >= this.o.batchBlobs) await this.copyWaiting()
    }
    if (failure !== undefined) throw failure
  }

  /** Copies every queued blob, reading the source pack by pack in coalesced ranges, a few reads ahead. */
  async copyWaiting(): Promise<void> {
    if (this.waiting === 0) return
    const packs = this.byPack
    const total = {blobs: this.waiting, bytes: this.waitingBytes}
    this.byPack = new Map()
    this.waiting = 0
    this.waitingBytes = 0
    const ranges: Range[] = []
    for (const [packId, blobs] of [...packs].sort((a, b) => (a[0] < b[0] ? -1 : 1))) ranges.push(...planReads(packId, blobs, this.o.maxReadBytes))
    this.done = {blobs: 0, bytes: 0}
    const read = (r: Range) => this.src.backend.load({type: 'pack', name: r.packId}, r.offset, r.length).then(
      (buf) => ({buf, error: undefined}),
      (error: unknown) => ({buf: undefined, error}),
    )
    const ahead: Array<ReturnType<typeof read>> = []
    let next = 0
    const fill = () => {
      while (ahead.length < this.o.readAhead + 1 && next < ranges.length) ahead.push(read(ranges[next++]))
    }
    let lastEvent = 0
    for (const r of ranges) {
      fill()
      const {buf, error} = await ahead.shift()!
      fill()
      this.stats.reads++
      if (buf) this.stats.readBytes += buf.length
      for (const b of r.blobs) {
        let out: ReturnType<typeof reencryptBlob>
        try {
          if (!buf) throw error
          if (buf.length < b.offset - r.offset + b.length) throw new FormatError(`pack ${r.packId} is shorter than the index says`)
          out = reencryptBlob(this.src, this.dst, b, buf.subarray(b.offset - r.offset, b.offset - r.offset + b.length))
        } catch (error_) {
          // Another copy of the blob may be intact (a blob can sit in more than one pack).
          out = await this.fallback(b, error_)
        }
        const res = await this.dst.addEncodedBlob(b.type, b.id, out.encrypted, out.uncompressedLength)
        this.stats[b.type]++
        this.stats.bytes += out.plainLength
        this.stats.storedBytes += res.size
        this.done.blobs++
        this.done.bytes += b.length
      }
      const now = Date.now()
      if (now - lastEvent >= 250 || this.done.blobs === total.blobs) {
        lastEvent = now
        this.o.onEvent({kind: 'progress', phase: this.phase, files: this.done.blobs, bytes: this.done.bytes, totalFiles: total.blobs, totalBytes: total.bytes})
      }
    }
  }

  private async fallback(b: BlobLocation, first: unknown): Promise<ReturnType<typeof reencryptBlob>> {
    for (const loc of this.src.index.lookupAll(b.type, b.id)) {
      if (loc.packId === b.packId && loc.offset === b.offset) continue
      try {
        const enc = await this.src.backend.load({type: 'pack', name: loc.packId}, loc.offset, loc.length)
        return reencryptBlob(this.src, this.dst, loc, enc)
      } catch {
        // try the next copy
      }
    }
    const msg = first instanceof Error ? first.message : String(first)
    throw new BlobCorruptError(`cannot copy ${b.type} blob ${b.id} from pack ${b.packId}: ${msg}`, {
      cause: first,
      hint: 'the source repository is damaged: run `lifeboat backup check --read-data` on it',
    })
  }

  setPhase(phase: string): void {
    this.phase = phase
  }
}

/** Copies snapshots from `src` into `dst` (see the module comment). */
export async function copySnapshots(src: Repository, dst: Repository, o: CopyOptions = {}): Promise<CopyResult> {
  const started = Date.now()
  const onEvent = o.onEvent ?? noProgress
  if (src.config.id === dst.config.id && src.backend.location === dst.backend.location) {
    throw new UsageError(`source and destination are the same repository (${dst.backend.location})`, {
      hint: '--from-repo names the repository to copy from, --repo the one to copy into',
    })
  }
  const sameChunkerParams = src.config.chunkerPolynomial === dst.config.chunkerPolynomial
  if (!sameChunkerParams) {
    onEvent({
      kind: 'info',
      message: 'the repositories have different chunker parameters: copied data will not deduplicate with data backed up directly into the destination (create it with `backup init --copy-chunker-params` to share them)',
    })
  }
  onEvent({kind: 'start', phase: 'loading indexes'})
  await Promise.all([src.loadIndex(), dst.loadIndex()])
  const selected = await selectSnapshots(src, o)

  // Destination snapshots by their persistent ID (original, else own ID), as restic.
  const byOriginal = new Map<string, SnapshotEntry[]>()
  for (const e of await dst.listSnapshots()) {
    const k = e.snapshot.original ?? e.id
    byOriginal.set(k, [...(byOriginal.get(k) ?? []), e])
  }

  const copier = new Copier(src, dst, {
    maxReadBytes: o.maxReadBytes ?? 8 * 1024 * 1024,
    readAhead: Math.max(0, o.readAhead ?? 2),
    batchBlobs: Math.max(1, o.batchBlobs ?? 20_000),
    onEvent,
  })
  const result: CopyResult = {
    source: src.backend.location,
    destination: dst.backend.location,
    copied: [],
    skipped: [],
    blobs: {data: 0, tree: 0},
    bytes: 0,
    storedBytes: 0,
    readBytes: 0,
    reads: 0,
    trees: 0,
    sameChunkerParams,
    durationMs: 0,
  }

  for (const {id, snapshot: sn} of selected) {
    const original = sn.original ?? id
    const twin = (byOriginal.get(original) ?? []).find((d) => similarSnapshots(d.snapshot, sn))
    if (twin) {
      onEvent({kind: 'info', message: `skipping snapshot ${id.slice(0, 8)}: already copied to ${twin.id.slice(0, 8)}`})
      result.skipped.push({source: id, existing: twin.id, time: sn.time, paths: sn.paths})
      continue
    }
    const phase = `snapshot ${id.slice(0, 8)} of ${sn.paths.join(', ')}`
    copier.setPhase(phase)
    onEvent({kind: 'start', phase})
    await copier.collect(sn.tree)
    await copier.copyWaiting()
    // Packs and index first, then the snapshot that needs them.
    await dst.flush()
    const copy: Snapshot = {...sn, original}
    delete copy.parent // it names a snapshot of the source repository
    const newId = await dst.saveSnapshot(copy)
    byOriginal.set(original, [...(byOriginal.get(original) ?? []), {id: newId, snapshot: copy}])
    result.copied.push({source: id, id: newId, time: sn.time, hostname: sn.hostname, paths: sn.paths, tags: sn.tags, original})
    onEvent({kind: 'done', phase})
  }

  Object.assign(result, {
    blobs: {data: copier.stats.data, tree: copier.stats.tree},
    bytes: copier.stats.bytes,
    storedBytes: copier.stats.storedBytes,
    readBytes: copier.stats.readBytes,
    reads: copier.stats.reads,
    trees: copier.trees,
    durationMs: Date.now() - started,
  })
  return result
}
