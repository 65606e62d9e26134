/**
 * Blob worker: reads files, cuts them with the repository's chunker, hashes, compresses, encrypts and packs
 * the new chunks, and stores finished data packs itself. The main thread only gets blob IDs and pack lists.
 */
import {createHash} from 'node:crypto'
import fs from 'node:fs'
import {parentPort, workerData} from 'node:worker_threads'
import {Compressor} from 'zstd-napi'

import {ChunkSplitter, chunkerTables, CHUNKER_MAX_SIZE} from '../chunker.js'
import {CRYPTO_OVERHEAD, type MasterKey, seal} from '../crypto.js'
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
const splitter = new ChunkSplitter(tables)
const known = new KnownSet(init.known)
const seen = new Set<string>()
const buf = Buffer.allocUnsafeSlow(CHUNKER_MAX_SIZE + READ_SIZE)
let packer: PackFile | undefined
// One compression context for the worker's life: creating one per blob costs more than compressing a small file.
const compressor = new Compressor()
if (init.level > 0) compressor.setParameters({compressionLevel: init.level})
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

/** Stores one chunk unless known; returns its ID and whether it was new. */
async function saveChunk(chunk: Buffer, r: FileResult): Promise<void> {
  const digest = createHash('sha256').update(chunk).digest()
  const id = digest.toString('hex')
  r.content!.push(id)
  if (seen.has(id) || known.has(digest)) return
  seen.add(id)
  let encrypted: Buffer
  let uncompressed: number | undefined
  if (init.level > 0 && chunk.length > 0) {
    const z = compressor.compress(chunk)
    if (z.length < chunk.length) {
      encrypted = seal(key, z)
      uncompressed = chunk.length
    } else encrypted = seal(key, chunk)
  } else encrypted = seal(key, chunk)
  packer ??= new PackFile(init.repoRoot, key, init.fsync)
  packer.add('data', id, encrypted, uncompressed)
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

let chain = Promise.resolve()
port.on('message', (m: ToWorker) => {
  chain = chain.then(async () => {
    try {
      if (uploadError !== undefined) throw uploadError
      switch (m.t) {
        case 'files': {
          const results: FileResult[] = []
          for (const job of m.batch) results.push(await processFile(job))
          post({t: 'results', results})
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
