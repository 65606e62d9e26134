/**
 * The native hot path (native/lifeboat.c, built by `npm run build`): restic's chunker, SHA-256 blob IDs, and
 * sealing / opening blobs (zstd + AES-256-CTR + Poly1305-AES) into caller-owned buffers, so the backup, restore
 * and check workers allocate nothing per blob. crypto.ts and chunker.ts stay the reference implementations; the
 * tests hold the two to the same bytes and cut points.
 */
import {pbkdf2Sync} from 'node:crypto'
import {createRequire} from 'node:module'
import util from 'node:util'

import {type ChunkerOptions, type ChunkerTables, CHUNKER_AVERAGE_BITS, CHUNKER_MAX_SIZE, CHUNKER_MIN_SIZE} from './chunker.js'
import type {MasterKey} from './crypto.js'
import {BlobCorruptError, MacMismatchError} from './errors.js'

type Handle = object
interface Addon {
  chunkerNew(table: Int32Array, degree: number, minSize: number, maxSize: number, averageBits: number): Handle
  chunkerPush(h: Handle, data: Uint8Array, cuts: Uint32Array): number
  chunkerEnd(h: Handle): number
  sha256Into(data: Uint8Array, out: Uint8Array, offset: number): void
  sealerNew(encrypt: Uint8Array, macK: Uint8Array, macR: Uint8Array, level: number): Handle
  seal(h: Handle, plaintext: Uint8Array, out: Uint8Array, offset: number, compress: boolean): number
  sealBound(n: number): number
  open(h: Handle, sealed: Uint8Array, out: Uint8Array, offset: number, uncompressedLength: number, id: Uint8Array | null): number
  readFiles(paths: Uint8Array, count: number, out: Uint8Array, slots: Float64Array, results: Float64Array): Promise<void>
  lstatMany(paths: Uint8Array, count: number, out: Float64Array, async: boolean): Promise<void> | undefined
  xattrListSize(path: Uint8Array): number
  romix(b: Uint8Array, N: number, r: number, p: number, first: number, step: number, status: Int32Array): Promise<void>
}

function load(): Addon {
  const require = createRequire(import.meta.url)
  try {
    // src/backup/native.ts and dist/backup/native.js sit at the same depth below the package root.
    return require('../../native/build/Release/lifeboat.node') as Addon
  } catch (error) {
    throw new Error(`Lifeboat's native module is not built (run \`npm run build\`): ${(error as Error).message}`)
  }
}

export const addon: Addon = load()

/** Streaming cut-point finder with the same contract as chunker.ts ChunkSplitter (push/end), in C. */
export class NativeChunker {
  private readonly h: Handle
  private readonly cuts = new Uint32Array(64)

  constructor(tables: ChunkerTables, opts: ChunkerOptions = {}) {
    this.h = addon.chunkerNew(
      tables.table,
      tables.degree,
      opts.minSize ?? CHUNKER_MIN_SIZE,
      opts.maxSize ?? CHUNKER_MAX_SIZE,
      opts.averageBits ?? CHUNKER_AVERAGE_BITS,
    )
  }

  /** Offsets in `data` where chunks end (exclusive ends). */
  push(data: Uint8Array): number[] {
    const out: number[] = []
    let base = 0
    for (;;) {
      const view = base === 0 ? data : data.subarray(base)
      const n = addon.chunkerPush(this.h, view, this.cuts)
      for (let i = 0; i < n; i++) out.push(base + this.cuts[i])
      if (n < this.cuts.length) return out
      base += this.cuts[n - 1]
    }
  }

  /** Ends the file: the length of its unfinished last chunk (0 if none); resets for the next file. */
  end(): number {
    return addon.chunkerEnd(this.h)
  }
}

/** SHA-256 of data into out[offset..offset+32]. */
export function sha256Into(data: Uint8Array, out: Uint8Array, offset = 0): void {
  addon.sha256Into(data, out, offset)
}

/** Numbers readFiles writes per file: bytes read, errno (0: ok), size, mtime s, mtime ns, failed call (1 open, 2 read, 3 fstat). */
export const READ_FIELDS = 6

/**
 * Reads `count` small files whole on one thread of the libuv pool (open with O_NOATIME, read, fstat, close each):
 * one round trip for all of them instead of four per file. `paths`: NUL-terminated paths one after another;
 * `slots`: [offset in out, capacity] per file; `results`: READ_FIELDS numbers per file, filled when it resolves.
 * The buffers must not be touched until then.
 */
export function readFiles(paths: Uint8Array, count: number, out: Uint8Array, slots: Float64Array, results: Float64Array): Promise<void> {
  return addon.readFiles(paths, count, out, slots, results)
}

const LSTAT_FIELDS = 16
const S_IFMT = 0o170000
const NS = 1_000_000_000n

/**
 * One lstat result of lstatMany, with the members of fs.BigIntStats that the archiver and node.ts read. The numbers
 * sit in one Float64Array per batch; a bigint is made only when a member is read.
 */
export class RawStat {
  constructor(
    private readonly v: Float64Array,
    private readonly o: number,
  ) {}

  private fmt(): number {
    return this.v[this.o + 3] & S_IFMT
  }

  isFile(): boolean {
    return this.fmt() === 0o100000
  }

  isDirectory(): boolean {
    return this.fmt() === 0o040000
  }

  isSymbolicLink(): boolean {
    return this.fmt() === 0o120000
  }

  isBlockDevice(): boolean {
    return this.fmt() === 0o060000
  }

  isCharacterDevice(): boolean {
    return this.fmt() === 0o020000
  }

  isFIFO(): boolean {
    return this.fmt() === 0o010000
  }

  isSocket(): boolean {
    return this.fmt() === 0o140000
  }

  get dev(): bigint {
    return BigInt(this.v[this.o + 1])
  }

  get ino(): bigint {
    return BigInt(this.v[this.o + 2])
  }

  get mode(): bigint {
    return BigInt(this.v[this.o + 3])
  }

  get nlink(): bigint {
    return BigInt(this.v[this.o + 4])
  }

  get uid(): bigint {
    return BigInt(this.v[this.o + 5])
  }

  get gid(): bigint {
    return BigInt(this.v[this.o + 6])
  }

  get rdev(): bigint {
    return BigInt(this.v[this.o + 7])
  }

  get size(): bigint {
    return BigInt(this.v[this.o + 8])
  }

  get blocks(): bigint {
    return BigInt(this.v[this.o + 9])
  }

  get atimeNs(): bigint {
    return BigInt(this.v[this.o + 10]) * NS + BigInt(this.v[this.o + 11])
  }

  get mtimeNs(): bigint {
    return BigInt(this.v[this.o + 12]) * NS + BigInt(this.v[this.o + 13])
  }

  get ctimeNs(): bigint {
    return BigInt(this.v[this.o + 14]) * NS + BigInt(this.v[this.o + 15])
  }
}

/** The members of an lstat result that the archiver and node.ts read: fs.BigIntStats and RawStat both have them. */
export type StatLike = Pick<
  RawStat,
  | 'isFile'
  | 'isDirectory'
  | 'isSymbolicLink'
  | 'isBlockDevice'
  | 'isCharacterDevice'
  | 'isFIFO'
  | 'isSocket'
  | 'dev'
  | 'ino'
  | 'mode'
  | 'nlink'
  | 'uid'
  | 'gid'
  | 'rdev'
  | 'size'
  | 'blocks'
  | 'atimeNs'
  | 'mtimeNs'
  | 'ctimeNs'
>

/**
 * lstat of many paths in one native call, on this thread or (async) as one thread-pool job; each entry is a
 * RawStat or an Error like fs.lstat's (code, errno, syscall, message with the path).
 */
export function lstatMany(paths: Buffer[]): Array<RawStat | NodeJS.ErrnoException> {
  const joined = Buffer.concat(paths.flatMap((p) => [p, NUL_BYTE]))
  const v = new Float64Array(paths.length * LSTAT_FIELDS)
  addon.lstatMany(joined, paths.length, v, false)
  return statResults(paths, v)
}

export async function lstatManyAsync(paths: Buffer[]): Promise<Array<RawStat | NodeJS.ErrnoException>> {
  const joined = Buffer.concat(paths.flatMap((p) => [p, NUL_BYTE]))
  const v = new Float64Array(paths.length * LSTAT_FIELDS)
  await addon.lstatMany(joined, paths.length, v, true)
  return statResults(paths, v)
}

function statResults(paths: Buffer[], v: Float64Array): Array<RawStat | NodeJS.ErrnoException> {
  return paths.map((p, i) => {
    const errno = v[i * LSTAT_FIELDS]
    return errno === 0 ? new RawStat(v, i * LSTAT_FIELDS) : systemError(errno, 'lstat', p)
  })
}

const errnoNames = util.getSystemErrorMap()

/** An Error like the ones node:fs throws (code, errno, syscall, path in the message) for a native call's errno. */
export function systemError(errno: number, syscall: string, path: Uint8Array): NodeJS.ErrnoException {
  const [code, text] = errnoNames.get(-errno) ?? ['EIO', 'i/o error']
  const e: NodeJS.ErrnoException = new Error(`${code}: ${text}, ${syscall} '${Buffer.from(path).toString()}'`)
  e.code = code
  e.errno = -errno
  e.syscall = syscall
  return e
}

const NUL_BYTE = Buffer.alloc(1)

/** Bytes of a path's extended-attribute name list (not following symlinks): 0 none, -1 cannot tell. */
export function xattrListSize(path: string | Buffer): number {
  return addon.xattrListSize(typeof path === 'string' ? Buffer.from(path) : path)
}

/** Bytes Sealer.seal may write for a plaintext of n bytes. */
export function sealBound(n: number): number {
  return addon.sealBound(n)
}

/** One repository key's sealing and opening contexts (AES, Poly1305, zstd), reused for every blob. */
export class Sealer {
  private readonly h: Handle

  /** level: the zstd level of compressed blobs; 0 stores them uncompressed. */
  constructor(key: MasterKey, level: number) {
    this.h = addon.sealerNew(key.encrypt, key.macK, key.macR, level)
  }

  /**
   * Seals plaintext at out[offset] (which needs sealBound(plaintext.length) bytes). With `compress`, zstd is
   * used when it makes the blob smaller. Returns the sealed length and whether the blob is compressed.
   */
  seal(plaintext: Uint8Array, out: Uint8Array, offset: number, compress: boolean): {length: number; compressed: boolean} {
    const r = addon.seal(this.h, plaintext, out, offset, compress)
    return r < 0 ? {length: -r, compressed: true} : {length: r, compressed: false}
  }

  /**
   * Opens a sealed blob into out[offset]: MAC, decryption, decompression (uncompressedLength, or undefined for
   * an uncompressed blob) and, when `id` is given, the SHA-256 check. Returns the plaintext length. `out` needs
   * (uncompressedLength + sealed length) bytes from offset for a compressed blob, the sealed length otherwise.
   */
  open(sealed: Uint8Array, out: Uint8Array, offset: number, uncompressedLength: number | undefined, id?: Uint8Array, idHex?: string): number {
    try {
      return addon.open(this.h, sealed, out, offset, uncompressedLength ?? -1, id ?? null)
    } catch (error) {
      const code = (error as {code?: string}).code
      const what = idHex ? `blob ${idHex}: ` : ''
      if (code === 'EMAC') throw new MacMismatchError()
      if (code === 'EZSTD') throw new BlobCorruptError(`${what}zstd decompression failed: ${(error as Error).message}`)
      if (code === 'EHASH') throw new BlobCorruptError(`${what}hash mismatch (data damaged)`)
      throw error
    }
  }
}

/**
 * Opens blobs one after another into one reused buffer (restore, check and prune workers): nothing is
 * allocated per blob. The returned plaintext is valid until the next call.
 */
export class BlobOpener {
  private readonly sealer: Sealer
  private buf: Buffer = Buffer.allocUnsafeSlow(2 * 1024 * 1024)
  private readonly idBytes = Buffer.alloc(32)

  constructor(key: MasterKey) {
    this.sealer = new Sealer(key, 0)
  }

  /**
   * MAC, decryption, decompression (ulen: the index's uncompressed length; undefined or 0 for a blob stored
   * uncompressed) and the SHA-256 check against id.
   */
  open(sealed: Uint8Array, id: string, ulen: number | undefined): Buffer {
    if (ulen === 0) ulen = undefined
    const need = (ulen ?? 0) + sealed.length
    if (this.buf.length < need) this.buf = Buffer.allocUnsafeSlow(Math.max(need, this.buf.length * 2))
    this.idBytes.write(id, 'hex')
    const n = this.sealer.open(sealed, this.buf, 0, ulen, this.idBytes, id)
    return this.buf.subarray(0, n)
  }
}

/**
 * scrypt (RFC 7914) with its p lanes of ROMix run on up to `threads` pool threads at once (Node's scrypt runs
 * them one after the other). PBKDF2-HMAC-SHA256 before and after is Node's. Each thread holds 128·r·N bytes
 * while it runs.
 */
export async function scryptParallel(
  password: string | Buffer,
  salt: Buffer,
  params: {N: number; r: number; p: number},
  keyLength: number,
  threads: number,
): Promise<Buffer> {
  const {N, r, p} = params
  const b = pbkdf2Sync(password, salt, 1, 128 * r * p, 'sha256')
  const step = Math.max(1, Math.min(p, threads))
  const status = new Int32Array(step)
  await Promise.all(Array.from({length: step}, (_, i) => addon.romix(b, N, r, p, i, step, status.subarray(i, i + 1))))
  const errno = status.find((e) => e !== 0)
  if (errno) throw Object.assign(new Error(`scrypt: cannot allocate ${128 * r * N} bytes (errno ${errno})`), {errno})
  return pbkdf2Sync(password, b, 1, keyLength, 'sha256')
}
