/**
 * Prune worker: repacks. For each pack it is given it reads the byte ranges that hold blobs to keep (neighbours
 * closer than MERGE_GAP are read as one range; a dropped blob's bytes are not read), verifies every blob to keep
 * (MAC, decryption, decompression, SHA-256 against the ID: native.ts BlobOpener) and appends the blob, still
 * encrypted as it was, to its own new pack of that blob type, streamed into a temporary file of the
 * repository (PackFile). Finished packs are fsynced and renamed, then reported; the main thread indexes them.
 * Nothing is deleted here. A job's reads start as soon as it arrives (asynchronously, on the thread pool), so
 * the next pack is read while this one is verified. Memory: the wanted parts of the (at most two) packs the main
 * thread has handed out, plus the write buffers.
 */
import fs from 'node:fs'
import {parentPort, workerData} from 'node:worker_threads'

import {CRYPTO_OVERHEAD, type MasterKey} from '../crypto.js'
import {BlobOpener} from '../native.js'
import type {BlobType, PackedBlob} from '../types.js'
import {PackFile, type StoredPack} from './pack-file.js'

export interface PruneWorkerInit {
  key: {encrypt: Uint8Array; macK: Uint8Array; macR: Uint8Array}
  repoRoot: string
  packSize: number
  fsync: boolean
}

export type PruneJob = {t: 'pack'; seq: number; id: string; path: string; blobs: PackedBlob[]} | {t: 'finish'; seq: number}

export interface PruneJobResult {
  seq: number
  /** Packs finished (stored under their final name) while doing this job. */
  packs: StoredPack[]
  /** Set when the job failed: a blob to keep is damaged, or the file cannot be read or written. */
  error?: string
}

const init = workerData as PruneWorkerInit
const key: MasterKey = {encrypt: Buffer.from(init.key.encrypt), macK: Buffer.from(init.key.macK), macR: Buffer.from(init.key.macR)}
const opener = new BlobOpener(key)
const writers: Record<BlobType, PackFile | undefined> = {data: undefined, tree: undefined}

async function close(type: BlobType, out: StoredPack[]): Promise<void> {
  const w = writers[type]
  writers[type] = undefined
  if (w && w.count > 0) out.push(await w.finish())
  else w?.abort()
}

/** Gaps between wanted blobs up to this size are read through (one read instead of two). */
const MERGE_GAP = 256 * 1024

/** The wanted blobs of a pack, read: `at[i]` is where blob i starts in `data` (a view of `buf`). */
interface Loaded {
  buf: Buffer
  data: Buffer
  at: number[]
}

/** Read buffers of finished jobs, reused (a pack's worth each; without reuse, every job's fresh 16 MiB drove GC). */
const spare: Buffer[] = []
function takeBuffer(n: number): Buffer {
  const i = spare.findIndex((b) => b.length >= n)
  return i === -1 ? Buffer.allocUnsafeSlow(Math.max(n, 4 << 20)) : spare.splice(i, 1)[0]
}

function readAt(fd: number, buf: Buffer, off: number, len: number, pos: number): Promise<number> {
  return new Promise((resolve, reject) => fs.read(fd, buf, off, len, pos, (e, n) => (e ? reject(e) : resolve(n))))
}

/** Reads the ranges of a pack that hold the job's blobs (in file order, close neighbours merged). */
async function load(job: Extract<PruneJob, {t: 'pack'}>): Promise<Loaded> {
  const order = job.blobs.map((_, i) => i).sort((a, b) => job.blobs[a].offset - job.blobs[b].offset)
  const ranges: Array<{start: number; end: number; bufAt: number}> = []
  const at = new Array<number>(job.blobs.length)
  let total = 0
  for (const i of order) {
    const b = job.blobs[i]
    const last = ranges.at(-1)
    if (last && b.offset <= last.end + MERGE_GAP) {
      const end = Math.max(last.end, b.offset + b.length)
      total += end - last.end
      last.end = end
    } else {
      ranges.push({start: b.offset, end: b.offset + b.length, bufAt: total})
      total += b.length
    }
    const r = ranges.at(-1)!
    at[i] = r.bufAt + (b.offset - r.start)
  }
  const buf = takeBuffer(total)
  const data = buf.subarray(0, total)
  const fd = await new Promise<number>((resolve, reject) => fs.open(job.path, 'r', (e, f) => (e ? reject(e) : resolve(f)))).catch((error: unknown) => {
    spare.push(buf)
    throw error
  })
  try {
    await Promise.all(
      ranges.map(async (r) => {
        let done = 0
        while (done < r.end - r.start) {
          const n = await readAt(fd, data, r.bufAt + done, r.end - r.start - done, r.start + done)
          if (n === 0) throw new Error(`pack ${job.id}: the file ends at ${r.start + done} bytes, but the index places blobs up to byte ${r.end}`)
          done += n
        }
      }),
    )
  } finally {
    // Not reused after a failed read: another read of this job may still be writing into it.
    fs.close(fd, () => {})
  }
  return {buf, data, at}
}

async function repackOne(job: Extract<PruneJob, {t: 'pack'}>, loaded: Promise<Loaded>, out: StoredPack[]): Promise<void> {
  const {buf, data, at} = await loaded
  try {
    await copyBlobs(job, data, at, out)
  } finally {
    if (spare.length < 2) spare.push(buf)
  }
}

async function copyBlobs(job: Extract<PruneJob, {t: 'pack'}>, data: Buffer, at: number[], out: StoredPack[]): Promise<void> {
  for (const [i, b] of job.blobs.entries()) {
    const enc = data.subarray(at[i], at[i] + b.length)
    try {
      opener.open(enc, b.id, b.uncompressedLength)
    } catch (error) {
      throw new Error(`pack ${job.id}: ${b.type} blob ${b.id} is damaged: ${error instanceof Error ? error.message : String(error)}`)
    }
    let w = writers[b.type]
    if (!w) w = writers[b.type] = new PackFile(init.repoRoot, key, init.fsync)
    w.add(b.type, b.id, enc, b.uncompressedLength)
    if (w.size + CRYPTO_OVERHEAD >= init.packSize) await close(b.type, out)
  }
}

let chain: Promise<void> = Promise.resolve()
parentPort?.on('message', (job: PruneJob) => {
  // The read starts now, while earlier jobs are still being verified; a failure surfaces in the job's turn.
  const loaded = job.t === 'pack' ? load(job) : undefined
  loaded?.catch(() => {})
  chain = chain.then(async () => {
    const r: PruneJobResult = {seq: job.seq, packs: []}
    try {
      if (job.t === 'pack') await repackOne(job, loaded!, r.packs)
      else for (const t of ['tree', 'data'] as const) await close(t, r.packs)
    } catch (error) {
      r.error = error instanceof Error ? error.message : String(error)
      for (const t of ['tree', 'data'] as const) {
        writers[t]?.abort()
        writers[t] = undefined
      }
    }
    parentPort!.postMessage(r)
  })
})
