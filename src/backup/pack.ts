/**
 * Pack files: EncBlob1 ‖ … ‖ EncBlobN ‖ EncHeader ‖ HeaderLen(4, LE).
 *
 * Header entries, in blob order: type 0/1 (data/tree, uncompressed): type ‖ len(4) ‖ id(32) = 37 bytes;
 * type 2/3 (data/tree, zstd): type ‖ len(4) ‖ uncompressed len(4) ‖ id(32) = 41 bytes. Offsets are implied.
 */
import {createHash, type Hash} from 'node:crypto'

import {CRYPTO_OVERHEAD, open, seal, type MasterKey} from './crypto.js'
import {FormatError} from './errors.js'
import {BlobOpener, Sealer, sealBound} from './native.js'
import type {Backend, BlobType, PackedBlob} from './types.js'
import {DEFAULT_COMPRESSION_LEVEL} from './unpacked.js'

export const DEFAULT_PACK_SIZE = 16 * 1024 * 1024
export const MIN_PACK_SIZE = 4 * 1024 * 1024
export const MAX_PACK_SIZE = 128 * 1024 * 1024

const ENTRY_PLAIN = 1 + 4 + 32
const ENTRY_COMPRESSED = 1 + 4 + 4 + 32
/** Header length field. */
export const HEADER_LENGTH_SIZE = 4
/** Upper bound of a sane header (restic caps a pack's header too). */
const MAX_HEADER_SIZE = 16 * 1024 * 1024 + CRYPTO_OVERHEAD

export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex')
}

export interface EncodedBlob {
  id: string
  type?: BlobType
  /** nonce ‖ ciphertext ‖ MAC of the (maybe compressed) plaintext. */
  encrypted: Buffer
  /** Plaintext length when the blob is stored compressed; undefined for an uncompressed blob. */
  uncompressedLength?: number
}

/**
 * Compresses (when asked and when it helps) and encrypts one plaintext blob, through the native Sealer (one set
 * of AES / Poly1305 / zstd contexts per key and level). The ID is the SHA-256 of the uncompressed plaintext.
 * Pure CPU: safe to run in worker threads.
 */
export function encodeBlob(key: MasterKey, plaintext: Uint8Array, compressIt = true, level = DEFAULT_COMPRESSION_LEVEL, id?: string): EncodedBlob {
  const blobId = id ?? sha256Hex(plaintext)
  const out = Buffer.allocUnsafe(sealBound(plaintext.length))
  // zstd level 0 means its default level; the Sealer's 0 means no compression.
  const r = sealerFor(key, compressIt ? level || DEFAULT_COMPRESSION_LEVEL : 0).seal(plaintext, out, 0, compressIt && plaintext.length > 0)
  const encrypted = out.subarray(0, r.length)
  return r.compressed ? {id: blobId, encrypted, uncompressedLength: plaintext.length} : {id: blobId, encrypted}
}

const sealers = new WeakMap<MasterKey, Map<number, Sealer>>()

function sealerFor(key: MasterKey, level: number): Sealer {
  let byLevel = sealers.get(key)
  if (!byLevel) sealers.set(key, (byLevel = new Map()))
  let s = byLevel.get(level)
  if (!s) byLevel.set(level, (s = new Sealer(key, level)))
  return s
}

/**
 * Decrypts, decompresses and checks the SHA-256 of a blob against its ID, in one native call (one BlobOpener per
 * key, as the workers use); returns a copy the caller owns.
 */
export function decodeBlob(key: MasterKey, encrypted: Uint8Array, id: string, uncompressedLength?: number): Buffer {
  let opener = openers.get(key)
  if (!opener) openers.set(key, (opener = new BlobOpener(key)))
  return Buffer.from(opener.open(encrypted, id, uncompressedLength))
}

const openers = new WeakMap<MasterKey, BlobOpener>()

function typeCode(type: BlobType, compressed: boolean): number {
  return (type === 'data' ? 0 : 1) + (compressed ? 2 : 0)
}

/** The finished bytes of a pack, as a list of buffers (concatenate or write them in order). */
export interface FinishedPack {
  id: string
  parts: Buffer[]
  size: number
  blobs: PackedBlob[]
}

/**
 * Collects encrypted blobs into one pack. Hashes as it goes, so finishing costs only the header.
 */
export class PackWriter {
  private readonly parts: Buffer[] = []
  private readonly entries: PackedBlob[] = []
  private readonly byKey = new Map<string, number>()
  private hash: Hash = createHash('sha256')
  private bytes = 0
  private finished = false

  constructor(private readonly key: MasterKey) {}

  /** Bytes of blobs so far (the header comes on top). */
  get size(): number {
    return this.bytes
  }

  get count(): number {
    return this.entries.length
  }

  get blobs(): readonly PackedBlob[] {
    return this.entries
  }

  has(type: BlobType, id: string): boolean {
    return this.byKey.has(type + id)
  }

  /** The encrypted bytes of a blob held in this (unfinished) pack. */
  getEncrypted(type: BlobType, id: string): {blob: PackedBlob; encrypted: Buffer} | undefined {
    const i = this.byKey.get(type + id)
    if (i === undefined) return undefined
    return {blob: this.entries[i], encrypted: this.parts[i]}
  }

  /** Appends an encrypted blob; returns where it sits in the pack. */
  add(type: BlobType, id: string, encrypted: Buffer, uncompressedLength?: number): PackedBlob {
    if (this.finished) throw new Error('PackWriter: pack already finished')
    if (!/^[0-9a-f]{64}$/.test(id)) throw new FormatError(`invalid blob id ${JSON.stringify(id)}`)
    if (encrypted.length < CRYPTO_OVERHEAD) throw new FormatError(`blob ${id}: encrypted form shorter than the crypto overhead`)
    if (encrypted.length > 0xffffffff) throw new FormatError(`blob ${id}: too large for a pack entry`)
    const blob: PackedBlob = {id, type, offset: this.bytes, length: encrypted.length}
    if (uncompressedLength !== undefined) blob.uncompressedLength = uncompressedLength
    this.byKey.set(type + id, this.entries.length)
    this.entries.push(blob)
    this.parts.push(encrypted)
    this.hash.update(encrypted)
    this.bytes += encrypted.length
    return blob
  }

  /** Encrypts the header, appends it and the length field, and returns the whole pack. */
  finish(): FinishedPack {
    if (this.finished) throw new Error('PackWriter: pack already finished')
    this.finished = true
    const header = encodePackHeader(this.entries)
    const encHeader = seal(this.key, header)
    const len = Buffer.allocUnsafe(HEADER_LENGTH_SIZE)
    len.writeUInt32LE(encHeader.length, 0)
    this.hash.update(encHeader)
    this.hash.update(len)
    const parts = [...this.parts, encHeader, len]
    return {id: this.hash.digest('hex'), parts, size: this.bytes + encHeader.length + len.length, blobs: this.entries.slice()}
  }
}

/** Plaintext pack header for blobs in order. */
export function encodePackHeader(blobs: readonly PackedBlob[]): Buffer {
  let size = 0
  for (const b of blobs) size += b.uncompressedLength === undefined ? ENTRY_PLAIN : ENTRY_COMPRESSED
  const h = Buffer.allocUnsafe(size)
  let p = 0
  for (const b of blobs) {
    const compressed = b.uncompressedLength !== undefined
    h[p++] = typeCode(b.type, compressed)
    h.writeUInt32LE(b.length, p)
    p += 4
    if (compressed) {
      h.writeUInt32LE(b.uncompressedLength!, p)
      p += 4
    }
    p += h.write(b.id, p, 32, 'hex')
  }
  return h
}

/** Parses a decrypted pack header into blobs with offsets. */
export function parsePackHeader(header: Buffer, where?: string): PackedBlob[] {
  const out: PackedBlob[] = []
  let p = 0
  let offset = 0
  while (p < header.length) {
    const t = header[p]
    if (t > 3) throw new FormatError(`pack header: unknown blob type ${t} at byte ${p}`, {where})
    const compressed = t >= 2
    const need = compressed ? ENTRY_COMPRESSED : ENTRY_PLAIN
    if (p + need > header.length) throw new FormatError(`pack header: truncated entry at byte ${p}`, {where})
    const length = header.readUInt32LE(p + 1)
    const blob: PackedBlob = {id: '', type: (t & 1) === 0 ? 'data' : 'tree', offset, length}
    if (compressed) {
      blob.uncompressedLength = header.readUInt32LE(p + 5)
      blob.id = header.toString('hex', p + 9, p + 41)
    } else {
      blob.id = header.toString('hex', p + 5, p + 37)
    }
    out.push(blob)
    offset += length
    p += need
  }
  return out
}

export type RangeReader = (offset: number, length: number) => Promise<Buffer>

/** How many bytes of the tail to read at once: enough for a header of ~100 entries in one read. */
const EAGER_TAIL = 4096

/**
 * Reads and checks a pack's header: the last 4 bytes give the encrypted header's length; it is decrypted
 * and parsed, and the blob lengths plus header must add up to the pack size exactly.
 * `src` is the whole pack, a backend plus pack ID, or a range reader.
 */
export async function readPackHeader(
  src: Buffer | {backend: Backend; id: string} | RangeReader,
  size: number,
  key: MasterKey,
): Promise<PackedBlob[]> {
  const where = Buffer.isBuffer(src) ? undefined : typeof src === 'function' ? undefined : `data/${src.id.slice(0, 2)}/${src.id}`
  const read: RangeReader = Buffer.isBuffer(src)
    ? async (o, l) => src.subarray(o, o + l)
    : typeof src === 'function'
      ? src
      : (o, l) => src.backend.load({type: 'pack', name: src.id}, o, l)
  if (size < HEADER_LENGTH_SIZE + CRYPTO_OVERHEAD) throw new FormatError(`pack is too small (${size} bytes)`, {where})
  const tailLen = Math.min(size, EAGER_TAIL)
  let tail = await read(size - tailLen, tailLen)
  if (tail.length !== tailLen) throw new FormatError(`short read of pack tail: got ${tail.length} of ${tailLen} bytes`, {where})
  const hlen = tail.readUInt32LE(tail.length - HEADER_LENGTH_SIZE)
  if (hlen < CRYPTO_OVERHEAD || hlen > MAX_HEADER_SIZE || hlen + HEADER_LENGTH_SIZE > size) {
    throw new FormatError(`pack header length ${hlen} is invalid for a pack of ${size} bytes`, {where})
  }
  let encHeader: Buffer
  if (hlen + HEADER_LENGTH_SIZE <= tailLen) {
    encHeader = tail.subarray(tailLen - HEADER_LENGTH_SIZE - hlen, tailLen - HEADER_LENGTH_SIZE)
  } else {
    tail = await read(size - HEADER_LENGTH_SIZE - hlen, hlen)
    if (tail.length !== hlen) throw new FormatError('short read of pack header', {where})
    encHeader = tail
  }
  const header = open(key, encHeader)
  const blobs = parsePackHeader(header, where)
  let total = 0
  for (const b of blobs) total += b.length
  if (total + hlen + HEADER_LENGTH_SIZE !== size) {
    throw new FormatError(`pack size mismatch: blobs ${total} + header ${hlen} + 4 ≠ file size ${size}`, {where})
  }
  return blobs
}
