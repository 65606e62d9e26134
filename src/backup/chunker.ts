/**
 * Content-defined chunking compatible with restic (Rabin fingerprint over a 64-byte window, modulo the
 * repository's irreducible polynomial). Same polynomial + same bytes → same cut points → same blob IDs.
 *
 * Per chunk: the digest starts as if the window were zero and one byte 0x01 had been slid in; the first
 * MinSize−64 bytes are taken without hashing; from then on every byte is slid in and the chunk ends after
 * a byte leaving digest & (2^averageBits − 1) == 0 (once the chunk holds ≥ MinSize bytes), at MaxSize, or
 * at the end of the file.
 *
 * The digest has `degree` bits (53 for restic's polynomials). The hot loop keeps it in two int32 halves
 * (hi = bits 32.., lo = bits 0..31) so no BigInt and no allocation happens per byte.
 *
 * Sliding a byte b in while byte o leaves the window is linear over GF(2), so instead of restic's
 * "xor out[o], then shift and reduce" we compute shift(d) ^ mod[top8(d)] ^ out8[o] ^ b with
 * out8[o] = o·x^(8·64) mod P: same digest, but the byte leaving the window is off the digest's
 * dependency chain (the loop is bound by the latency of that chain).
 */
import {open, type FileHandle} from 'node:fs/promises'
import {degree as polyDegree, polyMod} from './polynomial.js'

export const CHUNKER_WINDOW_SIZE = 64
export const CHUNKER_MIN_SIZE = 512 * 1024
export const CHUNKER_MAX_SIZE = 8 * 1024 * 1024
export const CHUNKER_AVERAGE_BITS = 20
/** Default read size of chunkFile. */
export const CHUNKER_READ_SIZE = 8 * 1024 * 1024

/** Precomputed lookup tables of one polynomial (see chunkerTables). */
export interface ChunkerTables {
  readonly polynomial: bigint
  readonly degree: number
  /**
   * 4 int32 per byte value b, interleaved for locality: [4b] / [4b+1] = hi / lo half of
   * (b·x^degree) mod P (reduces the 8 bits shifted above the degree); [4b+2] / [4b+3] = hi / lo half of
   * b·x^(8·64) mod P (removes byte b leaving the 64-byte window after the shift).
   */
  readonly table: Int32Array
}

export interface ChunkerOptions {
  minSize?: number
  maxSize?: number
  /** Average chunk size is about 2^averageBits bytes past minSize. */
  averageBits?: number
}

const tableCache = new Map<bigint, ChunkerTables>()

function appendByte(h: bigint, b: number, pol: bigint): bigint {
  return polyMod((h << 8n) | BigInt(b), pol)
}

/** Builds (once per polynomial, then cached) the chunker tables for `pol`. */
export function chunkerTables(pol: bigint): ChunkerTables {
  const cached = tableCache.get(pol)
  if (cached) return cached
  const deg = polyDegree(pol)
  if (deg < 40 || deg > 63) {
    throw new RangeError(`chunker polynomial must have a degree between 40 and 63 (got ${deg})`)
  }
  const table = new Int32Array(1024)
  for (let b = 0; b < 256; b++) {
    const m = polyMod(BigInt(b) << BigInt(deg), pol)
    table[4 * b] = Number(m >> 32n)
    table[4 * b + 1] = Number(BigInt.asIntN(32, m))
    let h = appendByte(0n, b, pol)
    for (let i = 0; i < CHUNKER_WINDOW_SIZE; i++) h = appendByte(h, 0, pol)
    table[4 * b + 2] = Number(h >> 32n)
    table[4 * b + 3] = Number(BigInt.asIntN(32, h))
  }
  const t: ChunkerTables = {polynomial: pol, degree: deg, table}
  tableCache.set(pol, t)
  return t
}

/**
 * Streaming cut-point finder. Feed a file's bytes in order with push(); each call returns the offsets
 * (relative to that buffer, exclusive ends) where chunks end inside it. end() closes the file: it
 * returns the length of the last, unfinished chunk (0 if none) and resets for the next file.
 */
export class ChunkSplitter {
  /** Digest at the last cut (or at end()), as restic reports it (`Cut`). */
  lastFingerprint = 0n

  private readonly table: Int32Array
  private readonly hiMask: number
  private readonly idxShift: number
  private readonly minSize: number
  private readonly maxSize: number
  private readonly splitMask: number
  /** restic's window ring buffer; only maintained at buffer boundaries and in the first 64 hashed bytes. */
  private readonly ring = new Uint8Array(CHUNKER_WINDOW_SIZE)
  private hi = 0
  private lo = 1
  /** Bytes in the current chunk. */
  private count = 0
  /** Bytes still to be taken without hashing at the start of the current chunk. */
  private skip: number

  constructor(tables: ChunkerTables, opts: ChunkerOptions = {}) {
    this.table = tables.table
    const hiBits = tables.degree - 32
    this.hiMask = (1 << hiBits) - 1
    this.idxShift = tables.degree - 8 - 32
    this.minSize = opts.minSize ?? CHUNKER_MIN_SIZE
    this.maxSize = opts.maxSize ?? CHUNKER_MAX_SIZE
    const bits = opts.averageBits ?? CHUNKER_AVERAGE_BITS
    if (!Number.isInteger(bits) || bits < 1 || bits > 32) throw new RangeError('averageBits must be 1..32')
    if (this.minSize < CHUNKER_WINDOW_SIZE || this.maxSize < this.minSize) {
      throw new RangeError('chunker sizes must satisfy 64 <= minSize <= maxSize')
    }
    this.splitMask = bits === 32 ? -1 : (1 << bits) - 1
    this.skip = this.minSize - CHUNKER_WINDOW_SIZE
    this.resetChunk()
  }

  /** Bytes of the current, not yet cut, chunk. */
  get pending(): number {
    return this.count
  }

  /** Forgets the current file; the next push() starts a new file. */
  reset(): void {
    this.resetChunk()
  }

  /**
   * Feeds the next bytes of the file. Returns the cut offsets inside `data` (each the exclusive end of a
   * chunk). When `fingerprints` is given, the digest at each cut is appended to it.
   */
  push(data: Uint8Array, fingerprints?: bigint[]): number[] {
    // A plain Uint8Array view keeps the hot loop monomorphic whether callers pass Buffers or not.
    const buf = new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
    const n = buf.length
    const cuts: number[] = []
    const skipLen = this.minSize - CHUNKER_WINDOW_SIZE
    const {table, hiMask, idxShift, splitMask, ring, minSize, maxSize} = this
    let i = 0
    while (i < n) {
      if (this.skip > 0) {
        const take = Math.min(this.skip, n - i)
        this.skip -= take
        this.count += take
        i += take
        if (this.skip > 0) break
      }
      // Hashing. Bytes before segStart in this buffer are not part of the hashed run of this chunk.
      const segStart = this.count === skipLen ? i : 0
      let hi = this.hi
      let lo = this.lo
      let count = this.count
      let cut = false
      // Slow path: the window's oldest byte is not in this buffer (or is the initial 0x01 / zeros).
      while (i < n && i - CHUNKER_WINDOW_SIZE < segStart) {
        const b = buf[i]
        const pos = (count - skipLen + 1) & (CHUNKER_WINDOW_SIZE - 1)
        const o = ring[pos] << 2
        ring[pos] = b
        const idx = (hi >>> idxShift) << 2
        hi = ((((hi << 8) | (lo >>> 24)) & hiMask) ^ table[o + 2]) ^ table[idx]
        lo = (((lo << 8) | b) ^ table[o + 3]) ^ table[idx + 1]
        count++
        i++
        if (count >= minSize && ((lo & splitMask) === 0 || count >= maxSize)) {
          cut = true
          break
        }
      }
      if (!cut && i < n) {
        // Fast path: the byte leaving the window is buf[i - 64]. Unrolled by two.
        const limit = Math.min(n, i + (maxSize - count))
        const start = i
        while (i + 1 < limit) {
          let o = buf[i - CHUNKER_WINDOW_SIZE] << 2
          let idx = (hi >>> idxShift) << 2
          hi = ((((hi << 8) | (lo >>> 24)) & hiMask) ^ table[o + 2]) ^ table[idx]
          lo = (((lo << 8) | buf[i]) ^ table[o + 3]) ^ table[idx + 1]
          if ((lo & splitMask) === 0) {
            i += 1
            cut = true
            break
          }
          o = buf[i - CHUNKER_WINDOW_SIZE + 1] << 2
          idx = (hi >>> idxShift) << 2
          hi = ((((hi << 8) | (lo >>> 24)) & hiMask) ^ table[o + 2]) ^ table[idx]
          lo = (((lo << 8) | buf[i + 1]) ^ table[o + 3]) ^ table[idx + 1]
          i += 2
          if ((lo & splitMask) === 0) {
            cut = true
            break
          }
        }
        if (!cut && i < limit) {
          const o = buf[i - CHUNKER_WINDOW_SIZE] << 2
          const idx = (hi >>> idxShift) << 2
          hi = ((((hi << 8) | (lo >>> 24)) & hiMask) ^ table[o + 2]) ^ table[idx]
          lo = (((lo << 8) | buf[i]) ^ table[o + 3]) ^ table[idx + 1]
          i++
          if ((lo & splitMask) === 0) cut = true
        }
        count += i - start
        if (!cut && count >= maxSize) cut = true
        if (!cut) {
          // Buffer exhausted mid-chunk: store the last 64 hashed bytes in the ring for the next push.
          for (let j = Math.max(segStart, n - CHUNKER_WINDOW_SIZE); j < n; j++) {
            ring[(count - (n - j) - skipLen + 1) & (CHUNKER_WINDOW_SIZE - 1)] = buf[j]
          }
        }
      }
      this.hi = hi
      this.lo = lo
      this.count = count
      if (cut) {
        this.lastFingerprint = fingerprint(hi, lo)
        fingerprints?.push(this.lastFingerprint)
        cuts.push(i)
        this.resetChunk()
      }
    }
    return cuts
  }

  /** Ends the file: returns the length of the last chunk (0 if the file ended on a cut) and resets. */
  end(): number {
    const last = this.count
    if (last > 0) this.lastFingerprint = fingerprint(this.hi, this.lo)
    this.resetChunk()
    return last
  }

  private resetChunk(): void {
    this.ring.fill(0)
    // Slide in one byte 0x01: zero window, digest 0 → digest 1, window position 1.
    this.ring[0] = 1
    this.hi = 0
    this.lo = 1
    this.count = 0
    this.skip = this.minSize - CHUNKER_WINDOW_SIZE
  }
}

function fingerprint(hi: number, lo: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0)
}

function joinPieces(pieces: Uint8Array[], length: number): Buffer {
  const out = Buffer.allocUnsafeSlow(length)
  let off = 0
  for (const p of pieces) {
    out.set(p, off)
    off += p.length
  }
  return out
}

/**
 * Cuts a stream of buffers (one file) into chunks. Each yielded Buffer is a fresh copy owning exactly
 * the chunk's bytes. Input buffers must not be modified after they are yielded by the source.
 * Memory: the pending chunk (≤ maxSize) plus the source's buffers it still references.
 */
export async function* chunkStream(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  tables: ChunkerTables,
  opts: ChunkerOptions = {},
): AsyncGenerator<Buffer, void, undefined> {
  const splitter = new ChunkSplitter(tables, opts)
  let pieces: Uint8Array[] = []
  let pendingLen = 0
  for await (const data of source) {
    if (data.length === 0) continue
    let start = 0
    for (const c of splitter.push(data)) {
      pieces.push(data.subarray(start, c))
      yield joinPieces(pieces, pendingLen + c - start)
      pieces = []
      pendingLen = 0
      start = c
    }
    if (start < data.length) {
      pieces.push(data.subarray(start))
      pendingLen += data.length - start
    }
  }
  if (splitter.end() > 0) yield joinPieces(pieces, pendingLen)
}

export interface ChunkFileOptions extends ChunkerOptions {
  /** Bytes per read(); default 8 MiB. */
  readSize?: number
}

async function* readFileBuffers(fh: FileHandle, readSize: number): AsyncGenerator<Uint8Array> {
  for (;;) {
    // A fresh buffer per read: pieces of the pending chunk keep referring to it.
    const buf = Buffer.allocUnsafeSlow(readSize)
    let filled = 0
    while (filled < readSize) {
      const {bytesRead} = await fh.read(buf, filled, readSize - filled, null)
      if (bytesRead === 0) break
      filled += bytesRead
    }
    if (filled > 0) yield buf.subarray(0, filled)
    if (filled < readSize) return
  }
}

/**
 * Chunks a file (path, or an open FileHandle read from its current position; a handle passed in is not
 * closed). An empty file yields nothing.
 */
export async function* chunkFile(
  file: string | FileHandle,
  tables: ChunkerTables,
  opts: ChunkFileOptions = {},
): AsyncGenerator<Buffer, void, undefined> {
  const readSize = opts.readSize ?? CHUNKER_READ_SIZE
  const fh = typeof file === 'string' ? await open(file, 'r') : file
  try {
    yield* chunkStream(readFileBuffers(fh, readSize), tables, opts)
  } finally {
    if (typeof file === 'string') await fh.close()
  }
}
