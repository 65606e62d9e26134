/**
 * Blob worker: reads files, cuts them with the repository's chunker, hashes, compresses, encrypts and packs
 * the new chunks, and stores finished data packs itself. The main thread only gets blob IDs and pack lists.
 */
import fs from 'node:fs'
import {parentPort, workerData} from 'node:worker_threads'

import {chunkerTables, CHUNKER_MAX_SIZE, CHUNKER_MIN_SIZE} from '../chunker.js'
import {CRYPTO_OVERHEAD, type MasterKey} from '../crypto.js'
import {NativeChunker, READ_FIELDS, readFiles, Sealer, sha256Into, systemError} from '../native.js'
import {parsePolynomial} from '../polynomial.js'
import {KnownSet} from './known-set.js'
import {PackFile} from './pack-file.js'
import type {FileJob, FileResult, FromWorker, ToWorker, WorkerInit} from './protocol.js'

const READ_SIZE = 4 * 1024 * 1024
// Packs finishing (fsync, rename) while the next one is written.
const MAX_FINISHING = 2

const init = workerData as WorkerInit
const port = parentPort!
const key: MasterKey = {encrypt: Buffer.from(init.key.encrypt), macK: Buffer.from(init.key.macK), macR: Buffer.from(init.key.macR)}
const tables = chunkerTables(parsePolynomial(init.polynomial))
const splitter = new NativeChunker(tables)
const known = new KnownSet(init.known)
const seen = new Set<string>()
const buf = Buffer.allocUnsafeSlow(CHUNKER_MAX_SIZE + READ_SIZE)
let packer: PackFile | undefined
// One set of AES / Poly1305 / zstd contexts for the worker's life; blobs are sealed straight into the pack buffer.
const sealer = new Sealer(key, init.level)
const digest = Buffer.alloc(32)
const uploads = new Set<Promise<void>>()
let uploadError: unknown

function post(m: FromWorker, transfer?: ArrayBuffer[]): void {
  port.postMessage(m, transfer ?? [])
}

async function finishPack(): Promise<void> {
  const pf = packer
  if (!pf || pf.count === 0) return
  packer = undefined
  while (uploads.size >= MAX_FINISHING) await Promise.race(uploads)
  const p: Promise<void> = pf
    .finish()
    .then((stored) => post({t: 'pack', id: stored.id, blobs: stored.blobs, size: stored.size, md5: stored.md5}))
    .catch((error: unknown) => {
      pf.abort()
      uploadError ??= error
    })
    .finally(() => uploads.delete(p))
  uploads.add(p)
}

/** Stores one chunk unless known; records its ID in the file's content list. */
async function saveChunk(chunk: Buffer, r: FileResult): Promise<void> {
  sha256Into(chunk, digest, 0)
  const id = digest.toString('hex')
  r.content!.push(id)
  if (seen.has(id) || known.has(digest)) return
  seen.add(id)
  packer ??= new PackFile(init.repoRoot, key, init.fsync, init.md5)
  packer.addPlain('data', id, chunk, sealer, init.level > 0)
  r.newBlobs++
  r.newBytes += chunk.length
  if (packer.size + CRYPTO_OVERHEAD >= init.packSize) await finishPack()
}

function openForRead(p: Buffer): number {
  try {
    return fs.openSync(p, fs.constants.O_RDONLY | fs.constants.O_NOATIME)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EPERM') return fs.openSync(p, fs.constants.O_RDONLY)
    throw error
  }
}

async function processFile(job: FileJob): Promise<FileResult> {
  const r: FileResult = {job: job.job, content: [], bytes: 0, newBlobs: 0, newBytes: 0}
  let fd: number
  try {
    fd = openForRead(Buffer.from(job.path.buffer, job.path.byteOffset, job.path.byteLength))
  } catch (error) {
    return {...r, content: null, error: (error as Error).message, errorCode: (error as NodeJS.ErrnoException).code}
  }
  try {
    let start = 0
    let end = 0
    for (;;) {
      if (buf.length - end < READ_SIZE) {
        buf.copy(buf, 0, start, end)
        end -= start
        start = 0
      }
      const n = fs.readSync(fd, buf, end, READ_SIZE, null)
      if (n === 0) break
      const cuts = splitter.push(buf.subarray(end, end + n))
      for (const c of cuts) {
        const stop = end + c
        // The chunk's bytes may be overwritten by the next read: saveChunk copies them (hash, compress, seal).
        await saveChunk(buf.subarray(start, stop), r)
        start = stop
      }
      end += n
      r.bytes += n
    }
    if (splitter.end() > 0 || end > start) await saveChunk(buf.subarray(start, end), r)
    const st = fs.fstatSync(fd, {bigint: true})
    if (Number(st.size) !== job.size || st.mtimeNs.toString() !== job.mtimeNs || r.bytes !== job.size) r.changed = true
    return r
  } catch (error) {
    splitter.end()
    return {...r, content: null, error: (error as Error).message, errorCode: (error as NodeJS.ErrnoException).code}
  } finally {
    fs.closeSync(fd)
  }
}

/** Files up to this size are read ahead, in the thread pool, while earlier ones are being chunked. */
const PREFETCH_MAX_FILE = 1024 * 1024
/** Bytes read ahead at most (per worker). */
const PREFETCH_BYTES = 16 * 1024 * 1024

interface Prefetched {
  data?: Buffer
  /** Size and mtime (ns, decimal) that fstat gave after the read. */
  size?: number
  mtimeNs?: string
  error?: NodeJS.ErrnoException
}

/**
 * Where read-ahead files land: one buffer used as a ring, taken in file order and given back in the same order
 * once a file is processed (a fresh Buffer per small file left tens of MB of garbage per worker between GCs).
 */
class ReadAheadRing {
  private readonly buf = Buffer.allocUnsafeSlow(PREFETCH_BYTES + 2 * (PREFETCH_MAX_FILE + 1))
  /** Start offsets of the slices in use, oldest first. */
  private readonly used: number[] = []
  private head = 0

  /** n bytes, or undefined while the ring has no room for them. */
  take(n: number): Buffer | undefined {
    if (this.used.length === 0) this.head = 0
    const first = this.used.length > 0 ? this.used[0] : 0
    let start: number
    if (this.used.length === 0 || this.head > first) {
      if (this.head + n <= this.buf.length) start = this.head
      else if (n <= first) start = 0
      else return undefined
    } else if (this.head + n <= first) start = this.head
    else return undefined
    this.used.push(start)
    this.head = start + n
    return this.buf.subarray(start, start + n)
  }

  /** Gives back the oldest slice taken. */
  release(): void {
    this.used.shift()
  }
}

const ring = new ReadAheadRing()
const NUL = Buffer.alloc(1)

/** Small files read in one thread-pool job (native readFiles): one round trip instead of four per file. */
const GROUP_FILES = 16
const GROUP_BYTES = 1024 * 1024
const CALLS = ['open', 'open', 'read', 'fstat']

/**
 * Reads a group of small files whole, each into its ring slice (open, read, fstat, close on one pool thread);
 * one promise per file, never rejected (a failure is the file's error).
 */
function prefetchGroup(jobs: FileJob[], slices: Buffer[]): Array<Promise<Prefetched>> {
  const paths = Buffer.concat(jobs.flatMap((j) => [Buffer.from(j.path.buffer, j.path.byteOffset, j.path.byteLength), NUL]))
  const slots = new Float64Array(jobs.length * 2)
  const ringView = Buffer.from(slices[0].buffer)
  for (let k = 0; k < jobs.length; k++) {
    slots[2 * k] = slices[k].byteOffset
    slots[2 * k + 1] = slices[k].length
  }
  const results = new Float64Array(jobs.length * READ_FIELDS)
  const done = readFiles(paths, jobs.length, ringView, slots, results)
  return jobs.map((job, k) =>
    done.then(
      (): Prefetched => {
        const o = k * READ_FIELDS
        const errno = results[o + 1]
        if (errno !== 0) return {error: systemError(errno, CALLS[results[o + 5]] ?? 'open', job.path)}
        const mtimeNs = (BigInt(results[o + 3]) * 1_000_000_000n + BigInt(results[o + 4])).toString()
        return {data: slices[k].subarray(0, results[o]), size: results[o + 2], mtimeNs}
      },
      (error: unknown): Prefetched => ({error: error as NodeJS.ErrnoException}),
    ),
  )
}

/** Chunks and stores a file read whole. */
async function processPrefetched(job: FileJob, f: Prefetched): Promise<FileResult> {
  const r: FileResult = {job: job.job, content: [], bytes: 0, newBlobs: 0, newBytes: 0}
  if (f.error || !f.data) return {...r, content: null, error: f.error?.message ?? 'cannot read file', errorCode: f.error?.code}
  const data = f.data
  r.bytes = data.length
  if (data.length <= CHUNKER_MIN_SIZE) {
    // The chunker never cuts before its minimum size: the file is one blob.
    if (data.length > 0) await saveChunk(data, r)
  } else {
    let start = 0
    for (const c of splitter.push(data)) {
      await saveChunk(data.subarray(start, c), r)
      start = c
    }
    splitter.end()
    if (start < data.length) await saveChunk(data.subarray(start), r)
  }
  if (f.size !== job.size || f.mtimeNs !== job.mtimeNs || r.bytes !== job.size) r.changed = true
  return r
}

/** Processes a batch in order, reading small files ahead so the CPU work never waits for the disk. */
async function processBatch(batch: FileJob[]): Promise<FileResult[]> {
  const results: FileResult[] = []
  const ahead = new Map<number, Promise<Prefetched>>()
  let next = 0
  let aheadBytes = 0
  for (let i = 0; i < batch.length; i++) {
    while (next < batch.length && (aheadBytes < PREFETCH_BYTES || next <= i)) {
      // A group of consecutive small files, each with its ring slice: one byte more than expected, to notice a
      // file that grew since the scan. With nothing ahead the ring is empty, so the next file always gets one.
      const group: FileJob[] = []
      const slices: Buffer[] = []
      let groupBytes = 0
      while (next < batch.length && group.length < GROUP_FILES && groupBytes < GROUP_BYTES && batch[next].size <= PREFETCH_MAX_FILE) {
        const data = ring.take(batch[next].size + 1)
        if (!data) break
        group.push(batch[next])
        slices.push(data)
        groupBytes += batch[next].size
        next++
      }
      if (group.length > 0) {
        const files = prefetchGroup(group, slices)
        for (let k = 0; k < group.length; k++) ahead.set(next - group.length + k, files[k])
        aheadBytes += groupBytes
      } else if (next < batch.length && batch[next].size > PREFETCH_MAX_FILE) next++
      else break
    }
    const pending = ahead.get(i)
    if (pending) {
      ahead.delete(i)
      const f = await pending
      aheadBytes -= batch[i].size
      try {
        results.push(await processPrefetched(batch[i], f))
      } finally {
        ring.release()
      }
    } else results.push(await processFile(batch[i]))
  }
  return results
}

let chain = Promise.resolve()
port.on('message', (m: ToWorker) => {
  chain = chain.then(async () => {
    try {
      if (uploadError !== undefined) throw uploadError
      switch (m.t) {
        case 'files': {
          post({t: 'results', results: await processBatch(m.batch)})
          break
        }
        case 'known': {
          for (const id of m.ids) seen.add(id)
          break
        }
        case 'flush': {
          await finishPack()
          while (uploads.size > 0) await Promise.all(uploads)
          if (uploadError !== undefined) throw uploadError
          post({t: 'flushed', seq: m.seq})
          break
        }
      }
    } catch (error) {
      post({t: 'fatal', message: (error as Error).message ?? String(error), stack: (error as Error).stack})
    }
  })
})
