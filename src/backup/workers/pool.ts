import os from 'node:os'
import type {Worker} from 'node:worker_threads'

import {LifeboatError} from '../../errors.js'
import type {MasterKey} from '../crypto.js'
import type {PackedBlob} from '../types.js'
import {buildKnownSet} from './known-set.js'
import type {FileJob, FileResult, FromWorker, ToWorker, WorkerInit} from './protocol.js'
import {startWorker} from './start.js'

export interface BlobPoolOptions {
  key: MasterKey
  polynomial: string
  level: number
  packSize: number
  repoRoot: string
  fsync?: boolean
  /** Workers also compute each pack's MD5 (reported with it), for uploads. */
  md5?: boolean
  /** IDs of data blobs the repository already has. */
  knownDataIds: Iterable<string>
  workers?: number
  /** Called (in order per worker) when a worker has stored a pack. */
  onPack: (id: string, blobs: PackedBlob[], size: number, md5?: string) => void | Promise<void>
  /**
   * Stop handing out files while this many stored packs wait for `onPack` (a remote repository uploads them
   * from a local staging folder: this bounds how much of it piles up when the network is slower than the disk).
   */
  maxPacksWaiting?: number
}

interface Slot {
  worker: Worker
  outstandingBytes: number
  outstandingBatches: number
  pending: Map<number, {resolve: (r: FileResult) => void; size: number}>
}

const BATCH_FILES = 128
const BATCH_BYTES = 8 * 1024 * 1024
const MAX_BATCHES_PER_WORKER = 4

/**
 * Worker threads that turn files into stored data blobs. `submit` returns the file's blob IDs once its
 * worker has processed it; packs are stored by the workers and reported through `onPack`.
 */
export class BlobPool {
  private readonly slots: Slot[] = []
  // A FIFO with a moving head: Array.shift() is O(n) and made dispatch quadratic on big trees.
  private queue: Array<{job: FileJob; resolve: (r: FileResult) => void}> = []
  private head = 0
  private queuedBytes = 0
  private nextJob = 1
  private failure: Error | undefined
  private flushSeq = 0
  private readonly flushWaiters = new Map<number, {remaining: number; resolve: () => void}>()
  private readonly drainWaiters: Array<() => void> = []
  private packChain: Promise<void> = Promise.resolve()
  private packsWaiting = 0

  constructor(private readonly o: BlobPoolOptions) {
    const n = Math.max(1, o.workers ?? Math.min(os.availableParallelism(), 8))
    const init: WorkerInit = {
      key: {encrypt: o.key.encrypt, macK: o.key.macK, macR: o.key.macR},
      polynomial: o.polynomial,
      level: o.level,
      packSize: o.packSize,
      repoRoot: o.repoRoot,
      fsync: o.fsync ?? true,
      md5: o.md5,
      known: buildKnownSet(o.knownDataIds),
    }
    for (let i = 0; i < n; i++) {
      const worker = startWorker('blob-worker', init)
      const slot: Slot = {worker, outstandingBytes: 0, outstandingBatches: 0, pending: new Map()}
      worker.on('message', (m: FromWorker) => this.onMessage(slot, m))
      worker.on('error', (e) => this.fail(new LifeboatError(`backup worker crashed: ${e.message}`, {cause: e})))
      worker.on('exit', (code) => {
        if (code !== 0 && !this.closed) this.fail(new LifeboatError(`backup worker exited with code ${code}`))
      })
      this.slots.push(slot)
    }
  }

  private closed = false

  /** Files queued but not yet handed to a worker. */
  get backlog(): number {
    return this.queue.length - this.head
  }

  submit(path: Uint8Array, size: number, mtimeNs: bigint): Promise<FileResult> {
    if (this.failure) return Promise.reject(this.failure)
    return new Promise((resolve) => {
      this.queue.push({job: {job: this.nextJob++, path, size, mtimeNs: mtimeNs.toString()}, resolve})
      this.queuedBytes += size
      this.dispatch()
    })
  }

  /** Resolves when the backlog is below `max` files (back-pressure for the scanner). */
  async waitBacklog(max: number): Promise<void> {
    while (this.backlog > max && !this.failure) await new Promise<void>((r) => this.drainWaiters.push(r))
    if (this.failure) throw this.failure
  }

  private dispatch(): void {
    while (this.backlog > 0) {
      if (this.o.maxPacksWaiting !== undefined && this.packsWaiting >= this.o.maxPacksWaiting) return
      let best: Slot | undefined
      for (const s of this.slots) {
        if (s.outstandingBatches >= MAX_BATCHES_PER_WORKER) continue
        if (!best || s.outstandingBytes < best.outstandingBytes) best = s
      }
      if (!best) return
      const batch: FileJob[] = []
      let bytes = 0
      while (this.backlog > 0 && batch.length < BATCH_FILES && (bytes < BATCH_BYTES || batch.length === 0)) {
        const q = this.queue[this.head++]
        batch.push(q.job)
        bytes += q.job.size
        best.pending.set(q.job.job, {resolve: q.resolve, size: q.job.size})
      }
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.head)
        this.head = 0
      }
      this.queuedBytes -= bytes
      best.outstandingBytes += bytes
      best.outstandingBatches++
      this.send(best, {t: 'files', batch})
    }
    for (const w of this.drainWaiters.splice(0)) w()
  }

  private send(slot: Slot, m: ToWorker): void {
    slot.worker.postMessage(m)
  }

  private onMessage(slot: Slot, m: FromWorker): void {
    switch (m.t) {
      case 'results': {
        slot.outstandingBatches--
        for (const r of m.results) {
          const p = slot.pending.get(r.job)
          if (!p) continue
          slot.pending.delete(r.job)
          slot.outstandingBytes -= p.size
          p.resolve(r)
        }
        this.dispatch()
        break
      }
      case 'pack': {
        // Tell the other workers, so they do not store the same blobs again.
        const ids = m.blobs.map((b) => b.id)
        for (const s of this.slots) if (s !== slot) this.send(s, {t: 'known', ids})
        this.packsWaiting++
        this.packChain = this.packChain
          .then(() => this.o.onPack(m.id, m.blobs, m.size, m.md5))
          .catch((error) => this.fail(error))
          .finally(() => {
            this.packsWaiting--
            this.dispatch()
          })
        break
      }
      case 'flushed': {
        const w = this.flushWaiters.get(m.seq)
        if (w && --w.remaining === 0) {
          this.flushWaiters.delete(m.seq)
          w.resolve()
        }
        break
      }
      case 'fatal': {
        this.fail(new LifeboatError(`backup worker failed: ${m.message}`))
        break
      }
    }
  }

  private fail(e: Error): void {
    if (this.failure) return
    this.failure = e
    for (const s of this.slots) for (const p of s.pending.values()) p.resolve({job: 0, content: null, bytes: 0, newBlobs: 0, newBytes: 0, error: e.message, errorCode: 'EWORKER'})
    for (const q of this.queue.slice(this.head)) q.resolve({job: q.job.job, content: null, bytes: 0, newBlobs: 0, newBytes: 0, error: e.message, errorCode: 'EWORKER'})
    this.queue = []
    this.head = 0
    for (const w of this.flushWaiters.values()) w.resolve()
    for (const w of this.drainWaiters.splice(0)) w()
  }

  /** Stores every open pack; resolves when all packs are stored and reported. */
  async flush(): Promise<void> {
    if (this.failure) throw this.failure
    const seq = ++this.flushSeq
    await new Promise<void>((resolve) => {
      this.flushWaiters.set(seq, {remaining: this.slots.length, resolve})
      for (const s of this.slots) this.send(s, {t: 'flush', seq})
    })
    await this.packChain
    if (this.failure) throw this.failure
  }

  async close(): Promise<void> {
    this.closed = true
    await Promise.all(this.slots.map((s) => s.worker.terminate()))
  }
}
