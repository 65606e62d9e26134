/**
 * `check`: is the repository whole, and which snapshot files suffer where it is not?
 *
 * Structure (always), as restic's checker: every index file loads; every pack an index names exists and has
 * the size the index implies (blobs + encrypted header + 4); every snapshot loads; every tree reachable from
 * a snapshot loads and decodes; every blob a tree references (file content, subtree) is in the index. Packs
 * in the backend that no index names are reported as unreferenced, which is not an error (restic calls them
 * non-critical: an interrupted backup leaves them, prune removes them).
 *
 * Data (`readData`, or a subset of the packs): each selected pack is read whole in worker threads; its
 * SHA-256 must equal its name, every blob the index places in it must decrypt, decompress and hash to its
 * ID, and its header must parse and agree with the index. Memory stays bounded: each worker holds one pack
 * (plus one queued), whatever the repository's size.
 *
 * Damage is mapped back to what a user cares about: the files and folders of each snapshot whose data
 * depends on a blob that is missing or damaged (and not intact in another pack).
 */
import {randomInt} from 'node:crypto'
import os from 'node:os'
import {Worker} from 'node:worker_threads'

import {LifeboatError, UsageError, errorMessage} from '../errors.js'
import {LocalBackend} from './backend/local.js'
import {CRYPTO_OVERHEAD} from './crypto.js'
import type {IndexJSON} from './index.js'
import {lockRepository, type RepositoryLock} from './lock.js'
import {HEADER_LENGTH_SIZE} from './pack.js'
import type {Repository} from './repository.js'
import {decodeTree} from './tree.js'
import type {BlobType, ColdReadOptions, IndexPackEntry, ProgressListener, TreeNode} from './types.js'
import type {CheckJob, CheckJobResult, CheckWorkerInit} from './workers/check-worker.js'

/** Packs downloading or queued per check worker when the repository is remote (S3). */
const REMOTE_JOBS_PER_WORKER = 3

export interface CheckOptions {
  /** Read every pack whole and verify every blob. */
  readData?: boolean
  /** Read only some packs: "n/t" (group n of t, by the first byte of the pack ID, as restic) or "x%" (random). */
  readDataSubset?: string
  /** Worker threads for reading data (default: all cores). */
  workers?: number
  onEvent?: ProgressListener
  /** Do not take the (non-exclusive) repository lock. */
  noLock?: boolean
  /** Packs in cold storage (S3 Glacier / Deep Archive): restore tier, wait or not. */
  cold?: ColdReadOptions
}

export type CheckErrorKind = 'pack' | 'index' | 'tree' | 'snapshot' | 'blob'

export interface CheckError {
  kind: CheckErrorKind
  id?: string
  message: string
}

export interface AffectedPath {
  snapshot: string
  /** Absolute path inside the snapshot ("/" for its root). */
  path: string
  /** The damaged pack that held the lost data; absent when the blob is in no index at all. */
  pack?: string
}

export interface CheckStats {
  /** Packs named by the index. */
  packs: number
  snapshots: number
  /** Distinct trees checked. */
  trees: number
  /** Data blobs in the index. */
  dataBlobs: number
  packsRead: number
  bytesRead: number
  durationMs: number
}

export interface CheckResult {
  ok: boolean
  errors: CheckError[]
  damagedPacks: string[]
  affected: AffectedPath[]
  /** Packs in no index: not an error. */
  unreferencedPacks: string[]
  stats: CheckStats
}

const ENTRY_PLAIN = 1 + 4 + 32
const ENTRY_COMPRESSED = 1 + 4 + 4 + 32
const TREE_CONCURRENCY = 16
const MAX_SUBSET_GROUPS = 256

/** File size a pack must have, from its index entries (restic: blobs + header entries + crypto + 4). */
export function expectedPackSize(blobs: Iterable<{length: number; uncompressedLength?: number}>): number {
  let size = CRYPTO_OVERHEAD + HEADER_LENGTH_SIZE
  for (const b of blobs) size += b.length + (b.uncompressedLength === undefined ? ENTRY_PLAIN : ENTRY_COMPRESSED)
  return size
}

/**
 * Which packs a --read-data-subset reads: "n/t" picks the packs whose ID's first byte is n−1 modulo t (so
 * 1/t … t/t together cover every pack, as restic), "x%" a random x percent (at least one).
 */
export function selectSubset(packIds: readonly string[], spec: string): Set<string> {
  const s = spec.trim()
  const groups = /^(\d+)\/(\d+)$/.exec(s)
  if (groups) {
    const n = Number(groups[1])
    const t = Number(groups[2])
    if (n < 1 || t < 1 || n > t) throw new UsageError(`invalid --read-data-subset ${JSON.stringify(spec)}: n/t needs 1 ≤ n ≤ t, e.g. 1/5`)
    if (t > MAX_SUBSET_GROUPS) throw new UsageError(`invalid --read-data-subset ${JSON.stringify(spec)}: t must be at most ${MAX_SUBSET_GROUPS}`)
    return new Set(packIds.filter((id) => parseInt(id.slice(0, 2), 16) % t === n - 1))
  }
  const pct = /^(\d+(?:\.\d*)?|\.\d+)%$/.exec(s)
  if (pct) {
    const p = Number(pct[1])
    if (!(p > 0 && p <= 100)) throw new UsageError(`invalid --read-data-subset ${JSON.stringify(spec)}: the percentage must be above 0 and at most 100`)
    let count = Math.round((packIds.length * p) / 100)
    if (count === 0 && packIds.length > 0) count = 1
    const ids = [...packIds]
    for (let i = 0; i < count; i++) {
      const j = i + randomInt(ids.length - i)
      ;[ids[i], ids[j]] = [ids[j], ids[i]]
    }
    return new Set(ids.slice(0, count))
  }
  throw new UsageError(`invalid --read-data-subset ${JSON.stringify(spec)}: expected n/t (e.g. 2/5) or a percentage (e.g. 10%)`, {
    hint: 'use --read-data-subset=n/t to read group n of t, or --read-data-subset=x% for a random sample',
  })
}

/** The fields of a tree node the structure check needs. */
interface CheckNode {
  name: string
  type: string
  content?: string[] | null
  subtree?: string
}

const NODE_TYPES = new Set(['file', 'dir', 'symlink', 'dev', 'chardev', 'fifo', 'socket', 'irregular'])

/**
 * Parses a tree blob for the structure check: the same validation as tree.ts `decodeTree` of what a check
 * relies on (a JSON object with a "nodes" array; each node an object with a string name and a known type;
 * content a list of strings; subtree a string), but with the native JSON parser, as every tree of every
 * snapshot passes through here. Names stay Go-quoted: they only appear in messages.
 */
export function parseTreeForCheck(buf: Buffer): CheckNode[] {
  const root: unknown = JSON.parse(buf.toString('utf8'))
  if (root === null || typeof root !== 'object' || Array.isArray(root)) throw new Error('tree JSON is not an object')
  const list = (root as {nodes?: unknown}).nodes
  if (list === null || list === undefined) return []
  if (!Array.isArray(list)) throw new Error('tree JSON: "nodes" is not an array')
  for (let i = 0; i < list.length; i++) {
    const n = list[i] as Partial<CheckNode> | null
    if (n === null || typeof n !== 'object' || Array.isArray(n)) throw new Error(`tree JSON: node ${i} is not an object`)
    if (typeof n.name !== 'string' || typeof n.type !== 'string' || !NODE_TYPES.has(n.type)) {
      throw new Error(`tree JSON: node ${i} lacks a name or has an unknown type`)
    }
    if (n.content !== undefined && n.content !== null) {
      if (!Array.isArray(n.content) || n.content.some((c) => typeof c !== 'string')) throw new Error(`tree JSON: node ${i} has a malformed content list`)
    }
    if (n.subtree !== undefined && n.subtree !== null && typeof n.subtree !== 'string') throw new Error(`tree JSON: node ${i} has a malformed subtree`)
  }
  return list as CheckNode[]
}

/** Runs fn over items with at most `n` at once. */
async function eachLimit<T>(items: Iterable<T>, n: number, fn: (t: T) => Promise<void>): Promise<void> {
  const it = items[Symbol.iterator]()
  const worker = async () => {
    for (let r = it.next(); !r.done; r = it.next()) await fn(r.value)
  }
  await Promise.all(Array.from({length: n}, worker))
}

const blobKey = (type: BlobType, id: string): string => (type === 'data' ? 'd' : 't') + id

function joinPath(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`
}

/**
 * A small young generation: a worker makes many short-lived small objects (one per blob and per decrypt
 * step); left at the default, their nursery alone costs tens of MB of RSS per worker for no speed.
 */
const WORKER_LIMITS = {maxYoungGenerationSizeMb: 8}

/**
 * Starts a check worker: the .js file when built; under tsx (tests) the .ts file, through a small bootstrap
 * that registers tsx in the worker (Node 20 does not carry loader hooks into worker threads).
 */
function startCheckWorker(init: CheckWorkerInit): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./workers/check-worker.js', import.meta.url), {workerData: init, resourceLimits: WORKER_LIMITS})
  const url = new URL('./workers/check-worker.ts', import.meta.url).href
  const boot = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(url)}) })`
  return new Worker(boot, {eval: true, workerData: init, resourceLimits: WORKER_LIMITS})
}

export async function checkRepository(repo: Repository, o: CheckOptions = {}): Promise<CheckResult> {
  const started = Date.now()
  const emit: ProgressListener = o.onEvent ?? (() => {})
  // Parse the subset first: a usage error should not wait for the lock.
  const subsetSpec = o.readDataSubset?.trim() ? o.readDataSubset : undefined
  if (subsetSpec) selectSubset([], subsetSpec)

  const earlyWorkerErrors = new Map<Worker, Error>()
  // Worker threads start (load their modules) while the lock is taken: that takes a 200 ms pause anyway.
  const workers: Worker[] = []
  if (o.readData || subsetSpec) {
    const key = repo.key
    const init: CheckWorkerInit = {key: {encrypt: key.encrypt, macK: key.macK, macR: key.macR}}
    const n = Math.max(1, o.workers ?? os.availableParallelism())
    for (let i = 0; i < n; i++) {
      const w = startCheckWorker(init)
      // Until the read starts, a failing worker is only noted (an 'error' event without a listener would throw).
      w.on('error', (e) => earlyWorkerErrors.set(w, e))
      workers.push(w)
    }
  }
  let lock: RepositoryLock | undefined
  try {
    if (!o.noLock) lock = await lockRepository(repo, {exclusive: false})
    return await new Checker(repo, o, emit, subsetSpec, workers, earlyWorkerErrors).run(started)
  } finally {
    await Promise.all(workers.map((w) => w.terminate()))
    await lock?.release()
  }
}

class Checker {
  private readonly errors: CheckError[] = []
  private readonly damagedPacks = new Map<string, string>() // pack → first reason
  /** Blobs known to be lost: key (type+id) → pack that held them (undefined: in no index). */
  private readonly lost = new Map<string, string | undefined>()
  /** Trees that failed to load (key → pack or undefined). */
  private readonly badTrees = new Map<string, string | undefined>()
  /** Per damaged pack: the blobs found bad by reading it (absent: all blobs of the pack count as lost). */
  private readonly badBlobsOfPack = new Map<string, Set<string>>()
  private readonly reportedMissing = new Set<string>()
  /** Trees reached from snapshots (those not in badTrees loaded and decoded fine). */
  private readonly treesSeen = new Set<string>()
  /** Pack files in the backend and their sizes. */
  private packFiles = new Map<string, number>()
  private snapshots: Array<{id: string; tree: string}> = []
  private treesChecked = 0
  private packsRead = 0
  private bytesRead = 0

  constructor(
    private readonly repo: Repository,
    private readonly o: CheckOptions,
    private readonly emit: ProgressListener,
    private readonly subsetSpec: string | undefined,
    private readonly pool: Worker[],
    private readonly poolErrors: Map<Worker, Error>,
  ) {}

  async run(started: number): Promise<CheckResult> {
    await this.loadIndex()
    const {packSizes, unreferenced} = await this.checkPacks()
    // Packs are read in worker threads while this thread walks snapshots and trees.
    const reading = this.o.readData || this.subsetSpec ? this.readData(packSizes) : Promise.resolve()
    const structure = (async () => {
      await this.loadSnapshots()
      await this.checkTrees()
    })()
    const settled = await Promise.allSettled([reading, structure])
    for (const r of settled) if (r.status === 'rejected') throw r.reason
    const affected = await this.findAffected()
    return {
      ok: this.errors.length === 0,
      errors: this.errors,
      damagedPacks: [...this.damagedPacks.keys()].sort(),
      affected,
      unreferencedPacks: unreferenced.sort(),
      stats: {
        packs: this.repo.index.packCount,
        snapshots: this.snapshots.length,
        trees: this.treesChecked,
        dataBlobs: this.repo.index.count('data'),
        packsRead: this.packsRead,
        bytesRead: this.bytesRead,
        durationMs: Date.now() - started,
      },
    }
  }

  private damage(pack: string, message: string): void {
    this.errors.push({kind: 'pack', id: pack, message: `pack ${pack}: ${message}`})
    if (!this.damagedPacks.has(pack)) this.damagedPacks.set(pack, message)
  }

  // ------------------------------------------------------------------ index and packs

  private async loadIndex(): Promise<void> {
    this.emit({kind: 'start', phase: 'load-index'})
    const files = await this.repo.backend.list('index')
    await eachLimit(files, 8, async (f) => {
      if (this.repo.index.loadedFiles.has(f.name)) return
      try {
        const j = await this.repo.loadUnpacked<IndexJSON>('index', f.name)
        this.repo.index.addIndexJSON(j, f.name)
      } catch (error) {
        this.errors.push({kind: 'index', id: f.name, message: `index ${f.name}: ${errorMessage(error)}`})
      }
    })
    this.emit({kind: 'done', phase: 'load-index'})
  }

  /** Every indexed pack exists with the size the index implies; packs in no index are listed. */
  private async checkPacks(): Promise<{packSizes: Map<string, number>; unreferenced: string[]}> {
    this.emit({kind: 'start', phase: 'check-packs'})
    const inBackend = this.packFiles
    for (const f of await this.repo.backend.list('pack')) inBackend.set(f.name, f.size)
    const packSizes = new Map<string, number>()
    for (const p of this.repo.index.packs()) {
      const want = expectedPackSize(p.blobs)
      packSizes.set(p.id, want)
      const have = inBackend.get(p.id)
      if (have === undefined) this.damage(p.id, 'does not exist')
      else if (have !== want) this.damage(p.id, `file size ${have} does not match the index (expected ${want} bytes)`)
    }
    const unreferenced = [...inBackend.keys()].filter((id) => !this.repo.index.hasPack(id))
    for (const id of unreferenced) this.emit({kind: 'info', message: `pack ${id} is not referenced by any index (non-critical)`})
    this.emit({kind: 'done', phase: 'check-packs'})
    return {packSizes, unreferenced}
  }

  // ------------------------------------------------------------------ snapshots and trees

  private async loadSnapshots(): Promise<void> {
    this.emit({kind: 'start', phase: 'check-snapshots'})
    const files = await this.repo.backend.list('snapshot')
    const out: Array<{id: string; tree: string}> = []
    await eachLimit(files, 8, async (f) => {
      try {
        const sn = await this.repo.loadSnapshot(f.name)
        if (typeof sn?.tree !== 'string' || !/^[0-9a-f]{64}$/.test(sn.tree)) throw new Error('it has no valid "tree"')
        out.push({id: f.name, tree: sn.tree})
      } catch (error) {
        this.errors.push({kind: 'snapshot', id: f.name, message: `snapshot ${f.name}: ${errorMessage(error)}`})
      }
    })
    this.snapshots = out.sort((a, b) => (a.id < b.id ? -1 : 1))
    this.emit({kind: 'done', phase: 'check-snapshots'})
  }

  private async loadTree(id: string): Promise<TreeNode[]> {
    return decodeTree(await this.loadTreeBlob(id))
  }

  /** A tree blob's plaintext (the repository reads tree packs whole and caches them). */
  private async loadTreeBlob(id: string): Promise<Buffer> {
    return this.repo.loadBlob('tree', id)
  }


  /** A referenced blob missing from the index: one error per blob. */
  private missing(type: BlobType, id: string, where: string): void {
    const k = blobKey(type, id)
    this.lost.set(k, undefined)
    if (this.reportedMissing.has(k)) return
    this.reportedMissing.add(k)
    this.errors.push({kind: 'blob', id, message: `${where}: ${type} blob ${id} not found in index`})
  }

  private hasBlob(type: BlobType, id: string): boolean {
    try {
      return this.repo.index.has(type, id)
    } catch {
      return false // not a valid blob ID
    }
  }

  /** Loads every tree reachable from a snapshot once; checks what each node references. */
  private async checkTrees(): Promise<void> {
    this.emit({kind: 'start', phase: 'check-trees'})
    const seen = this.treesSeen
    const queue: string[] = []
    const push = (id: string, where: string): void => {
      if (seen.has(id)) return
      seen.add(id)
      if (!this.hasBlob('tree', id)) {
        this.missing('tree', id, where)
        this.badTrees.set(id, undefined)
        return
      }
      queue.push(id)
    }
    for (const s of this.snapshots) push(s.tree, `snapshot ${s.id}`)

    let active = 0
    await new Promise<void>((resolve) => {
      const pump = (): void => {
        while (active < TREE_CONCURRENCY && queue.length > 0) {
          const id = queue.pop()!
          active++
          this.checkTree(id, push).finally(() => {
            active--
            this.treesChecked++
            if (this.treesChecked % 256 === 0) this.emit({kind: 'progress', phase: 'check-trees', files: this.treesChecked, bytes: 0})
            pump()
          })
        }
        if (active === 0 && queue.length === 0) resolve()
      }
      pump()
    })
    this.emit({kind: 'done', phase: 'check-trees'})
  }

  private async checkTree(id: string, push: (id: string, where: string) => void): Promise<void> {
    let nodes: CheckNode[]
    try {
      nodes = parseTreeForCheck(await this.loadTreeBlob(id))
    } catch (error) {
      const pack = this.repo.index.lookup('tree', id)?.packId
      this.badTrees.set(id, pack)
      this.lost.set(blobKey('tree', id), pack)
      this.errors.push({kind: 'tree', id, message: `tree ${id}: ${errorMessage(error)}${pack ? ` (in pack ${pack})` : ''}`})
      return
    }
    for (const n of nodes) {
      if (n.type === 'file') {
        if (!Array.isArray(n.content)) {
          this.errors.push({kind: 'tree', id, message: `tree ${id}: file ${JSON.stringify(n.name)} has no content list`})
          continue
        }
        for (const b of n.content) if (!this.hasBlob('data', b)) this.missing('data', b, `tree ${id}: file ${JSON.stringify(n.name)}`)
      } else if (n.type === 'dir') {
        if (!n.subtree) this.errors.push({kind: 'tree', id, message: `tree ${id}: folder ${JSON.stringify(n.name)} has no subtree`})
        else push(n.subtree, `tree ${id}: folder ${JSON.stringify(n.name)}`)
      }
    }
  }

  // ------------------------------------------------------------------ data

  private async readData(packSizes: Map<string, number>): Promise<void> {
    // Missing packs are reported already; every other indexed pack can be read.
    const candidates = [...packSizes.keys()].filter((id) => this.damagedPacks.get(id) !== 'does not exist')
    const selected = this.subsetSpec ? selectSubset(candidates, this.subsetSpec) : new Set(candidates)
    let totalBytes = 0
    for (const id of selected) totalBytes += packSizes.get(id) ?? 0
    if (this.repo.backend.prepareRead && selected.size > 0) {
      await this.repo.backend.prepareRead([...selected], this.o.cold ?? {tier: 'Standard', wait: false, argv: []})
    }
    this.emit({kind: 'start', phase: 'read-data', totalFiles: selected.size, totalBytes})
    if (selected.size === 0) {
      this.emit({kind: 'done', phase: 'read-data'})
      return
    }

    const n = Math.min(this.pool.length, selected.size)
    const backend = this.repo.backend
    const local = backend instanceof LocalBackend ? backend : undefined
    const jobs = this.repo.index.packs(selected)
    const workers = this.pool
    let seq = 0
    let failure: Error | undefined

    try {
      await new Promise<void>((resolve, reject) => {
        let outstanding = 0
        let exhausted = false
        const fail = (e: Error): void => {
          if (failure) return
          failure = e
          reject(e)
        }
        const done = (): void => {
          if (exhausted && outstanding === 0) resolve()
        }
        const feed = async (w: Worker): Promise<void> => {
          if (failure || exhausted) return done()
          const r = jobs.next()
          if (r.done) {
            exhausted = true
            return done()
          }
          const p: IndexPackEntry = r.value
          const job: CheckJob = {t: 'pack', seq: seq++, id: p.id, blobs: p.blobs}
          outstanding++
          if (local) {
            job.path = local.filename({type: 'pack', name: p.id})
            w.postMessage(job)
            return
          }
          try {
            const buf = await backend.load({type: 'pack', name: p.id})
            const ab =
              buf.byteOffset === 0 && buf.byteLength === buf.buffer.byteLength && buf.buffer instanceof ArrayBuffer
                ? buf.buffer
                : buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength)
            job.data = ab as ArrayBuffer
            w.postMessage(job, [job.data])
          } catch (error) {
            outstanding--
            this.onPackResult({t: 'result', seq: job.seq, id: p.id, bytesRead: 0, errors: [`cannot read the pack: ${errorMessage(error)}`], badBlobs: [], unreadable: true}, totalBytes, selected.size)
            await feed(w)
          }
        }
        for (let i = 0; i < n; i++) {
          const w = workers[i]
          const early = this.poolErrors.get(w)
          if (early) return fail(new LifeboatError(`check worker crashed: ${early.message}`, {cause: early}))
          w.on('message', (m: CheckJobResult) => {
            outstanding--
            this.onPackResult(m, totalBytes, selected.size)
            feed(w).catch((error: unknown) => fail(error as Error))
          })
          w.on('error', (e) => fail(new LifeboatError(`check worker crashed: ${e.message}`, {cause: e})))
          w.on('exit', (code) => {
            if (code !== 0 && !failure && !(exhausted && outstanding === 0)) fail(new LifeboatError(`check worker exited with code ${code}`))
          })
          // Two jobs per worker: the next pack is queued while the current one is checked. A remote
          // repository gets more, started together, so downloads overlap each other and the checking.
          if (local) {
            feed(w)
              .then(() => feed(w))
              .catch((error: unknown) => fail(error as Error))
          } else {
            for (let k = 0; k < REMOTE_JOBS_PER_WORKER; k++) feed(w).catch((error: unknown) => fail(error as Error))
          }
        }
      })
    } finally {
      for (const w of workers) w.removeAllListeners('message')
    }
    this.emit({kind: 'done', phase: 'read-data'})
  }

  private onPackResult(m: CheckJobResult, totalBytes: number, totalPacks: number): void {
    this.packsRead++
    this.bytesRead += m.bytesRead
    if (m.errors.length > 0) {
      for (const e of m.errors) this.damage(m.id, e)
      if (!m.unreadable) this.badBlobsOfPack.set(m.id, new Set(m.badBlobs))
    }
    this.emit({kind: 'progress', phase: 'read-data', files: this.packsRead, bytes: this.bytesRead, totalFiles: totalPacks, totalBytes})
  }

  // ------------------------------------------------------------------ affected files

  /** The blobs each damaged pack loses: those found bad when read, else all it holds by the index. */
  private collectLost(): void {
    if (this.damagedPacks.size === 0) return
    const damaged = new Set(this.damagedPacks.keys())
    for (const p of this.repo.index.packs(damaged)) {
      const bad = this.badBlobsOfPack.get(p.id)
      for (const b of p.blobs) {
        if (bad && !bad.has(b.id)) continue
        // A tree that loaded and verified during the structure check is intact, whatever its pack's state.
        if (b.type === 'tree' && this.treesSeen.has(b.id) && !this.badTrees.has(b.id)) continue
        // Intact elsewhere? Then nothing is lost.
        const elsewhere = this.repo.index.lookupAll(b.type, b.id).some((l) => !damaged.has(l.packId) || (this.badBlobsOfPack.has(l.packId) && !this.badBlobsOfPack.get(l.packId)!.has(b.id)))
        if (!elsewhere && !this.lost.has(blobKey(b.type, b.id))) this.lost.set(blobKey(b.type, b.id), p.id)
      }
    }
  }

  private async findAffected(): Promise<AffectedPath[]> {
    this.collectLost()
    if (this.lost.size === 0 && this.badTrees.size === 0) return []
    this.emit({kind: 'start', phase: 'find-affected'})
    const memo = new Map<string, Promise<boolean>>()
    const trees = new Map<string, TreeNode[]>()
    const treeLost = (id: string): boolean => this.badTrees.has(id) || this.lost.has(blobKey('tree', id))

    const affectedTree = (id: string): Promise<boolean> => {
      let p = memo.get(id)
      if (!p) {
        p = (async () => {
          if (treeLost(id)) return true
          let nodes: TreeNode[]
          try {
            nodes = await this.loadTree(id)
          } catch {
            return true
          }
          let hit = false
          for (const n of nodes) {
            if (n.type === 'file' && n.content?.some((b) => this.lost.has(blobKey('data', b)))) hit = true
            else if (n.type === 'dir' && n.subtree && (await affectedTree(n.subtree))) hit = true
          }
          if (hit) trees.set(id, nodes)
          return hit
        })()
        memo.set(id, p)
      }
      return p
    }

    const out: AffectedPath[] = []
    const seen = new Set<string>()
    const add = (snapshot: string, path: string, pack: string | undefined): void => {
      const k = `${snapshot}\0${path}\0${pack ?? ''}`
      if (seen.has(k)) return
      seen.add(k)
      out.push(pack === undefined ? {snapshot, path} : {snapshot, path, pack})
    }
    const treePack = (id: string): string | undefined => this.badTrees.get(id) ?? this.lost.get(blobKey('tree', id))
    const walk = async (snapshot: string, id: string, dir: string): Promise<void> => {
      if (!(await affectedTree(id))) return
      const nodes = trees.get(id)
      if (!nodes) {
        add(snapshot, dir, treePack(id))
        return
      }
      for (const n of nodes) {
        const path = joinPath(dir, n.name)
        if (n.type === 'file' && n.content) {
          for (const b of n.content) {
            const k = blobKey('data', b)
            if (this.lost.has(k)) add(snapshot, path, this.lost.get(k))
          }
        } else if (n.type === 'dir' && n.subtree) {
          await walk(snapshot, n.subtree, path)
        }
      }
    }
    for (const s of this.snapshots) await walk(s.id, s.tree, '/')
    this.emit({kind: 'done', phase: 'find-affected'})
    return out.sort((a, b) => (a.snapshot < b.snapshot ? -1 : a.snapshot > b.snapshot ? 1 : a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
  }
}
