/**
 * Prune worker: repacks. For each pack it is given it reads the file once, verifies every blob to keep
 * (MAC, decryption, decompression, SHA-256 against the ID: native.ts BlobOpener) and appends the blob, still
 * encrypted as it was, to its own new pack of that blob type, streamed into a temporary file of the
 * repository (PackFile). Finished packs are fsynced and renamed, then reported; the main thread indexes them.
 * Nothing is deleted here. Memory: one old pack plus the write buffers.
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

async function repackOne(job: Extract<PruneJob, {t: 'pack'}>, out: StoredPack[]): Promise<void> {
  const data = fs.readFileSync(job.path)
  for (const b of job.blobs) {
    if (b.offset + b.length > data.length) throw new Error(`pack ${job.id}: ${b.type} blob ${b.id} lies beyond the end of the file`)
    const enc = data.subarray(b.offset, b.offset + b.length)
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
  chain = chain.then(async () => {
    const r: PruneJobResult = {seq: job.seq, packs: []}
    try {
      if (job.t === 'pack') await repackOne(job, r.packs)
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
