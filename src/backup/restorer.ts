/**
 * Restores a snapshot into a folder, the way restic 0.14 does, but pack-oriented and parallel:
 *
 * 1. Walk the snapshot's trees (level by level, trees loaded concurrently), apply include/exclude, and plan
 *    every directory, file, special node and hard link. Folders are created first (mode 0700).
 * 2. Group the data blobs of all files by pack. Each pack becomes one job for a worker thread, which reads
 *    the needed ranges of the pack once, decrypts/decompresses/hash-checks each blob and writes it to every
 *    file offset that needs it. A file whose blobs all live in one pack is created, written, chown'ed,
 *    chmod'ed and closed entirely inside its worker (sync calls: few syscalls per file); a file spread over
 *    packs is created and pre-sized (ftruncate) here first. All-zero blobs are never written, so holes
 *    stay holes. A damaged blob (MAC failure, hash mismatch, missing pack) leaves a hole and is reported
 *    with the files it affects; everything else is restored.
 * 3. Hard links (same inode and device within the snapshot, links > 1) are linked to the first copy.
 * 4. Metadata last: folders get owner, mode and xattrs bottom-up; then all times, files first and
 *    folders deepest first, so folder mtimes stick. Times are set to the nanosecond through one python3
 *    process (os.utime with ns; Node's utimes rounds to microseconds); without python3, to the microsecond.
 * 5. With `verify`, every restored file is read back and each blob's SHA-256 checked (in the workers).
 */
import {spawn} from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type {Worker} from 'node:worker_threads'

import {errorMessage, LifeboatError, UsageError} from '../errors.js'
import {LocalBackend} from './backend/local.js'
import {CRYPTO_OVERHEAD} from './crypto.js'
import {ExcludeMatcher} from './exclude.js'
import {createSpecial, parseGoTime, restoreNodeMetadata, unixPermissions, utimesSeconds} from './node.js'
import type {Repository} from './repository.js'
import {decodeTree, nodeNameBytes} from './tree.js'
import type {ColdReadOptions, ProgressListener, Snapshot, TreeNode} from './types.js'
import type {JobBlob, JobFile, PackJob, RestoreFromWorker, RestoreWorkerInit, VerifyJob} from './workers/restore-worker.js'
import {startWorker} from './workers/start.js'

export interface RestoreOptions {
  snapshot: {id: string; snapshot: Snapshot}
  target: string
  /** restic `--include` patterns: only matching items (and everything below a matching folder). */
  include?: string[]
  /** restic `--exclude` patterns. */
  exclude?: string[]
  /** Restore only this folder of the snapshot (restic's `snapshot:subfolder`); its contents land in target. */
  subPath?: string
  /** Read the restored files back and check every blob's SHA-256. */
  verify?: boolean
  /** Worker threads (default: the number of CPUs, at most 4). */
  workers?: number
  onEvent?: ProgressListener
  /** Packs in cold storage (S3 Glacier / Deep Archive): restore tier, wait or not. */
  cold?: ColdReadOptions
}

export interface RestoreProblem {
  path: string
  message: string
}

export interface RestoreResult {
  snapshotId: string
  target: string
  files: number
  dirs: number
  bytes: number
  durationMs: number
  warnings: RestoreProblem[]
  /** Damaged or unreadable data: each names the file affected and the blob and pack at fault. */
  errors: RestoreProblem[]
  verified?: {files: number; bytes: number; mismatches: string[]}
}

interface DirEntry {
  path: Buffer
  node?: TreeNode
  parent?: DirEntry
  selected: boolean
  needed: boolean
  created: boolean
}

interface FileEntry {
  path: Buffer
  node: TreeNode
  parent: DirEntry
  size: number
  /** Blob IDs with their plaintext lengths (from the index). */
  blobs?: Array<[string, number]>
  linkTo?: FileEntry
  multi: boolean
  /** Blob targets not yet written. */
  left: number
  created: boolean
  failed: boolean
}

interface SpecialEntry {
  path: Buffer
  node: TreeNode
  parent: DirEntry
  created: boolean
}

interface PlannedJob {
  packId: string
  blobs: Map<string, JobBlob>
  files: JobFile[]
  /** Main-thread file index of each job file. */
  slots: Map<number, number>
  /** Targets per job file. */
  counts: number[]
}

/** Largest gap between two needed blobs of a pack that is read through rather than skipped. */
const MAX_READ_GAP = 1 << 20
const TREE_CONCURRENCY = 16
const JOBS_PER_WORKER = 2
/** A remote repository (S3): more packs per worker in flight, so downloads overlap each other and the writing. */
const REMOTE_JOBS_PER_WORKER = 4
const VERIFY_BATCH_BYTES = 32 << 20
const VERIFY_BATCH_FILES = 256

const SLASH = Buffer.from('/')

function display(p: Buffer): string {
  return p.toString('utf8')
}

function isErrno(e: unknown, code: string): boolean {
  return typeof e === 'object' && e !== null && (e as NodeJS.ErrnoException).code === code
}


/** Runs fn over items with at most `n` at once. */
async function mapLimit<T>(items: readonly T[], n: number, fn: (t: T, i: number) => Promise<void>): Promise<void> {
  let next = 0
  const run = async () => {
    while (next < items.length) {
      const i = next++
      await fn(items[i], i)
    }
  }
  await Promise.all(Array.from({length: Math.min(n, items.length)}, run))
}

const OPEN_NEW = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC | fs.constants.O_NOFOLLOW

/** Creates (truncates) a file; an existing symlink, special file or folder of that name is replaced. */
function createFile(p: Buffer): number {
  try {
    return fs.openSync(p, OPEN_NEW, 0o600)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code !== 'ELOOP' && code !== 'ENXIO' && code !== 'EISDIR' && code !== 'ETXTBSY') throw error
    fs.rmSync(p, {recursive: true, force: true})
    return fs.openSync(p, OPEN_NEW, 0o600)
  }
}

function hasXattrs(n: TreeNode): boolean {
  return (n.extended_attributes?.length ?? 0) > 0
}

const TIMES_SCRIPT = [
  'import os, sys',
  'data = sys.stdin.buffer.read().split(b"\\0")',
  'out = sys.stdout.buffer',
  'for i in range(0, len(data) - 3, 3):',
  '    p = data[i]',
  '    try:',
  '        os.utime(p, ns=(int(data[i + 1]), int(data[i + 2])), follow_symlinks=False)',
  '    except OSError as e:',
  '        out.write(p + b"\\0" + str(e.strerror).encode() + b"\\0")',
  'out.flush()',
].join('\n')

interface TimeEntry {
  path: Buffer
  node: TreeNode
}

/**
 * Sets atime/mtime with nanoseconds through one python3 process (started early so its start-up overlaps
 * the restore). Falls back to Node's lutimes (microseconds) when python3 is not there.
 */
class TimeSetter {
  private readonly child
  private available = true
  private readonly out: Buffer[] = []
  private readonly exited: Promise<number | null>

  constructor() {
    this.child = spawn('python3', ['-c', TIMES_SCRIPT], {stdio: ['pipe', 'pipe', 'ignore']})
    this.child.on('error', () => {
      this.available = false
    })
    this.child.stdin.on('error', () => {
      this.available = false
    })
    this.child.stdout.on('data', (b: Buffer) => this.out.push(b))
    this.exited = new Promise((resolve) => {
      this.child.on('close', (code) => resolve(code))
      this.child.on('error', () => resolve(null))
    })
  }

  /** Applies the times in order; returns problems. */
  async apply(entries: TimeEntry[], warnings: RestoreProblem[]): Promise<void> {
    const parts: Buffer[] = []
    const nsOf: Array<[bigint, bigint] | undefined> = []
    for (const e of entries) {
      try {
        const a = parseGoTime(e.node.atime).epochNs
        const m = parseGoTime(e.node.mtime).epochNs
        nsOf.push([a, m])
        parts.push(e.path, Buffer.from(`\0${a}\0${m}\0`))
      } catch (error) {
        nsOf.push(undefined)
        warnings.push({path: display(e.path), message: `times not restored: ${errorMessage(error)}`})
      }
    }
    if (this.available) {
      this.child.stdin.end(Buffer.concat(parts))
      const code = await this.exited
      if (this.available && code === 0) {
        const out = Buffer.concat(this.out)
        let p = 0
        while (p < out.length) {
          const a = out.indexOf(0, p)
          const b = out.indexOf(0, a + 1)
          if (a < 0 || b < 0) break
          warnings.push({path: display(out.subarray(p, a)), message: `setting times: ${out.toString('utf8', a + 1, b)}`})
          p = b + 1
        }
        return
      }
    }
    this.available = false
    let lowered = false
    for (const [i, e] of entries.entries()) {
      const t = nsOf[i]
      if (!t) continue
      try {
        const a = parseGoTime(e.node.atime)
        const m = parseGoTime(e.node.mtime)
        fs.lutimesSync(e.path, utimesSeconds(a), utimesSeconds(m))
        if (a.ns % 1000 !== 0 || m.ns % 1000 !== 0) lowered = true
      } catch (error) {
        warnings.push({path: display(e.path), message: `setting times: ${errorMessage(error)}`})
      }
    }
    if (lowered) warnings.push({path: '', message: 'python3 is not available: times were restored to the microsecond, not the nanosecond'})
  }

  close(): void {
    if (this.available && this.child.exitCode === null) this.child.kill()
  }
}

/** Pool of restore workers: jobs go to the least-loaded worker, at most JOBS_PER_WORKER each. */
class RestorePool {
  private readonly workers: Array<{w: Worker; busy: number}> = []
  private readonly waiting = new Map<number, {resolve: (m: RestoreFromWorker) => void; slot: number}>()
  private readonly freeWaiters: Array<() => void> = []
  private failure: Error | undefined

  constructor(
    n: number,
    init: RestoreWorkerInit,
    private readonly jobsPerWorker = JOBS_PER_WORKER,
  ) {
    for (let i = 0; i < n; i++) {
      const w = startWorker('restore-worker', init)
      const slot = i
      w.on('message', (m: RestoreFromWorker) => {
        const p = this.waiting.get(m.job)
        if (!p) return
        this.waiting.delete(m.job)
        this.workers[slot].busy--
        p.resolve(m)
        this.freeWaiters.shift()?.()
      })
      w.on('error', (e) => this.fail(new LifeboatError(`restore worker crashed: ${e.message}`, {cause: e})))
      this.workers.push({w, busy: 0})
    }
  }

  private fail(e: Error): void {
    this.failure ??= e
    for (const [job, p] of this.waiting) p.resolve({t: 'fatal', job, message: e.message})
    this.waiting.clear()
    for (const f of this.freeWaiters.splice(0)) f()
  }

  /** Waits for a free slot, then posts the job; resolves with the worker's answer. */
  async run(job: PackJob | VerifyJob, transfer: ArrayBuffer[] = [], prepare?: () => Promise<void>): Promise<RestoreFromWorker> {
    for (;;) {
      if (this.failure) throw this.failure
      let best: {w: Worker; busy: number} | undefined
      let slot = -1
      for (const [i, s] of this.workers.entries()) {
        if (s.busy < this.jobsPerWorker && (!best || s.busy < best.busy)) {
          best = s
          slot = i
        }
      }
      if (best) {
        best.busy++
        const promise = new Promise<RestoreFromWorker>((resolve) => this.waiting.set(job.job, {resolve, slot}))
        try {
          if (prepare) await prepare()
        } catch (error) {
          this.waiting.delete(job.job)
          best.busy--
          this.freeWaiters.shift()?.()
          throw error
        }
        best.w.postMessage(job, transfer)
        return promise
      }
      await new Promise<void>((r) => this.freeWaiters.push(r))
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((s) => s.w.terminate()))
  }
}

/** Finds the tree of `subPath` inside the snapshot's tree. */
async function resolveSubtree(repo: Repository, treeId: string, subPath: string): Promise<string> {
  let id = treeId
  const comps = subPath.split('/').filter((c) => c !== '' && c !== '.')
  for (const [i, c] of comps.entries()) {
    const nodes = decodeTree(await repo.loadBlob('tree', id))
    const n = nodes.find((x) => x.name === c)
    const where = '/' + comps.slice(0, i + 1).join('/')
    if (!n) throw new UsageError(`${where} is not in the snapshot`, {hint: 'list the snapshot with `lifeboat backup ls` to find the path'})
    if (n.type !== 'dir' || !n.subtree) throw new UsageError(`${where} is not a folder in the snapshot`)
    id = n.subtree
  }
  return id
}

export async function restoreSnapshot(repo: Repository, o: RestoreOptions): Promise<RestoreResult> {
  const started = Date.now()
  const emit: ProgressListener = o.onEvent ?? (() => {})
  if (!o.target) throw new UsageError('no restore target given', {hint: 'pass --target <folder>'})
  const target = path.resolve(o.target)
  const include = new ExcludeMatcher(o.include ?? [])
  const exclude = new ExcludeMatcher(o.exclude ?? [])
  const warnings: RestoreProblem[] = []
  const errors: RestoreProblem[] = []
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0

  await repo.loadIndex()
  const rootTree = o.subPath ? await resolveSubtree(repo, o.snapshot.snapshot.tree, o.subPath) : o.snapshot.snapshot.tree

  // ------------------------------------------------------------------ 1. walk and plan
  emit({kind: 'start', phase: 'scan'})
  const rootDir: DirEntry = {path: Buffer.from(target), selected: false, needed: true, created: false}
  const dirs: DirEntry[] = []
  const files: FileEntry[] = []
  const specials: SpecialEntry[] = []
  const firstByInode = new Map<string, FileEntry>()
  const markNeeded = (d: DirEntry | undefined): void => {
    while (d && !d.needed) {
      d.needed = true
      d = d.parent
    }
  }

  interface Level {
    tree: string
    dir: DirEntry
    match: string
    inc: boolean
  }
  let level: Level[] = [{tree: rootTree, dir: rootDir, match: '', inc: include.empty}]
  while (level.length > 0) {
    const next: Level[] = []
    const loaded: Array<TreeNode[] | undefined> = new Array(level.length)
    await mapLimit(level, TREE_CONCURRENCY, async (l, i) => {
      try {
        loaded[i] = decodeTree(await repo.loadBlob('tree', l.tree))
      } catch (error) {
        const pack = repo.index.lookup('tree', l.tree)?.packId
        errors.push({
          path: display(l.dir.path),
          message: `tree blob ${l.tree}${pack ? ` in pack ${pack}` : ''}: ${errorMessage(error)}; the folder's contents were not restored`,
        })
      }
    })
    for (const [i, l] of level.entries()) {
      for (const node of loaded[i] ?? []) {
        const name = nodeNameBytes(node)
        if (name.length === 0 || name.includes(0x2f) || node.name === '.' || node.name === '..') {
          errors.push({path: display(l.dir.path), message: `refusing a tree entry with the invalid name ${JSON.stringify(node.name)}`})
          continue
        }
        const p = Buffer.concat([l.dir.path, SLASH, name])
        const match = l.match + '/' + node.name
        if (exclude.matches(match)) continue
        const selected = l.inc || include.matches(match)
        if (node.type === 'dir') {
          const d: DirEntry = {path: p, node, parent: l.dir, selected, needed: false, created: false}
          dirs.push(d)
          if (selected) markNeeded(d)
          if (node.subtree) next.push({tree: node.subtree, dir: d, match, inc: selected})
          continue
        }
        if (!selected) continue
        markNeeded(l.dir)
        if (node.type === 'file') {
          const f: FileEntry = {path: p, node, parent: l.dir, size: 0, multi: false, left: 0, created: false, failed: false}
          if ((node.links ?? 0) > 1 && node.inode) {
            const k = `${node.device_id ?? 0}:${node.inode}`
            const first = firstByInode.get(k)
            if (first) f.linkTo = first
            else firstByInode.set(k, f)
          }
          files.push(f)
        } else if (node.type === 'socket') {
          warnings.push({path: display(p), message: 'sockets are not restored'})
        } else {
          specials.push({path: p, node, parent: l.dir, created: false})
        }
      }
    }
    level = next
  }

  // Packs in cold storage (S3 Glacier / Deep Archive) are made readable before anything is written.
  if (repo.backend.prepareRead) {
    const packs = new Set<string>()
    for (const f of files) {
      if (f.linkTo) continue
      for (const id of f.node.content ?? []) {
        const loc = repo.index.lookup('data', id)
        if (loc) packs.add(loc.packId)
      }
    }
    if (packs.size > 0) {
      const notes = await repo.backend.prepareRead([...packs], o.cold ?? {tier: 'Standard', wait: false, argv: []})
      for (const n of notes) warnings.push({path: '', message: n})
    }
  }

  // ------------------------------------------------------------------ 2. folders and special files
  fs.mkdirSync(target, {recursive: true})
  rootDir.created = true
  for (const d of dirs) {
    if (!d.needed || !d.parent?.created) continue
    try {
      fs.mkdirSync(d.path, 0o700)
      d.created = true
    } catch (error) {
      if (isErrno(error, 'EEXIST')) {
        try {
          if (fs.lstatSync(d.path).isDirectory()) d.created = true
          else {
            fs.unlinkSync(d.path)
            fs.mkdirSync(d.path, 0o700)
            d.created = true
          }
        } catch (error2) {
          errors.push({path: display(d.path), message: `creating folder: ${errorMessage(error2)}`})
        }
      } else errors.push({path: display(d.path), message: `creating folder: ${errorMessage(error)}`})
    }
  }

  const times = new TimeSetter()
  const pool = new RestorePool(
    Math.max(1, o.workers ?? Math.min(os.availableParallelism(), 4)),
    {key: {encrypt: repo.key.encrypt, macK: repo.key.macK, macR: repo.key.macR}, chown: isRoot},
    repo.backend instanceof LocalBackend ? JOBS_PER_WORKER : REMOTE_JOBS_PER_WORKER,
  )
  try {
    const timeEntries: TimeEntry[] = []
    const metaJobs: Array<Promise<void>> = []
    const applyMeta = (p: Buffer, node: TreeNode): void => {
      metaJobs.push(
        restoreNodeMetadata(p, node, {skipTimes: true}).then(
          (r) => {
            for (const w of r.warnings) warnings.push({path: display(p), message: w})
          },
          (error: unknown) => {
            warnings.push({path: display(p), message: `restoring metadata: ${errorMessage(error)}`})
          },
        ),
      )
    }

    for (const s of specials) {
      if (!s.parent.created) continue
      try {
        try {
          await createSpecial(s.path, s.node)
        } catch (error) {
          if (!isErrno(error, 'EEXIST') && !/exists/i.test(errorMessage(error))) throw error
          fs.rmSync(s.path, {recursive: true, force: true})
          await createSpecial(s.path, s.node)
        }
        s.created = true
        applyMeta(s.path, s.node)
        timeEntries.push(s)
      } catch (error) {
        errors.push({path: display(s.path), message: `creating ${s.node.type}: ${errorMessage(error)}`})
      }
    }

    // ---------------------------------------------------------------- 3. plan the data by pack
    const jobs = new Map<string, PlannedJob>()
    let totalBytes = 0
    let totalFiles = 0
    let doneFiles = 0
    let doneBytes = 0
    const fileDone = (f: FileEntry): void => {
      doneFiles++
      if (f.failed) return
      try {
        if (f.multi) {
          if (isRoot) fs.lchownSync(f.path, f.node.uid, f.node.gid)
          fs.chmodSync(f.path, unixPermissions(f.node.mode ?? 0))
        }
      } catch (error) {
        warnings.push({path: display(f.path), message: `restoring owner and mode: ${errorMessage(error)}`})
      }
      if (hasXattrs(f.node)) applyMeta(f.path, f.node)
      timeEntries.push(f)
    }

    for (const [fileIdx, f] of files.entries()) {
      if (!f.parent.created || f.linkTo) continue
      totalFiles++
      const content = f.node.content ?? []
      const blobs: Array<[string, number]> = []
      const locs = []
      let missing: string | undefined
      for (const id of content) {
        const loc = repo.index.lookup('data', id)
        if (!loc) {
          missing = id
          break
        }
        locs.push(loc)
        blobs.push([id, loc.uncompressedLength ?? loc.length - CRYPTO_OVERHEAD])
      }
      if (missing) {
        f.failed = true
        doneFiles++
        errors.push({path: display(f.path), message: `data blob ${missing} is not in the repository index; the file was not restored`})
        continue
      }
      f.blobs = blobs
      let size = 0
      for (const b of blobs) size += b[1]
      f.size = size
      totalBytes += size
      if (content.length === 0) {
        // Empty file: create it here.
        try {
          const fd = createFile(f.path)
          try {
            if (isRoot) fs.fchownSync(fd, f.node.uid, f.node.gid)
            fs.fchmodSync(fd, unixPermissions(f.node.mode ?? 0))
          } finally {
            fs.closeSync(fd)
          }
          f.created = true
          fileDone(f)
        } catch (error) {
          f.failed = true
          doneFiles++
          errors.push({path: display(f.path), message: `creating file: ${errorMessage(error)}`})
        }
        continue
      }
      const packs = new Set(locs.map((l) => l.packId))
      f.multi = packs.size > 1
      if (f.multi) {
        try {
          const fd = createFile(f.path)
          try {
            fs.ftruncateSync(fd, size)
          } finally {
            fs.closeSync(fd)
          }
        } catch (error) {
          f.failed = true
          doneFiles++
          errors.push({path: display(f.path), message: `creating file: ${errorMessage(error)}`})
          continue
        }
      }
      f.created = true
      let off = 0
      for (const [i, loc] of locs.entries()) {
        let job = jobs.get(loc.packId)
        if (!job) {
          job = {packId: loc.packId, blobs: new Map(), files: [], slots: new Map(), counts: []}
          jobs.set(loc.packId, job)
        }
        let slot = job.slots.get(fileIdx)
        if (slot === undefined) {
          slot = job.files.length
          job.slots.set(fileIdx, slot)
          job.files.push({
            idx: fileIdx,
            path: f.path,
            size,
            single: !f.multi,
            uid: f.node.uid,
            gid: f.node.gid,
            perm: unixPermissions(f.node.mode ?? 0),
          })
          job.counts.push(0)
        }
        let jb = job.blobs.get(loc.id)
        if (!jb) {
          jb = {id: loc.id, offset: loc.offset, length: loc.length, targets: []}
          if (loc.uncompressedLength !== undefined) jb.ulen = loc.uncompressedLength
          job.blobs.set(loc.id, jb)
        }
        jb.targets.push(slot, off)
        job.counts[slot]++
        f.left++
        off += blobs[i][1]
      }
    }

    // ---------------------------------------------------------------- 4. run the pack jobs
    emit({kind: 'start', phase: 'restore', totalFiles, totalBytes})
    let lastProgress = 0
    const progress = (force = false): void => {
      const now = Date.now()
      if (!force && now - lastProgress < 200) return
      lastProgress = now
      emit({kind: 'progress', phase: 'restore', files: doneFiles, bytes: doneBytes, totalFiles, totalBytes})
    }
    const local = repo.backend instanceof LocalBackend ? repo.backend : undefined
    let jobNo = 0
    const running: Array<Promise<void>> = []
    for (const job of jobs.values()) {
      const blobs = [...job.blobs.values()].sort((a, b) => a.offset - b.offset)
      const runs: PackJob['runs'] = []
      for (const b of blobs) {
        const last = runs[runs.length - 1]
        if (last && b.offset - last.end <= MAX_READ_GAP) last.end = Math.max(last.end, b.offset + b.length)
        else runs.push({start: b.offset, end: b.offset + b.length})
      }
      const msg: PackJob = {t: 'pack', job: ++jobNo, packId: job.packId, runs, blobs, files: job.files}
      const transfer: ArrayBuffer[] = []
      let prepare: (() => Promise<void>) | undefined
      if (local) msg.packPath = local.filename({type: 'pack', name: job.packId})
      else {
        prepare = async () => {
          await Promise.all(
            runs.map(async (r) => {
              r.data = await repo.backend.load({type: 'pack', name: job.packId}, r.start, r.end - r.start)
            }),
          )
          for (const r of runs) transfer.push(r.data!.buffer as ArrayBuffer)
        }
      }
      const handle = (m: RestoreFromWorker): void => {
        if (m.t === 'fatal') throw new LifeboatError(`restore worker failed on pack ${job.packId}: ${m.message}`)
        if (m.t !== 'packDone') return
        doneBytes += m.bytes
        for (const bf of m.blobFailures) {
          for (const idx of bf.files) {
            errors.push({path: display(files[idx].path), message: `data blob ${bf.blobId} in pack ${job.packId}: ${bf.message}`})
          }
        }
        for (const ff of m.fileFailures) {
          files[ff.idx].failed = true
          errors.push({path: display(files[ff.idx].path), message: `writing: ${ff.message}`})
        }
        for (const [slot, jf] of job.files.entries()) {
          const f = files[jf.idx]
          f.left -= job.counts[slot]
          if (f.left === 0) fileDone(f)
        }
        // Free the plan of this job.
        job.blobs.clear()
        progress()
      }
      const p = pool
        .run(msg, transfer, prepare)
        .then(handle)
        .catch((error: unknown) => {
          // Backend read failed (remote backends): report the pack's files, go on.
          if (error instanceof LifeboatError && /restore worker/.test(error.message)) throw error
          for (const jf of job.files) {
            const f = files[jf.idx]
            errors.push({path: display(f.path), message: `pack ${job.packId}: ${errorMessage(error)}`})
            f.left -= job.counts[job.slots.get(jf.idx)!]
            if (f.left === 0) fileDone(f)
          }
        })
      running.push(p)
      // Keep the number of queued jobs (and their memory) bounded.
      if (running.length >= 64) await Promise.all(running.splice(0, 32))
    }
    await Promise.all(running)
    jobs.clear()

    // ---------------------------------------------------------------- 5. hard links
    for (const f of files) {
      if (!f.linkTo || !f.parent.created) continue
      totalFiles++
      doneFiles++
      if (!f.linkTo.created) {
        errors.push({path: display(f.path), message: `hard link target ${display(f.linkTo.path)} was not restored`})
        continue
      }
      try {
        try {
          fs.linkSync(f.linkTo.path, f.path)
        } catch (error) {
          if (!isErrno(error, 'EEXIST')) throw error
          fs.rmSync(f.path, {recursive: true, force: true})
          fs.linkSync(f.linkTo.path, f.path)
        }
        f.created = true
      } catch (error) {
        errors.push({path: display(f.path), message: `creating hard link: ${errorMessage(error)}`})
      }
    }
    progress(true)

    // ---------------------------------------------------------------- 6. metadata: folders bottom-up, then times
    let restoredDirs = 0
    for (let i = dirs.length - 1; i >= 0; i--) {
      const d = dirs[i]
      if (!d.created) continue
      restoredDirs++
      if (d.selected && d.node) {
        applyMeta(d.path, d.node)
      }
    }
    await Promise.all(metaJobs)
    // Files and special files first, then selected folders deepest first (dirs is in breadth-first order).
    for (let i = dirs.length - 1; i >= 0; i--) {
      const d = dirs[i]
      if (d.created && d.selected && d.node) timeEntries.push({path: d.path, node: d.node})
    }
    await times.apply(timeEntries, warnings)
    emit({kind: 'done', phase: 'restore'})

    const result: RestoreResult = {
      snapshotId: o.snapshot.id,
      target,
      files: files.filter((f) => f.created).length + specials.filter((s) => s.created).length,
      dirs: restoredDirs,
      bytes: doneBytes,
      durationMs: 0,
      warnings,
      errors,
    }

    // ---------------------------------------------------------------- 7. verify
    if (o.verify) {
      emit({kind: 'start', phase: 'verify', totalFiles, totalBytes})
      const mismatches: string[] = []
      let vFiles = 0
      let vBytes = 0
      const batches: VerifyJob[] = []
      let cur: VerifyJob | undefined
      let curBytes = 0
      for (const [idx, f] of files.entries()) {
        if (!f.created || f.linkTo || !f.blobs) continue
        if (!cur || curBytes >= VERIFY_BATCH_BYTES || cur.files.length >= VERIFY_BATCH_FILES) {
          cur = {t: 'verify', job: ++jobNo, files: []}
          batches.push(cur)
          curBytes = 0
        }
        cur.files.push({idx, path: f.path, blobs: f.blobs})
        curBytes += f.size
      }
      await Promise.all(
        batches.map(async (b) => {
          const m = await pool.run(b)
          if (m.t === 'fatal') throw new LifeboatError(`restore worker failed while verifying: ${m.message}`)
          if (m.t !== 'verified') return
          vFiles += b.files.length
          vBytes += m.bytes
          for (const mm of m.mismatches) {
            mismatches.push(display(files[mm.idx].path))
            errors.push({path: display(files[mm.idx].path), message: `verify: ${mm.message}`})
          }
          emit({kind: 'progress', phase: 'verify', files: vFiles, bytes: vBytes, totalFiles, totalBytes})
        }),
      )
      mismatches.sort()
      result.verified = {files: vFiles, bytes: vBytes, mismatches}
      emit({kind: 'done', phase: 'verify'})
    }

    for (const e of errors) emit({kind: 'warning', message: e.message, path: e.path})
    result.durationMs = Date.now() - started
    return result
  } finally {
    times.close()
    await pool.close()
  }
}
