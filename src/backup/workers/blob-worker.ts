/**
 * Blob worker: reads files, cuts them with the repository's chunker, hashes, compresses, encrypts and packs
 * the new chunks, and stores finished data packs itself. The main thread only gets blob IDs and pack lists.
 */
import fs from 'node:fs'
import {parentPort, workerData} from 'node:worker_threads'

import {chunkerTables, CHUNKER_MAX_SIZE, CHUNKER_MIN_SIZE} from '../chunker.js'
import {CRYPTO_OVERHEAD, type MasterKey} from '../crypto.js'
import {NativeChunker, Sealer, sha256Into} from '../native.js'
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
    .then((stored) => post({t: 'pack', id: stored.id, blobs: stored.blobs, size: stored.size}))
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
  packer ??= new PackFile(init.repoRoot, key, init.fsync)
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
  st?: fs.BigIntStats
  error?: NodeJS.ErrnoException
}

/** Reads a small file whole through the thread pool (open, read, fstat, close), never throwing. */
function prefetch(job: FileJob): Promise<Prefetched> {
  const p = Buffer.from(job.path.buffer, job.path.byteOffset, job.path.byteLength)
  return new Promise((resolve) => {
    const opened = (e: NodeJS.ErrnoException | null, fd: number) => {
      if (e) return resolve({error: e})
      // One byte more than expected, to notice a file that grew since the scan.
      const data = Buffer.allocUnsafe(job.size + 1)
      let n = 0
      const finish = (err?: NodeJS.ErrnoException | null) => {
        if (err) return fs.close(fd, () => resolve({error: err}))
        fs.fstat(fd, {bigint: true}, (e2, st) => fs.close(fd, () => resolve(e2 ? {error: e2} : {data: data.subarray(0, n), st})))
      }
      const more = () =>
        fs.read(fd, data, n, data.length - n, null, (err, got) => {
          if (err) return finish(err)
          n += got
          if (got === 0 || n === data.length) finish()
          else more()
        })
      more()
    }
    fs.open(p, fs.constants.O_RDONLY | fs.constants.O_NOATIME, (e, fd) => {
      if (e?.code === 'EPERM') fs.open(p, fs.constants.O_RDONLY, opened)
      else opened(e, fd)
    })
  })
}

/** Chunks and stores a file read whole. */
async function processPrefetched(job: FileJob, f: Prefetched): Promise<FileResult> {
  const r: FileResult = {job: job.job, content: [], bytes: 0, newBlobs: 0, newBytes: 0}
  if (f.error || !f.data || !f.st) return {...r, content: null, error: f.error?.message ?? 'cannot read file', errorCode: f.error?.code}
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
  if (Number(f.st.size) !== job.size || f.st.mtimeNs.toString() !== job.mtimeNs || r.bytes !== job.size) r.changed = true
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
      const j = batch[next]
      if (j.size <= PREFETCH_MAX_FILE) {
        ahead.set(next, prefetch(j))
        aheadBytes += j.size
      }
      next++
    }
    const pending = ahead.get(i)
    if (pending) {
      ahead.delete(i)
      const f = await pending
      aheadBytes -= batch[i].size
      results.push(await processPrefetched(batch[i], f))
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
