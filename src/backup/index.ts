/**
 * The master index: where every blob lives (pack, offset, lengths), built from all index/ files plus the
 * packs written in this session.
 *
 * Memory: one record per (blob, pack) in flat typed arrays (32-byte binary ID + 5 numbers ≈ 53 bytes) and an
 * open-addressing hash table of 4-byte slots (load ≤ 0.5) — about 60 bytes per blob, against ~250 for a Map
 * of hex strings to objects. Pack IDs are stored once.
 */
import {FormatError} from './errors.js'
import type {BlobType, IndexPackEntry, PackedBlob} from './types.js'

/** restic's cap on blobs per index file; keeps each file well under 8 MiB. */
export const INDEX_MAX_BLOBS = 50_000
/** Hard cap on one index file's JSON size. */
export const INDEX_MAX_BYTES = 8 * 1024 * 1024

/** /^[0-9a-f]{64}$/ without the regular expression (called for every blob of every index file). */
function isLowerHex64(s: string): boolean {
  if (s.length !== 64) return false
  for (let k = 0; k < 64; k++) {
    const c = s.charCodeAt(k)
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false
  }
  return true
}

/** JSON of one index file, restic's field names. */
export interface IndexJSON {
  supersedes?: string[]
  packs: Array<{
    id: string
    blobs: Array<{id: string; type: BlobType; offset: number; length: number; uncompressed_length?: number}>
  }>
}

export interface BlobLocation extends PackedBlob {
  packId: string
}

export class MasterIndex {
  private cap = 0
  private n = 0
  private ids = new Uint8Array(0)
  private pack = new Uint32Array(0)
  private offset = new Float64Array(0) // offsets and lengths may exceed 2^32 in theory; doubles are exact to 2^53
  private length = new Uint32Array(0)
  private ulen = new Uint32Array(0) // 0 = stored uncompressed
  private types = new Uint8Array(0) // 0 data, 1 tree
  private table = new Int32Array(0) // record index + 1; 0 = empty
  private mask = 0

  private readonly packIds: string[] = []
  private readonly packNo = new Map<string, number>()
  private readonly blobsPerType = [0, 0]
  /** IDs of the index files loaded into this index. */
  readonly loadedFiles = new Set<string>()
  /** Index files named as superseded by some loaded index file. */
  readonly superseded = new Set<string>()

  private scratch = Buffer.allocUnsafe(32)

  constructor(expectedBlobs = 1024) {
    this.grow(Math.max(16, expectedBlobs))
  }

  /** Number of (blob, pack) records. */
  get size(): number {
    return this.n
  }

  get packCount(): number {
    return this.packIds.length
  }

  count(type: BlobType): number {
    return this.blobsPerType[type === 'data' ? 0 : 1]
  }

  /** Approximate bytes used by the index structures. */
  get memoryUsage(): number {
    return this.ids.byteLength + this.pack.byteLength + this.offset.byteLength + this.length.byteLength + this.ulen.byteLength +
      this.types.byteLength + this.table.byteLength + this.packIds.length * 150
  }

  private grow(minCap: number): void {
    let cap = Math.max(this.cap * 2, 16)
    while (cap < minCap) cap *= 2
    const ids = new Uint8Array(cap * 32)
    ids.set(this.ids.subarray(0, this.n * 32))
    const pack = new Uint32Array(cap)
    pack.set(this.pack.subarray(0, this.n))
    const offset = new Float64Array(cap)
    offset.set(this.offset.subarray(0, this.n))
    const length = new Uint32Array(cap)
    length.set(this.length.subarray(0, this.n))
    const ulen = new Uint32Array(cap)
    ulen.set(this.ulen.subarray(0, this.n))
    const types = new Uint8Array(cap)
    types.set(this.types.subarray(0, this.n))
    Object.assign(this, {ids, pack, offset, length, ulen, types, cap})
    // table: at least 2 slots per record
    const slots = cap * 2
    this.table = new Int32Array(slots)
    this.mask = slots - 1
    for (let i = 0; i < this.n; i++) this.insertSlot(i)
  }

  private hashAt(buf: Uint8Array, off: number, t: number): number {
    // IDs are SHA-256 outputs: any 4 bytes are uniformly distributed.
    return ((buf[off] | (buf[off + 1] << 8) | (buf[off + 2] << 16) | (buf[off + 3] << 24)) ^ (t * 0x9e3779b1)) >>> 0
  }

  private insertSlot(i: number): void {
    let s = this.hashAt(this.ids, i * 32, this.types[i]) & this.mask
    while (this.table[s] !== 0) s = (s + 1) & this.mask
    this.table[s] = i + 1
  }

  private sameId(i: number, id: Uint8Array): boolean {
    const base = i * 32
    const ids = this.ids
    for (let k = 0; k < 32; k++) if (ids[base + k] !== id[k]) return false
    return true
  }

  private idBytes(id: string): Buffer {
    if (!isLowerHex64(id) || this.scratch.write(id, 0, 32, 'hex') !== 32) {
      throw new FormatError(`invalid blob id ${JSON.stringify(id)}`)
    }
    return this.scratch
  }

  /** Calls fn for each record of (type, id); stops when fn returns true. */
  private probe(type: BlobType, id: string, fn: (i: number) => boolean | void): void {
    const t = type === 'data' ? 0 : 1
    const idb = this.idBytes(id)
    let s = this.hashAt(idb, 0, t) & this.mask
    for (;;) {
      const r = this.table[s]
      if (r === 0) return
      const i = r - 1
      if (this.types[i] === t && this.sameId(i, idb)) {
        if (fn(i)) return
      }
      s = (s + 1) & this.mask
    }
  }

  private packNumber(packId: string): number {
    let p = this.packNo.get(packId)
    if (p === undefined) {
      if (!isLowerHex64(packId)) throw new FormatError(`invalid pack id ${JSON.stringify(packId)}`)
      p = this.packIds.length
      this.packIds.push(packId)
      this.packNo.set(packId, p)
    }
    return p
  }

  has(type: BlobType, id: string): boolean {
    let found = false
    this.probe(type, id, () => (found = true))
    return found
  }

  private record(i: number, id: string): BlobLocation {
    const b: BlobLocation = {
      id,
      type: this.types[i] === 0 ? 'data' : 'tree',
      packId: this.packIds[this.pack[i]],
      offset: this.offset[i],
      length: this.length[i],
    }
    if (this.ulen[i] !== 0) b.uncompressedLength = this.ulen[i]
    return b
  }

  /** The first known location of a blob, or undefined. */
  lookup(type: BlobType, id: string): BlobLocation | undefined {
    let at = -1
    this.probe(type, id, (i) => {
      at = i
      return true
    })
    return at < 0 ? undefined : this.record(at, id)
  }

  /** All known locations of a blob (a blob may sit in several packs). */
  lookupAll(type: BlobType, id: string): BlobLocation[] {
    const out: BlobLocation[] = []
    this.probe(type, id, (i) => {
      out.push(this.record(i, id))
    })
    return out
  }

  /** Adds the blobs of a pack; a (blob, pack) pair already known is skipped. */
  add(packId: string, blobs: Iterable<PackedBlob>): void {
    const p = this.packNumber(packId)
    for (const b of blobs) this.addOne(p, b.type, b.id, b.offset, b.length, b.uncompressedLength ?? 0)
  }

  /** One (blob, pack) record, unless known: the ID is checked and decoded once, no closure or object per blob. */
  private addOne(p: number, type: BlobType, id: string, offset: number, length: number, ulen: number): void {
    const t = type === 'data' ? 0 : 1
    const idb = this.idBytes(id)
    for (let s = this.hashAt(idb, 0, t) & this.mask, r = this.table[s]; r !== 0; s = (s + 1) & this.mask, r = this.table[s]) {
      if (this.pack[r - 1] === p && this.types[r - 1] === t && this.sameId(r - 1, idb)) return
    }
    if (this.n + 1 > this.cap) this.grow(this.n + 1)
    const i = this.n++
    this.ids.set(idb, i * 32)
    this.pack[i] = p
    this.offset[i] = offset
    this.length[i] = length
    this.ulen[i] = ulen
    this.types[i] = t
    this.blobsPerType[t]++
    this.insertSlot(i)
  }

  /** Loads one parsed index file. */
  addIndexJSON(j: IndexJSON, fileId?: string): void {
    const where = fileId ? `index/${fileId}` : undefined
    if (!j || typeof j !== 'object' || !Array.isArray(j.packs)) throw new FormatError('index file lacks "packs"', {where})
    for (const p of j.packs) {
      if (!p || typeof p.id !== 'string' || !Array.isArray(p.blobs)) throw new FormatError('index file: malformed pack entry', {where})
      const pn = this.packNumber(p.id)
      for (const b of p.blobs) {
        if (typeof b?.id !== 'string' || (b.type !== 'data' && b.type !== 'tree') || !Number.isInteger(b.offset) || !Number.isInteger(b.length)) {
          throw new FormatError(`index file: malformed blob entry in pack ${p.id}`, {where})
        }
        const ulen = b.uncompressed_length
        this.addOne(pn, b.type, b.id, b.offset, b.length, typeof ulen === 'number' && ulen > 0 ? ulen : 0)
      }
    }
    if (Array.isArray(j.supersedes)) for (const s of j.supersedes) this.superseded.add(s)
    if (fileId) this.loadedFiles.add(fileId)
  }

  hasPack(packId: string): boolean {
    return this.packNo.has(packId)
  }

  /** Iterates the packs and their blobs (records grouped by pack, in insertion order within a pack). */
  *packs(filter?: Set<string>): IterableIterator<IndexPackEntry> {
    const groups: number[][] = this.packIds.map(() => [])
    for (let i = 0; i < this.n; i++) groups[this.pack[i]].push(i)
    for (let p = 0; p < this.packIds.length; p++) {
      const id = this.packIds[p]
      if (filter && !filter.has(id)) continue
      if (groups[p].length === 0) continue
      yield {id, blobs: groups[p].map((i) => this.record(i, Buffer.from(this.ids.buffer, this.ids.byteOffset + i * 32, 32).toString('hex')))}
    }
  }

  /** Iterates every (blob, pack) record. */
  /** IDs (hex) of the blobs of one type. */
  *blobIds(type: BlobType): IterableIterator<string> {
    const code = type === 'data' ? 0 : 1
    for (let i = 0; i < this.n; i++) {
      if (this.types[i] === code) yield Buffer.from(this.ids.buffer, this.ids.byteOffset + i * 32, 32).toString('hex')
    }
  }

  *blobs(): IterableIterator<BlobLocation> {
    for (let i = 0; i < this.n; i++) {
      yield this.record(i, Buffer.from(this.ids.buffer, this.ids.byteOffset + i * 32, 32).toString('hex'))
    }
  }
}

/** restic's index JSON for a list of packs. */
export function indexToJSON(packs: Iterable<IndexPackEntry>, supersedes?: string[]): IndexJSON {
  const j: IndexJSON = {packs: []}
  if (supersedes && supersedes.length > 0) j.supersedes = supersedes
  for (const p of packs) {
    j.packs.push({
      id: p.id,
      blobs: p.blobs.map((b) => {
        const e: IndexJSON['packs'][number]['blobs'][number] = {id: b.id, type: b.type, offset: b.offset, length: b.length}
        if (b.uncompressedLength !== undefined) e.uncompressed_length = b.uncompressedLength
        return e
      }),
    })
  }
  return j
}

/**
 * Splits packs into index files of at most `maxBlobs` blobs and about `maxBytes` of JSON each
 * (a single pack is never split across files).
 */
export function splitIndex(packs: Iterable<IndexPackEntry>, maxBlobs = INDEX_MAX_BLOBS, maxBytes = INDEX_MAX_BYTES): IndexJSON[] {
  const out: IndexJSON[] = []
  let cur: IndexPackEntry[] = []
  let blobs = 0
  let bytes = 0
  const flushCur = () => {
    if (cur.length > 0) out.push(indexToJSON(cur))
    cur = []
    blobs = 0
    bytes = 0
  }
  for (const p of packs) {
    // ~140 bytes of JSON per blob entry, ~80 per pack entry
    const pb = 80 + p.blobs.length * 140
    if (cur.length > 0 && (blobs + p.blobs.length > maxBlobs || bytes + pb > maxBytes)) flushCur()
    cur.push(p)
    blobs += p.blobs.length
    bytes += pb
  }
  flushCur()
  return out
}
