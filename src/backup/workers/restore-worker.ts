/**
 * Restore worker: reads the needed ranges of one pack (or gets them from the main thread), decrypts,
 * decompresses and hash-checks every blob (native.ts BlobOpener, one reused buffer), and writes each blob to every
 * file offset that needs it. Files whose blobs all sit in this pack are created, written, owned, chmod'ed and closed here
 * with sync calls (few syscalls per file); files spread over several packs were created and pre-sized by
 * the main thread and are only written here. All-zero blobs are not written (the file keeps a hole).
 */
import {createHash} from 'node:crypto'
import fs from 'node:fs'
import {parentPort, workerData} from 'node:worker_threads'

import type {MasterKey} from '../crypto.js'
import {BlobOpener} from '../native.js'

export interface RestoreWorkerInit {
  key: {encrypt: Uint8Array; macK: Uint8Array; macR: Uint8Array}
  /** chown files (only when running as root, as restic). */
  chown: boolean
}

export interface JobFile {
  /** Index in the main thread's file table. */
  idx: number
  path: Uint8Array
  size: number
  /** All of the file's blobs are in this job: create, write, set owner/mode and close it here. */
  single: boolean
  uid: number
  gid: number
  /** chmod bits (incl. setuid/setgid/sticky). */
  perm: number
}

export interface JobBlob {
  id: string
  offset: number
  length: number
  /** Plaintext length when stored compressed. */
  ulen?: number
  /** [index into job.files, file offset] pairs. */
  targets: number[]
}

export interface PackJob {
  t: 'pack'
  job: number
  packId: string
  /** Path of the pack file (local backend); otherwise every run carries its data. */
  packPath?: string
  runs: Array<{start: number; end: number; data?: Uint8Array}>
  /** Sorted by offset. */
  blobs: JobBlob[]
  files: JobFile[]
}

export interface VerifyJob {
  t: 'verify'
  job: number
  files: Array<{idx: number; path: Uint8Array; blobs: Array<[string, number]>}>
}

export interface BlobFailure {
  blobId: string
  message: string
  /** Main-thread file indexes affected. */
  files: number[]
}

export type RestoreFromWorker =
  | {t: 'packDone'; job: number; bytes: number; blobFailures: BlobFailure[]; fileFailures: Array<{idx: number; message: string}>}
  | {t: 'verified'; job: number; bytes: number; mismatches: Array<{idx: number; message: string}>}
  | {t: 'fatal'; job: number; message: string}

const init = workerData as RestoreWorkerInit
const port = parentPort!
const key: MasterKey = {encrypt: Buffer.from(init.key.encrypt), macK: Buffer.from(init.key.macK), macR: Buffer.from(init.key.macR)}

const opener = new BlobOpener(key)
let readBuf = Buffer.allocUnsafeSlow(0)
let zeros = Buffer.alloc(0)

function isAllZero(b: Buffer): boolean {
  if (b.length === 0 || b[0] !== 0 || b[b.length - 1] !== 0) return false
  if (zeros.length < b.length) zeros = Buffer.alloc(Math.max(b.length, 1 << 20))
  return b.equals(zeros.subarray(0, b.length))
}

function readFull(fd: number, buf: Buffer, off: number, len: number, pos: number): void {
  let got = 0
  while (got < len) {
    const n = fs.readSync(fd, buf, off + got, len - got, pos + got)
    if (n === 0) throw new Error(`short read: ${got} of ${len} bytes at offset ${pos}`)
    got += n
  }
}

function writeFull(fd: number, buf: Buffer, pos: number): void {
  let done = 0
  while (done < buf.length) done += fs.writeSync(fd, buf, done, buf.length - done, pos + done)
}

const OPEN_NEW = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC | fs.constants.O_NOFOLLOW
const OPEN_EXISTING = fs.constants.O_WRONLY | fs.constants.O_NOFOLLOW

/** Opens a file for writing; an existing symlink or special file of that name is replaced. */
function openForWrite(p: Buffer, create: boolean): number {
  try {
    return fs.openSync(p, create ? OPEN_NEW : OPEN_EXISTING, 0o600)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (!create || (code !== 'ELOOP' && code !== 'ENXIO' && code !== 'EISDIR' && code !== 'ETXTBSY')) throw error
    if (code === 'EISDIR') fs.rmSync(p, {recursive: true, force: true})
    else fs.unlinkSync(p)
    return fs.openSync(p, OPEN_NEW, 0o600)
  }
}

interface OpenFile {
  fd: number
  left: number
  skipped: boolean
  failed: boolean
}

function processPack(job: PackJob): RestoreFromWorker {
  const blobFailures: BlobFailure[] = []
  const fileFailures: Array<{idx: number; message: string}> = []
  const state: Array<OpenFile | undefined> = job.files.map(() => undefined)
  const left = job.files.map(() => 0)
  for (const b of job.blobs) for (let i = 0; i < b.targets.length; i += 2) left[b.targets[i]]++
  let bytes = 0

  const fail = (fi: number, message: string): void => {
    fileFailures.push({idx: job.files[fi].idx, message})
    const st = state[fi]
    if (st) st.failed = true
  }

  const finish = (fi: number, st: OpenFile): void => {
    const f = job.files[fi]
    try {
      if (f.single) {
        if (st.skipped) fs.ftruncateSync(st.fd, f.size)
        if (init.chown) fs.fchownSync(st.fd, f.uid, f.gid)
        fs.fchmodSync(st.fd, f.perm)
      }
    } catch (error) {
      fail(fi, (error as Error).message)
    } finally {
      fs.closeSync(st.fd)
    }
  }

  const fileFor = (fi: number): OpenFile | undefined => {
    let st = state[fi]
    if (st) return st.failed ? undefined : st
    const f = job.files[fi]
    try {
      const fd = openForWrite(Buffer.from(f.path.buffer, f.path.byteOffset, f.path.byteLength), f.single)
      st = {fd, left: left[fi], skipped: false, failed: false}
    } catch (error) {
      st = {fd: -1, left: left[fi], skipped: false, failed: true}
      state[fi] = st
      fail(fi, (error as Error).message)
      return undefined
    }
    state[fi] = st
    return st
  }

  const done = (fi: number): void => {
    const st = state[fi]
    if (!st) return
    if (--st.left === 0 && st.fd >= 0) finish(fi, st)
  }

  // Read the runs.
  let runBufs: Buffer[] = []
  let runError: string | undefined
  let fd = -1
  try {
    if (job.packPath !== undefined) {
      fd = fs.openSync(job.packPath, fs.constants.O_RDONLY)
      let total = 0
      for (const r of job.runs) total += r.end - r.start
      if (readBuf.length < total) readBuf = Buffer.allocUnsafeSlow(total)
      let off = 0
      for (const r of job.runs) {
        const len = r.end - r.start
        readFull(fd, readBuf, off, len, r.start)
        runBufs.push(readBuf.subarray(off, off + len))
        off += len
      }
    } else {
      runBufs = job.runs.map((r) => Buffer.from(r.data!.buffer, r.data!.byteOffset, r.data!.byteLength))
    }
  } catch (error) {
    const e = error as NodeJS.ErrnoException
    runError = e.code === 'ENOENT' ? 'pack file is missing' : e.message
  } finally {
    if (fd >= 0) fs.closeSync(fd)
  }

  let ri = 0
  for (const b of job.blobs) {
    let plain: Buffer | undefined
    let err = runError
    if (err === undefined) {
      while (job.runs[ri].end < b.offset + b.length) ri++
      const run = job.runs[ri]
      try {
        plain = opener.open(runBufs[ri].subarray(b.offset - run.start, b.offset - run.start + b.length), b.id, b.ulen)
      } catch (error) {
        err = (error as Error).message
      }
    }
    if (plain === undefined) {
      const files = new Set<number>()
      for (let i = 0; i < b.targets.length; i += 2) files.add(job.files[b.targets[i]].idx)
      blobFailures.push({blobId: b.id, message: err ?? 'unreadable', files: [...files]})
      for (let i = 0; i < b.targets.length; i += 2) {
        // A damaged blob leaves a hole; the rest of the file is still restored.
        const st = fileFor(b.targets[i])
        if (st) st.skipped = true
        done(b.targets[i])
      }
      continue
    }
    const zero = isAllZero(plain)
    for (let i = 0; i < b.targets.length; i += 2) {
      const fi = b.targets[i]
      const st = fileFor(fi)
      if (st) {
        if (zero) st.skipped = true
        else {
          try {
            writeFull(st.fd, plain, b.targets[i + 1])
          } catch (error) {
            fail(fi, (error as Error).message)
          }
        }
        bytes += plain.length
      }
      done(fi)
    }
  }
  // Files whose every blob failed to be opened or written are closed already; close any left open (defensive).
  for (let fi = 0; fi < state.length; fi++) {
    const st = state[fi]
    if (st && st.left > 0 && st.fd >= 0) {
      st.left = 0
      finish(fi, st)
    }
  }
  return {t: 'packDone', job: job.job, bytes, blobFailures, fileFailures}
}

function openForVerify(p: Buffer): number {
  try {
    return fs.openSync(p, fs.constants.O_RDONLY | fs.constants.O_NOATIME | fs.constants.O_NOFOLLOW)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EPERM') return fs.openSync(p, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW)
    throw error
  }
}

function processVerify(job: VerifyJob): RestoreFromWorker {
  const mismatches: Array<{idx: number; message: string}> = []
  let bytes = 0
  for (const f of job.files) {
    let fd = -1
    try {
      fd = openForVerify(Buffer.from(f.path.buffer, f.path.byteOffset, f.path.byteLength))
      let pos = 0
      const bad: string[] = []
      for (const [id, len] of f.blobs) {
        if (readBuf.length < len) readBuf = Buffer.allocUnsafeSlow(Math.max(len, 8 << 20))
        readFull(fd, readBuf, 0, len, pos)
        if (createHash('sha256').update(readBuf.subarray(0, len)).digest('hex') !== id) bad.push(`blob ${id} at offset ${pos}`)
        pos += len
        bytes += len
      }
      const size = fs.fstatSync(fd).size
      if (size !== pos) bad.push(`size is ${size}, expected ${pos}`)
      if (bad.length > 0) mismatches.push({idx: f.idx, message: `content differs: ${bad.join(', ')}`})
    } catch (error) {
      mismatches.push({idx: f.idx, message: (error as Error).message})
    } finally {
      if (fd >= 0) fs.closeSync(fd)
    }
  }
  return {t: 'verified', job: job.job, bytes, mismatches}
}

port.on('message', (m: PackJob | VerifyJob) => {
  try {
    const r = m.t === 'pack' ? processPack(m) : processVerify(m)
    port.postMessage(r)
  } catch (error) {
    port.postMessage({t: 'fatal', job: m.job, message: (error as Error).stack ?? String(error)} satisfies RestoreFromWorker)
  }
})
