/**
 * Check worker: verifies whole packs for `check --read-data`. For each pack it reads every byte (itself, from
 * a local path, or as a buffer handed over by the main thread), checks that the SHA-256 of the file equals
 * its name, decrypts, decompresses and hashes every blob the index places in it, and checks that the pack
 * header parses and agrees with the index. It reports findings; it never throws for a damaged pack.
 */
import {createHash, hash as oneShotHash} from 'node:crypto'
import fs from 'node:fs'
import {parentPort, workerData} from 'node:worker_threads'

import {CRYPTO_OVERHEAD, open, type MasterKey} from '../crypto.js'
import {BlobCorruptError, MacMismatchError} from '../errors.js'
import {BlobOpener} from '../native.js'
import {HEADER_LENGTH_SIZE, parsePackHeader} from '../pack.js'
import type {PackedBlob} from '../types.js'

export interface CheckWorkerInit {
  key: {encrypt: Uint8Array; macK: Uint8Array; macR: Uint8Array}
}

export interface CheckJob {
  t: 'pack'
  seq: number
  id: string
  /** Blobs of this pack as the index has them. */
  blobs: PackedBlob[]
  /** Local file to read, or the pack's bytes (transferred). */
  path?: string
  data?: ArrayBuffer
}

export interface CheckJobResult {
  t: 'result'
  seq: number
  id: string
  bytesRead: number
  /** What is wrong with the pack; empty when it is sound. */
  errors: string[]
  /** IDs of index blobs that failed to decrypt, decompress or hash (or lie outside the file). */
  badBlobs: string[]
  /** The pack could not be read at all: every blob in it counts as lost. */
  unreadable?: boolean
}

const MAX_HEADER_SIZE = 16 * 1024 * 1024 + CRYPTO_OVERHEAD
/** Bytes read from a pack file at once: small enough that each piece is still in cache when hashed and its blobs checked. */
const READ_SIZE = 1024 * 1024

const init = workerData as CheckWorkerInit
const key: MasterKey = {encrypt: Buffer.from(init.key.encrypt), macK: Buffer.from(init.key.macK), macR: Buffer.from(init.key.macR)}

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e))

/*
 * Blob verification, the hot loop of `check --read-data`: the same steps as pack.ts decodeBlob (verify the
 * Poly1305-AES MAC, AES-256-CTR decrypt, zstd-decompress, SHA-256 against the ID) in one native call
 * (native.ts BlobOpener) into one reused buffer: nothing is allocated per blob. Memory per worker: the read
 * window and that buffer (about the largest blob's plaintext plus ciphertext), whatever the pack size.
 */
const opener = new BlobOpener(key)

class BadBlob extends Error {}

function verifyBlob(enc: Buffer, id: string, uncompressedLength?: number): void {
  if (enc.length < CRYPTO_OVERHEAD) throw new BadBlob(`ciphertext too short: ${enc.length} bytes`)
  try {
    opener.open(enc, id, uncompressedLength)
  } catch (error) {
    if (error instanceof MacMismatchError) throw new BadBlob('ciphertext verification failed (MAC mismatch): the data is damaged')
    if (error instanceof BlobCorruptError) throw new BadBlob(error.message.replace(`blob ${id}: `, ''))
    throw error
  }
}

/** Bytes of one pack, handed out blob by blob in ascending offset order while every byte is hashed once. */
interface PackSource {
  readonly size: number
  /** The bytes [offset, offset+length), or a short buffer where the file ends. */
  range(offset: number, length: number): Buffer
  /** Hashes the bytes not read yet; returns the file's SHA-256. */
  digest(): string
  /** The last `n` bytes. */
  tail(n: number): Buffer
  close(): void
}

function bufferSource(buf: Buffer): PackSource {
  return {
    size: buf.length,
    range: (offset, length) => buf.subarray(offset, offset + length),
    digest: () => oneShotHash('sha256', buf, 'hex'),
    tail: (n) => buf.subarray(Math.max(0, buf.length - n)),
    close: () => {},
  }
}

let win: Buffer = Buffer.allocUnsafeSlow(4 * READ_SIZE)

/** Reads a pack file front to back through a small win, hashing each piece as it arrives. */
function fileSource(path: string): PackSource {
  const fd = fs.openSync(path, 'r')
  let size: number
  try {
    size = fs.fstatSync(fd).size
  } catch (error) {
    fs.closeSync(fd)
    throw error
  }
  const hasher = createHash('sha256')
  let start = 0 // file offset of win[0]
  let end = 0 // file offset just past the valid bytes of the win
  let eof = false

  /** Reads on until `upTo` (or the end of the file), keeping the bytes from `keep` on. */
  const fill = (upTo: number, keep: number): void => {
    while (end < upTo && !eof) {
      const want = Math.min(Math.max(upTo - end, READ_SIZE), size - end)
      if (want <= 0) {
        eof = true
        break
      }
      if (end - start + want > win.length) {
        const from = Math.min(Math.max(keep, start), end)
        win.copy(win, 0, from - start, end - start)
        start = from
        if (end - start + want > win.length) {
          const bigger = Buffer.allocUnsafeSlow(Math.max(end - start + want, win.length * 2))
          win.copy(bigger, 0, 0, end - start)
          win = bigger
        }
      }
      const n = fs.readSync(fd, win, end - start, want, end)
      if (n === 0) {
        eof = true
        break
      }
      hasher.update(win.subarray(end - start, end - start + n))
      end += n
    }
  }

  return {
    size,
    range(offset, length) {
      if (offset < start) {
        // Overlapping index entries (reported elsewhere): read that part again, outside the hashed stream.
        const b = Buffer.allocUnsafe(length)
        const n = fs.readSync(fd, b, 0, length, offset)
        return b.subarray(0, n)
      }
      fill(offset + length, offset)
      const from = Math.min(offset, end) - start
      return win.subarray(from, Math.min(offset + length, end) - start)
    },
    digest() {
      fill(size, size)
      return hasher.digest('hex')
    },
    tail(n) {
      const len = Math.min(n, size)
      const b = Buffer.allocUnsafe(len)
      const got = fs.readSync(fd, b, 0, len, size - len)
      return b.subarray(0, got)
    },
    close: () => fs.closeSync(fd),
  }
}

const sameBlob = (a: PackedBlob, b: PackedBlob): boolean =>
  a.id === b.id && a.type === b.type && a.offset === b.offset && a.length === b.length && (a.uncompressedLength ?? 0) === (b.uncompressedLength ?? 0)

function checkPack(src: PackSource, id: string, indexed: PackedBlob[]): {errors: string[]; badBlobs: string[]} {
  const errors: string[] = []
  const badBlobs: string[] = []
  const size = src.size

  const blobs = [...indexed].sort((a, b) => a.offset - b.offset)
  let end = 0
  let gaps = false
  for (const b of blobs) {
    if (b.offset !== end) gaps = true
    end = b.offset + b.length
    const enc = src.range(b.offset, b.length)
    if (enc.length !== b.length) {
      badBlobs.push(b.id)
      errors.push(`${b.type} blob ${b.id}: lies beyond the end of the file (offset ${b.offset} + ${b.length} > ${size} bytes)`)
      continue
    }
    try {
      verifyBlob(enc, b.id, b.uncompressedLength)
    } catch (error) {
      badBlobs.push(b.id)
      errors.push(`${b.type} blob ${b.id}: ${message(error)}`)
    }
  }
  if (gaps) errors.push('the index places blobs in this pack with gaps or overlaps')

  const hash = src.digest()
  if (hash !== id) errors.unshift(`pack content does not match its ID: it hashes to ${hash.slice(0, 16)}… (damaged file)`)

  // The header, as restic lists it: length field, decrypt, parse; it must agree with the index.
  try {
    if (size < HEADER_LENGTH_SIZE + CRYPTO_OVERHEAD) throw new Error(`file too small for a pack (${size} bytes)`)
    const hlen = src.tail(HEADER_LENGTH_SIZE).readUInt32LE(0)
    if (hlen < CRYPTO_OVERHEAD || hlen > MAX_HEADER_SIZE || hlen + HEADER_LENGTH_SIZE > size) {
      throw new Error(`header length ${hlen} is invalid for a file of ${size} bytes`)
    }
    const start = size - HEADER_LENGTH_SIZE - hlen
    const header = parsePackHeader(open(key, src.tail(HEADER_LENGTH_SIZE + hlen).subarray(0, hlen)))
    let total = 0
    for (const h of header) total += h.length
    if (total !== start) errors.push(`pack header lists ${total} bytes of blobs, but the header starts at byte ${start}`)
    const byOffset = new Map<number, PackedBlob>()
    for (const b of blobs) byOffset.set(b.offset, b)
    for (const h of header) {
      const b = byOffset.get(h.offset)
      if (!b || !sameBlob(b, h)) errors.push(`${h.type} blob ${h.id} of the pack header is not in the index, or at another position`)
      else byOffset.delete(h.offset)
    }
    for (const b of byOffset.values()) errors.push(`${b.type} blob ${b.id} of the index is not in the pack header`)
  } catch (error) {
    errors.push(`pack header: ${message(error)}`)
  }
  return {errors, badBlobs}
}

const port = parentPort
port?.on('message', (job: CheckJob) => {
  const r: CheckJobResult = {t: 'result', seq: job.seq, id: job.id, bytesRead: 0, errors: [], badBlobs: []}
  let src: PackSource
  try {
    src = job.data ? bufferSource(Buffer.from(job.data)) : fileSource(job.path!)
  } catch (error) {
    r.errors.push(`cannot read the pack: ${message(error)}`)
    r.unreadable = true
    port.postMessage(r)
    return
  }
  try {
    const {errors, badBlobs} = checkPack(src, job.id, job.blobs)
    r.errors = errors
    r.badBlobs = badBlobs
    r.bytesRead = src.size
  } catch (error) {
    r.errors.push(`checking failed: ${message(error)}`)
    r.unreadable = true
  } finally {
    src.close()
  }
  port.postMessage(r)
})
