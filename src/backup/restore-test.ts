/**
 * Restore test: restores a random sample of a snapshot's files (or everything at/under a named path) into a
 * temporary folder with the normal restorer, then verifies each restored file against the snapshot on its own
 * terms: a regular file, the recorded size, and every content blob's SHA-256 (the blob ID) over the exact byte
 * range the snapshot assigns to it. Reports time and throughput and removes the folder.
 */
import {createHash, randomBytes} from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {errorMessage, UsageError} from '../errors.js'
import {CRYPTO_OVERHEAD} from './crypto.js'
import {lockRepository} from './lock.js'
import {listNodes} from './ls.js'
import type {Repository} from './repository.js'
import {restoreSnapshot} from './restorer.js'
import type {ProgressListener, Snapshot, TreeNode} from './types.js'

export interface RestoreTestOptions {
  snapshot: {id: string; snapshot: Snapshot}
  /** How many random files (default 20). Ignored with `path`. */
  sample?: number
  /** A file or folder in the snapshot: everything at and below it is tested. */
  path?: string
  /** Makes the sample reproducible (tests, re-running a failed sample). Default: random. */
  seed?: string
  /** Parent folder of the temporary restore folder (default the OS temp folder). */
  tmpDir?: string
  /** Leave the restored files in place (for debugging). */
  keep?: boolean
  onEvent?: ProgressListener
}

export interface RestoreTestMismatch {
  path: string
  reason: string
}

export interface RestoreTestResult {
  snapshotId: string
  snapshotTime: string
  mode: 'sample' | 'path'
  seed?: string
  /** Regular files the sample was drawn from (the whole snapshot, or the named path). */
  candidates: number
  /** Files restored and verified. */
  files: number
  bytes: number
  paths: string[]
  restoreMs: number
  verifyMs: number
  durationMs: number
  /** Restore throughput: bytes / restore time. */
  bytesPerSecond: number
  ok: boolean
  mismatches: RestoreTestMismatch[]
  /** Files that could not be sampled (names that are not UTF-8 cannot be selected by a pattern). */
  skipped: number
  target: string
  cleanedUp: boolean
}

/** A small seeded PRNG (mulberry32) over a string seed. */
function prng(seed: string): () => number {
  let h = 1_779_033_703 ^ seed.length
  for (let i = 0; i < seed.length; i++) {
    h = Math.imul(h ^ seed.charCodeAt(i), 3_432_918_353)
    h = (h << 13) | (h >>> 19)
  }
  let a = h >>> 0
  return () => {
    a = (a + 0x6d_2b_79_f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

/** restic pattern for one exact absolute path: every glob character escaped. */
export function exactPattern(p: string): string {
  return '/' + p.split('/').filter(Boolean).map((c) => c.replaceAll(/[\\*?[\]]/g, (m) => '\\' + m)).join('/')
}

interface Candidate {
  path: string
  node: TreeNode
}

export async function restoreTest(repo: Repository, o: RestoreTestOptions): Promise<RestoreTestResult> {
  const started = Date.now()
  const emit = o.onEvent ?? (() => {})
  const lock = await lockRepository(repo, {exclusive: false})
  try {
    await repo.loadIndex()
    const tree = o.snapshot.snapshot.tree
    if (!tree) throw new UsageError(`snapshot ${o.snapshot.id.slice(0, 8)} has no tree`)

    // 1. What to test.
    emit({kind: 'start', phase: 'select'})
    const under = o.path === undefined ? undefined : '/' + o.path.split('/').filter(Boolean).join('/')
    let candidates: Candidate[] = []
    let skipped = 0
    let found = false
    for await (const w of listNodes(repo, tree, under)) {
      found = true
      if (w.node.type !== 'file') continue
      if (!w.pathRaw.equals(Buffer.from(w.path, 'utf8'))) {
        skipped++
        continue
      }
      candidates.push({path: w.path, node: w.node})
    }
    if (under !== undefined && !found) {
      throw new UsageError(`${under} is not in snapshot ${o.snapshot.id.slice(0, 8)}`, {hint: 'list it with `lifeboat backup ls SNAPSHOT` to find the path'})
    }
    const total = candidates.length
    const seed = o.path === undefined ? (o.seed ?? randomBytes(8).toString('hex')) : undefined
    if (seed !== undefined) {
      const n = o.sample ?? 20
      if (!Number.isInteger(n) || n < 1) throw new UsageError(`--sample ${n}: give a number of files ≥ 1`)
      // Partial Fisher–Yates: the first n of a seeded shuffle.
      const rnd = prng(seed)
      for (let i = 0; i < Math.min(n, candidates.length); i++) {
        const j = i + Math.floor(rnd() * (candidates.length - i))
        ;[candidates[i], candidates[j]] = [candidates[j], candidates[i]]
      }
      candidates = candidates.slice(0, n)
    }
    if (candidates.length === 0) {
      throw new UsageError(under ? `there are no regular files at or below ${under} in the snapshot` : `snapshot ${o.snapshot.id.slice(0, 8)} has no regular files to test`)
    }

    // 2. Restore them into a temporary folder.
    const parent = o.tmpDir ?? os.tmpdir()
    fs.mkdirSync(parent, {recursive: true})
    const target = fs.mkdtempSync(path.join(parent, 'lifeboat-restore-test-'))
    let cleanedUp = false
    try {
      const restoreStarted = Date.now()
      const restored = await restoreSnapshot(repo, {
        snapshot: o.snapshot,
        target,
        include: candidates.map((c) => exactPattern(c.path)),
        onEvent: emit,
      })
      const restoreMs = Date.now() - restoreStarted

      // 3. Verify each file against the snapshot: type, size, every blob's hash over its byte range.
      emit({kind: 'start', phase: 'verify', totalFiles: candidates.length})
      const verifyStarted = Date.now()
      const mismatches: RestoreTestMismatch[] = restored.errors.map((e) => ({path: e.path.startsWith(target) ? e.path.slice(target.length) : e.path, reason: `restore: ${e.message}`}))
      let bytes = 0
      let done = 0
      for (const c of candidates) {
        const problem = verifyFile(repo, path.join(target, c.path), c.node)
        if (problem) mismatches.push({path: c.path, reason: problem})
        bytes += c.node.size ?? 0
        done++
        emit({kind: 'progress', phase: 'verify', files: done, bytes, totalFiles: candidates.length, currentFile: c.path})
      }
      const verifyMs = Date.now() - verifyStarted
      emit({kind: 'done', phase: 'verify'})
      const seen = new Set<string>()
      const unique = mismatches.filter((m) => (seen.has(m.path + m.reason) ? false : (seen.add(m.path + m.reason), true)))
      const result: RestoreTestResult = {
        snapshotId: o.snapshot.id,
        snapshotTime: o.snapshot.snapshot.time,
        mode: under === undefined ? 'sample' : 'path',
        ...(seed === undefined ? {} : {seed}),
        candidates: total,
        files: candidates.length,
        bytes,
        paths: candidates.map((c) => c.path),
        restoreMs,
        verifyMs,
        durationMs: 0,
        bytesPerSecond: restoreMs > 0 ? Math.round((bytes * 1000) / restoreMs) : bytes,
        ok: unique.length === 0,
        mismatches: unique,
        skipped,
        target,
        cleanedUp: false,
      }
      if (!o.keep) {
        removeTree(target)
        cleanedUp = true
      }
      result.cleanedUp = cleanedUp
      result.durationMs = Date.now() - started
      return result
    } finally {
      if (!o.keep && !cleanedUp) removeTree(target)
    }
  } finally {
    await lock.release()
  }
}

/** Undefined when the restored file matches the snapshot node; otherwise what differs. */
export function verifyFile(repo: Repository, file: string, node: TreeNode): string | undefined {
  let st: fs.Stats
  try {
    st = fs.lstatSync(file)
  } catch (error) {
    return `not restored (${(error as NodeJS.ErrnoException).code ?? errorMessage(error)})`
  }
  if (!st.isFile()) return 'restored as something other than a regular file'
  const size = node.size ?? 0
  if (st.size !== size) return `size ${st.size} bytes, the snapshot says ${size}`
  let fd: number
  try {
    fd = fs.openSync(file, 'r')
  } catch (error) {
    return `cannot be read back: ${errorMessage(error)}`
  }
  try {
    let offset = 0
    let buf = Buffer.alloc(0)
    for (const [i, id] of (node.content ?? []).entries()) {
      const loc = repo.index.lookup('data', id)
      if (!loc) return `content blob ${i} (${id.slice(0, 12)}) is not in the repository index`
      const len = loc.uncompressedLength ?? loc.length - CRYPTO_OVERHEAD
      if (buf.length < len) buf = Buffer.alloc(len)
      const n = readFully(fd, buf, len, offset)
      if (n !== len) return `ends at byte ${offset + n}, inside content blob ${i}`
      const h = createHash('sha256').update(buf.subarray(0, len)).digest('hex')
      if (h !== id) return `bytes ${offset}–${offset + len - 1} do not match content blob ${i} (${id.slice(0, 12)})`
      offset += len
    }
    if (offset !== size) return `its blobs cover ${offset} bytes, the snapshot says ${size}`
    return undefined
  } finally {
    fs.closeSync(fd)
  }
}

function readFully(fd: number, buf: Buffer, len: number, position: number): number {
  let got = 0
  while (got < len) {
    const n = fs.readSync(fd, buf, got, len - got, position + got)
    if (n === 0) break
    got += n
  }
  return got
}

/** Removes the temporary tree even when the snapshot gave folders read-only modes. */
function removeTree(dir: string): void {
  const makeWritable = (d: string) => {
    try {
      fs.chmodSync(d, 0o700)
      for (const e of fs.readdirSync(d, {withFileTypes: true})) if (e.isDirectory()) makeWritable(path.join(d, e.name))
    } catch {
      // best effort: rmSync reports what is left
    }
  }
  makeWritable(dir)
  fs.rmSync(dir, {recursive: true, force: true})
}
