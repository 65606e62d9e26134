/**
 * A data pack streamed straight into a local repository: blobs are written to a temporary file as they come
 * (through a small write buffer), the pack ID is hashed on the way, and finish() appends the encrypted header,
 * fsyncs, renames the file to data/<id[0:2]>/<id> and makes it read-only. Nothing of the pack stays in memory
 * but its header entries, so a worker's memory does not grow with the pack size.
 *
 * The temporary name follows restic's local backend (`<64 hex>-tmp-<suffix>` inside a data/ subfolder), so a
 * run killed half-way leaves a file that restic and Lifeboat treat the same way (ignored, never indexed).
 */
import {createHash, type Hash, randomBytes} from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'

import {type MasterKey, seal} from '../crypto.js'
import {type Sealer, sealBound} from '../native.js'
import {encodePackHeader} from '../pack.js'
import type {BlobType, PackedBlob} from '../types.js'

const WRITE_BUFFER = 1024 * 1024
/** Scratch buffer for blobs sealed outside the write buffer (larger than it), shared by a thread's packs. */
let bigScratch = Buffer.allocUnsafe(0)

export interface StoredPack {
  id: string
  size: number
  blobs: PackedBlob[]
  /** Base64 MD5 of the file, when asked for (an upload's Content-MD5 without reading the file again). */
  md5?: string
}

export class PackFile {
  private readonly fd: number
  private readonly tmp: string
  private readonly hash: Hash = createHash('sha256')
  private readonly entries: PackedBlob[] = []
  private readonly wbuf = Buffer.allocUnsafe(WRITE_BUFFER)
  private wlen = 0
  private bytes = 0

  private readonly md5: Hash | undefined

  constructor(
    private readonly repoRoot: string,
    private readonly key: MasterKey,
    private readonly fsync: boolean,
    md5 = false,
  ) {
    this.md5 = md5 ? createHash('md5') : undefined
    const rnd = randomBytes(32).toString('hex')
    this.tmp = path.join(repoRoot, 'data', rnd.slice(0, 2), `${rnd}-tmp-${randomBytes(6).toString('hex')}`)
    this.fd = fs.openSync(this.tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600)
  }

  get size(): number {
    return this.bytes
  }

  get count(): number {
    return this.entries.length
  }

  add(type: BlobType, id: string, encrypted: Buffer, uncompressedLength?: number): void {
    const blob: PackedBlob = {id, type, offset: this.bytes, length: encrypted.length}
    if (uncompressedLength !== undefined) blob.uncompressedLength = uncompressedLength
    this.entries.push(blob)
    this.write(encrypted)
  }

  /**
   * Seals a plaintext blob (compressed when `compress` and it pays) straight into the pack's write buffer:
   * no per-blob allocation. Returns the stored (sealed) length.
   */
  addPlain(type: BlobType, id: string, plaintext: Uint8Array, sealer: Sealer, compress: boolean): number {
    const bound = sealBound(plaintext.length)
    let r: {length: number; compressed: boolean}
    if (bound <= this.wbuf.length) {
      if (this.wlen + bound > this.wbuf.length) this.flushBuffer()
      r = sealer.seal(plaintext, this.wbuf, this.wlen, compress)
      this.wlen += r.length
    } else {
      this.flushBuffer()
      if (bigScratch.length < bound) bigScratch = Buffer.allocUnsafeSlow(bound)
      r = sealer.seal(plaintext, bigScratch, 0, compress)
      const sealed = bigScratch.subarray(0, r.length)
      this.hash.update(sealed)
      this.md5?.update(sealed)
      writeAll(this.fd, sealed)
    }
    const blob: PackedBlob = {id, type, offset: this.bytes, length: r.length}
    if (r.compressed) blob.uncompressedLength = plaintext.length
    this.entries.push(blob)
    this.bytes += r.length
    return r.length
  }

  private write(b: Buffer): void {
    this.bytes += b.length
    if (this.wlen + b.length > this.wbuf.length) this.flushBuffer()
    if (b.length >= this.wbuf.length) {
      this.hash.update(b)
      this.md5?.update(b)
      writeAll(this.fd, b)
      return
    }
    b.copy(this.wbuf, this.wlen)
    this.wlen += b.length
  }

  /** Hashes (pack ID) and writes what the write buffer holds. */
  private flushBuffer(): void {
    if (this.wlen === 0) return
    const b = this.wbuf.subarray(0, this.wlen)
    this.hash.update(b)
    this.md5?.update(b)
    writeAll(this.fd, b)
    this.wlen = 0
  }

  /** Writes the header and length, then (asynchronously) fsyncs, renames and seals the file. */
  async finish(): Promise<StoredPack> {
    const encHeader = seal(this.key, encodePackHeader(this.entries))
    const len = Buffer.allocUnsafe(4)
    len.writeUInt32LE(encHeader.length, 0)
    this.write(encHeader)
    this.write(len)
    this.flushBuffer()
    const id = this.hash.digest('hex')
    const dir = path.join(this.repoRoot, 'data', id.slice(0, 2))
    const final = path.join(dir, id)
    try {
      if (this.fsync) await new Promise<void>((resolve, reject) => fs.fsync(this.fd, (e) => (e ? reject(e) : resolve())))
    } finally {
      fs.closeSync(this.fd)
    }
    await fs.promises.rename(this.tmp, final)
    if (this.fsync) await syncDir(dir)
    await fs.promises.chmod(final, 0o400)
    const out: StoredPack = {id, size: this.bytes, blobs: this.entries}
    if (this.md5) out.md5 = this.md5.digest('base64')
    return out
  }

  /** Removes the temporary file (after an error). */
  abort(): void {
    try {
      fs.closeSync(this.fd)
    } catch {}
    try {
      fs.unlinkSync(this.tmp)
    } catch {}
  }
}

function writeAll(fd: number, b: Uint8Array): void {
  let off = 0
  while (off < b.length) off += fs.writeSync(fd, b, off, b.length - off)
}

async function syncDir(dir: string): Promise<void> {
  const fh = await fs.promises.open(dir, 'r')
  try {
    await fh.sync()
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code !== 'EINVAL' && code !== 'EISDIR' && code !== 'EPERM') throw error
  } finally {
    await fh.close()
  }
}
