/**
 * Check worker: verifies whole packs for `check --read-data`. For each pack it reads every byte (itself, from
 * a local path, or as a buffer handed over by the main thread), checks that the SHA-256 of the file equals
 * its name, decrypts, decompresses and hashes every blob the index places in it, and checks that the pack
 * header parses and agrees with the index. It reports findings; it never throws for a damaged pack.
 */
import {createCipheriv, createDecipheriv, hash as oneShotHash, type Cipher} from 'node:crypto'
import fs from 'node:fs'
import {parentPort, workerData} from 'node:worker_threads'
import sodium from 'sodium-native'
import zstd from 'zstd-napi/binding.js'

import {clampR, CRYPTO_OVERHEAD, MAC_SIZE, NONCE_SIZE, open, type MasterKey} from '../crypto.js'
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

const init = workerData as CheckWorkerInit
const key: MasterKey = {encrypt: Buffer.from(init.key.encrypt), macK: Buffer.from(init.key.macK), macR: Buffer.from(init.key.macR)}
let scratch = Buffer.allocUnsafeSlow(0)

/*
 * Blob verification, the hot loop of `check --read-data`: the same steps as pack.ts decodeBlob (verify the
 * Poly1305-AES MAC, AES-256-CTR decrypt, zstd-decompress, SHA-256 against the ID), minus its per-blob
 * setup costs, which dominate for the many small blobs of a typical repository: one AES-128-ECB cipher
 * (stateless per block, so reusable) makes every MAC's s, one zstd context decompresses into a reused
 * buffer of the index's uncompressed length, and hashing is one-shot.
 */
const macKey = Buffer.allocUnsafe(32)
clampR(Buffer.from(key.macR)).copy(macKey, 0)
let ecb: Cipher | undefined
const dctx = new zstd.DCtx()
let plainScratch = Buffer.allocUnsafeSlow(0)

class BadBlob extends Error {}

function verifyBlob(enc: Buffer, id: string, uncompressedLength?: number): void {
  if (enc.length < CRYPTO_OVERHEAD) throw new BadBlob(`ciphertext too short: ${enc.length} bytes`)
  const nonce = enc.subarray(0, NONCE_SIZE)
  const ct = enc.subarray(NONCE_SIZE, enc.length - MAC_SIZE)
  if (!ecb) {
    ecb = createCipheriv('aes-128-ecb', key.macK, null)
    ecb.setAutoPadding(false)
  }
  ecb.update(nonce).copy(macKey, 16)
  if (!sodium.crypto_onetimeauth_verify(enc.subarray(enc.length - MAC_SIZE), ct, macKey)) {
    throw new BadBlob('ciphertext verification failed (MAC mismatch): the data is damaged')
  }
  let plain = ct.length === 0 ? Buffer.alloc(0) : createDecipheriv('aes-256-ctr', key.encrypt, nonce).update(ct)
  if (uncompressedLength !== undefined && uncompressedLength > 0) {
    if (plainScratch.length < uncompressedLength) plainScratch = Buffer.allocUnsafeSlow(Math.max(uncompressedLength, 8 * 1024 * 1024))
    let n: number
    try {
      n = dctx.decompress(plainScratch.subarray(0, uncompressedLength), plain)
    } catch (error) {
      throw new BadBlob(`zstd decompression failed: ${message(error)}`)
    }
    if (n !== uncompressedLength) throw new BadBlob(`decompressed to ${n} bytes, index says ${uncompressedLength}`)
    plain = plainScratch.subarray(0, n)
  }
  const got = oneShotHash('sha256', plain, 'hex')
  if (got !== id) throw new BadBlob(`content hashes to ${got}`)
}

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e))

/** Reads a whole file into the reused scratch buffer (grown to the largest pack seen). */
function readWhole(path: string): Buffer {
  const fd = fs.openSync(path, 'r')
  try {
    const size = fs.fstatSync(fd).size
    if (scratch.length < size) scratch = Buffer.allocUnsafeSlow(Math.max(size, 16 * 1024 * 1024 + 64 * 1024))
    let got = 0
    while (got < size) {
      const n = fs.readSync(fd, scratch, got, size - got, got)
      if (n === 0) break
      got += n
    }
    return scratch.subarray(0, got)
  } finally {
    fs.closeSync(fd)
  }
}

const sameBlob = (a: PackedBlob, b: PackedBlob): boolean =>
  a.id === b.id && a.type === b.type && a.offset === b.offset && a.length === b.length && (a.uncompressedLength ?? 0) === (b.uncompressedLength ?? 0)

function checkPackBytes(k: MasterKey, id: string, buf: Buffer, indexed: PackedBlob[]): {errors: string[]; badBlobs: string[]} {
  const errors: string[] = []
  const badBlobs: string[] = []
  const hash = oneShotHash('sha256', buf, 'hex')
  if (hash !== id) errors.push(`pack content does not match its ID: it hashes to ${hash.slice(0, 16)}… (damaged file)`)

  const blobs = [...indexed].sort((a, b) => a.offset - b.offset)
  let end = 0
  let gaps = false
  for (const b of blobs) {
    if (b.offset !== end) gaps = true
    end = b.offset + b.length
    if (b.offset + b.length > buf.length) {
      badBlobs.push(b.id)
      errors.push(`${b.type} blob ${b.id}: lies beyond the end of the file (offset ${b.offset} + ${b.length} > ${buf.length} bytes)`)
      continue
    }
    try {
      verifyBlob(buf.subarray(b.offset, b.offset + b.length), b.id, b.uncompressedLength)
    } catch (error) {
      badBlobs.push(b.id)
      errors.push(`${b.type} blob ${b.id}: ${message(error)}`)
    }
  }
  if (gaps) errors.push('the index places blobs in this pack with gaps or overlaps')

  // The header, as restic lists it: length field, decrypt, parse; it must agree with the index.
  try {
    if (buf.length < HEADER_LENGTH_SIZE + CRYPTO_OVERHEAD) throw new Error(`file too small for a pack (${buf.length} bytes)`)
    const hlen = buf.readUInt32LE(buf.length - HEADER_LENGTH_SIZE)
    if (hlen < CRYPTO_OVERHEAD || hlen > MAX_HEADER_SIZE || hlen + HEADER_LENGTH_SIZE > buf.length) {
      throw new Error(`header length ${hlen} is invalid for a file of ${buf.length} bytes`)
    }
    const start = buf.length - HEADER_LENGTH_SIZE - hlen
    const header = parsePackHeader(open(k, buf.subarray(start, buf.length - HEADER_LENGTH_SIZE)))
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
  let buf: Buffer
  try {
    buf = job.data ? Buffer.from(job.data) : readWhole(job.path!)
  } catch (error) {
    r.errors.push(`cannot read the pack: ${message(error)}`)
    r.unreadable = true
    port.postMessage(r)
    return
  }
  r.bytesRead = buf.length
  try {
    const {errors, badBlobs} = checkPackBytes(key, job.id, buf, job.blobs)
    r.errors = errors
    r.badBlobs = badBlobs
  } catch (error) {
    r.errors.push(`checking failed: ${message(error)}`)
    r.unreadable = true
  }
  port.postMessage(r)
})
