/**
 * The backup pipeline: scan → (unchanged? reuse the parent's blobs) → blob workers (chunk, hash, dedup,
 * compress, encrypt, pack, store) → trees bottom-up → index → snapshot.
 *
 * Scanning runs on the main thread with synchronous fs calls (cheapest per file) and yields to the event
 * loop between directories; file contents never pass through the main thread.
 */
import fs, {type BigIntStats} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {errorMessage, LifeboatError, UsageError} from '../errors.js'
import type {ProgressListener} from '../progress.js'
import {LocalBackend} from './backend/local.js'
import {ExcludeMatcher} from './exclude.js'
import {lockRepository} from './lock.js'
import {formatGoTime as formatNs, goFileMode, nodeFromStat} from './node.js'
import type {Repository} from './repository.js'
import {makeStagingFolder, PackUploader} from './staging.js'
import {decodeTree, encodeTree} from './tree.js'
import type {Backend, PackedBlob, Snapshot, SnapshotSummary, TreeNode} from './types.js'
import {formatGoTime} from './unpacked.js'
import {lstatMany, lstatManyAsync, type StatLike} from './native.js'
import {BlobPool} from './workers/pool.js'
import type {FileResult} from './workers/protocol.js'

export const PROGRAM_VERSION = 'lifeboat 0.1.0'

/** Files scanned but not yet stored that the scanner lets pile up before it waits (bounds memory). */
const MAX_INFLIGHT_FILES = 4096
/** Entries of a folder lstat'ed at once. */
const STAT_BATCH = 256

export interface BackupOptions {
  paths: string[]
  tags?: string[]
  host?: string
  excludes?: string[]
  oneFileSystem?: boolean
  /** Parent snapshot ID; undefined: the latest snapshot with the same host and paths; null: none. */
  parent?: string | null
  dryRun?: boolean
  workers?: number
  onEvent?: ProgressListener
  /** Time of the snapshot (default: now). */
  time?: Date
  /** Remote repositories: where packs are staged before upload (default the OS temp folder) and how many upload at once. */
  stagingDir?: string
  uploadConnections?: number
}

export interface BackupWarning {
  path: string
  message: string
}

export interface BackupResult {
  snapshotId?: string
  snapshot?: Snapshot
  parent?: string
  summary: SnapshotSummary
  warnings: BackupWarning[]
  dryRun: boolean
}

interface Counters {
  filesNew: number
  filesChanged: number
  filesUnmodified: number
  dirsNew: number
  dirsChanged: number
  dirsUnmodified: number
  dataBlobs: number
  treeBlobs: number
  dataAdded: number
  dataAddedPacked: number
  files: number
  bytes: number
  filesDone: number
  bytesDone: number
}

const SEP = Buffer.from('/')

function nameKey(n: TreeNode): Buffer {
  return n.nameRaw ?? Buffer.from(n.name, 'utf8')
}

/** A parent tree loaded for comparison: name → node, and the tree's own ID. */
type ParentDir = Map<string, TreeNode> & {treeId?: string}

export class Archiver {
  private readonly c: Counters = {
    filesNew: 0,
    filesChanged: 0,
    filesUnmodified: 0,
    dirsNew: 0,
    dirsChanged: 0,
    dirsUnmodified: 0,
    dataBlobs: 0,
    treeBlobs: 0,
    dataAdded: 0,
    dataAddedPacked: 0,
    files: 0,
    bytes: 0,
    filesDone: 0,
    bytesDone: 0,
  }
  private readonly warnings: BackupWarning[] = []
  private readonly excludes: ExcludeMatcher
  private pool?: BlobPool
  private startPool?: () => BlobPool
  private rootDevs = new Set<bigint>()
  private lastTick = 0
  private readonly emit: ProgressListener

  constructor(
    private readonly repo: Repository,
    private readonly o: BackupOptions,
  ) {
    this.excludes = new ExcludeMatcher(o.excludes ?? [])
    this.emit = o.onEvent ?? (() => {})
  }

  async run(): Promise<BackupResult> {
    if (this.o.paths.length === 0) throw new UsageError('no paths to back up: name at least one file or folder')
    const started = this.o.time ?? new Date()
    const targets = [...new Set(this.o.paths.map((p) => path.resolve(p)))].sort()
    for (const t of targets) {
      try {
        const st = fs.lstatSync(t, {bigint: true})
        this.rootDevs.add(st.dev)
      } catch (error) {
        throw new UsageError(`cannot back up ${t}: ${errorMessage(error)}`, {where: t, code: 'PATH_NOT_FOUND'})
      }
    }
    const host = this.o.host ?? os.hostname()
    const lock = this.o.dryRun ? undefined : await lockRepository(this.repo, {exclusive: false})
    let uploader: PackUploader | undefined
    try {
      await this.repo.loadIndex()
      if (!this.o.dryRun) {
        const adopted = await this.repo.adoptUnindexedPacks()
        if (adopted.packs > 0) this.emit({kind: 'info', message: `reusing ${adopted.packs} pack(s) left by an interrupted backup`})
      }
      const parent = await this.findParent(targets, host)
      const parentRoot = parent ? await this.loadParentDir(parent.snapshot.tree) : undefined
      this.emit({kind: 'start', phase: 'backup'})
      if (!this.o.dryRun) {
        const backend = this.repo.backend
        let repoRoot: string
        let onPack: (id: string, blobs: PackedBlob[], size: number, md5?: string) => Promise<void>
        if (backend instanceof LocalBackend) {
          repoRoot = backend.location
          onPack = (id, blobs) => this.repo.registerPack(id, blobs)
        } else {
          if (!backend.saveFile) throw new LifeboatError(`the repository backend of ${backend.location} cannot store files`)
          const staging = await makeStagingFolder(this.o.stagingDir)
          uploader = new PackUploader(this.repo, backend as Backend & Required<Pick<Backend, 'saveFile'>>, staging, this.o.uploadConnections ?? 5)
          repoRoot = staging
          onPack = (id, blobs, size, md5) => uploader!.enqueue(id, blobs, size, md5)
        }
        // Started on the first file to read: a backup where nothing changed never pays for the workers.
        this.startPool = () => new BlobPool({
          key: this.repo.key,
          polynomial: this.repo.config.chunkerPolynomial,
          level: this.repo.compressionLevel,
          packSize: this.repo.packSize,
          repoRoot,
          knownDataIds: this.repo.index.blobIds('data'),
          workers: this.o.workers,
          maxPacksWaiting: uploader ? 2 : undefined,
          // Staged packs are uploaded with Content-MD5: the workers hash it while writing, not the uploader after.
          md5: uploader !== undefined,
          onPack: async (id, blobs, size, md5) => {
            this.c.dataAddedPacked += size
            this.c.dataBlobs += blobs.length
            await onPack(id, blobs, size, md5)
          },
        })
      }
      let treeId: string
      try {
        treeId = await this.saveVirtualRoot(targets, parentRoot)
        if (this.pool) await this.pool.flush()
        await uploader?.drain()
      } catch (error) {
        // Index what was stored so far (packs are complete before they are registered): the next run reuses it.
        await this.pool?.close()
        await uploader?.dispose()
        if (!this.o.dryRun) await this.repo.flush().catch(() => {})
        throw error
      } finally {
        await this.pool?.close()
        await uploader?.dispose()
      }
      const ended = new Date()
      const summary = this.summary(started, ended)
      this.emit({kind: 'done', phase: 'backup'})
      if (this.o.dryRun) return {summary, warnings: this.warnings, dryRun: true, parent: parent?.id}
      await this.repo.flush()
      const user = os.userInfo()
      const sn: Snapshot = {
        time: formatGoTime(started),
        ...(parent ? {parent: parent.id} : {}),
        tree: treeId,
        paths: targets,
        hostname: host,
        username: user.username,
        uid: user.uid,
        gid: user.gid,
        ...(this.o.excludes && this.o.excludes.length > 0 ? {excludes: this.o.excludes} : {}),
        ...(this.o.tags && this.o.tags.length > 0 ? {tags: this.o.tags} : {}),
        program_version: PROGRAM_VERSION,
        summary,
      }
      const snapshotId = await this.repo.saveSnapshot(sn)
      return {snapshotId, snapshot: sn, parent: parent?.id, summary, warnings: this.warnings, dryRun: false}
    } finally {
      await lock?.release()
    }
  }

  private summary(start: Date, end: Date): SnapshotSummary {
    const c = this.c
    return {
      backup_start: formatGoTime(start),
      backup_end: formatGoTime(end),
      files_new: c.filesNew,
      files_changed: c.filesChanged,
      files_unmodified: c.filesUnmodified,
      dirs_new: c.dirsNew,
      dirs_changed: c.dirsChanged,
      dirs_unmodified: c.dirsUnmodified,
      data_blobs: c.dataBlobs,
      tree_blobs: c.treeBlobs,
      data_added: c.dataAdded,
      data_added_packed: c.dataAddedPacked,
      total_files_processed: c.files,
      total_bytes_processed: c.bytes,
    }
  }

  private async findParent(targets: string[], host: string): Promise<{id: string; snapshot: Snapshot} | undefined> {
    if (this.o.parent === null) return undefined
    if (this.o.parent) return this.repo.findSnapshot(this.o.parent)
    const all = await this.repo.listSnapshots()
    const same = all.filter((s) => s.snapshot.hostname === host && sameSet(s.snapshot.paths, targets))
    return same.at(-1)
  }

  private async loadParentDir(treeId: string | undefined): Promise<ParentDir | undefined> {
    if (!treeId) return undefined
    try {
      const nodes = decodeTree(await this.repo.loadBlob('tree', treeId))
      const dir: ParentDir = new Map(nodes.map((n) => [nameKey(n).toString('latin1'), n]))
      dir.treeId = treeId
      return dir
    } catch (error) {
      this.warn('', `parent tree ${treeId.slice(0, 8)} unreadable, files are read again: ${errorMessage(error)}`)
      return undefined
    }
  }

  private warn(p: string, message: string): void {
    this.warnings.push({path: p, message})
    this.emit({kind: 'warning', path: p, message})
  }

  private tick(current?: string): void {
    const now = Date.now()
    if (now - this.lastTick < 200) return
    this.lastTick = now
    this.emit({kind: 'progress', phase: 'backup', files: this.c.filesDone, bytes: this.c.bytesDone, totalFiles: this.c.files, totalBytes: this.c.bytes, currentFile: current})
  }

  /**
   * The snapshot's root tree holds the targets under their absolute paths: intermediate folders
   * (e.g. /home for /home/pi/data) get nodes with their own metadata, as restic does.
   */
  private async saveVirtualRoot(targets: string[], parentRoot: ParentDir | undefined): Promise<string> {
    interface VDir {
      children: Map<string, VDir>
      target?: string
    }
    const root: VDir = {children: new Map()}
    for (const t of targets) {
      const comps = t.split('/').filter(Boolean)
      let d = root
      if (comps.length === 0) {
        root.target = '/'
        continue
      }
      for (const c of comps) {
        let next = d.children.get(c)
        if (!next) d.children.set(c, (next = {children: new Map()}))
        d = next
      }
      d.target = t
    }
    if (root.target) {
      const id = await this.saveDir(Buffer.from('/'), parentRoot)
      if (id === undefined) throw new LifeboatError('cannot read / (see the warnings above)')
      return id
    }

    const saveV = async (dirPath: string, v: VDir, parent: ParentDir | undefined): Promise<string> => {
      const nodes: TreeNode[] = []
      for (const [name, child] of [...v.children.entries()]) {
        const childPath = dirPath === '/' ? `/${name}` : `${dirPath}/${name}`
        const pnode = parent?.get(Buffer.from(name).toString('latin1'))
        if (child.target) {
          const n = await this.entry(Buffer.from(childPath), Buffer.from(name), pnode, await lstatRaw(Buffer.from(childPath)), true)
          if (n) nodes.push(n)
          continue
        }
        let st: BigIntStats
        try {
          st = fs.lstatSync(childPath, {bigint: true})
        } catch (error) {
          this.warn(childPath, errorMessage(error))
          continue
        }
        const node = await nodeFromStat(Buffer.from(childPath), Buffer.from(name), st)
        const sub = pnode?.type === 'dir' ? await this.loadParentDir(pnode.subtree) : undefined
        node.subtree = await saveV(childPath, child, sub)
        node.content = null
        nodes.push(node)
      }
      return this.saveTree(nodes)
    }
    return saveV('/', root, parentRoot)
  }

  private async saveTree(nodes: TreeNode[]): Promise<string> {
    nodes.sort((a, b) => Buffer.compare(nameKey(a), nameKey(b)))
    const bytes = encodeTree(nodes)
    if (this.o.dryRun) return ''
    const r = await this.repo.saveBlob('tree', bytes)
    if (!r.known) this.c.treeBlobs++
    return r.id
  }

  /** Set once lstat turns out to wait for the disk: from then on entries are stat'ed in parallel. */
  private coldScan = false

  /**
   * lstat of a batch of entries, in one native call (no JS object per entry). With the inodes cached, doing it
   * here is cheaper than a thread-pool round trip; when a batch averages more than 1 ms per entry (a disk that
   * seeks for each inode, or a main thread starved of CPU), each batch goes to the thread pool as one job, so the
   * batches of several folders wait for the disk at once. (At 30 µs, GC pauses tripped the switch even on a warm
   * cache, and the per-entry parallel scan cost 0.3 s more on a no-change backup of 47,000 entries.)
   */
  private async lstatBatch(paths: Buffer[]): Promise<Array<StatLike | Error>> {
    if (this.coldScan) return lstatManyAsync(paths)
    const t0 = process.hrtime.bigint()
    // One native call for the batch, no JS object per entry but a small view (fs.lstatSync makes 20).
    const out = lstatMany(paths)
    if (paths.length > 0 && Number(process.hrtime.bigint() - t0) / paths.length > 1_000_000) this.coldScan = true
    return out
  }

  /**
   * Backs up one directory entry from its lstat result; resolves to its node (undefined when skipped). A file
   * counts as in flight from the moment the scanner sees it.
   */
  private entry(p: Buffer, name: Buffer, pnode: TreeNode | undefined, st: StatLike | Error, isTarget = false): Promise<TreeNode | undefined> {
    const display = p.toString()
    if (st instanceof Error) {
      this.warn(display, errorMessage(st))
      return Promise.resolve(undefined)
    }
    if (this.o.oneFileSystem && !isTarget && !this.rootDevs.has(st.dev)) return Promise.resolve(undefined)
    if (!st.isFile()) return this.entryWithStat(p, name, pnode, st, display)
    this.inflightFiles++
    return this.entryWithStat(p, name, pnode, st, display).finally(() => this.releaseInflight(1))
  }

  private releaseInflight(n: number): void {
    this.inflightFiles -= n
    if (this.inflightFiles <= MAX_INFLIGHT_FILES / 2 && this.inflightWaiters.length > 0) for (const w of this.inflightWaiters.splice(0)) w()
  }

  private async entryWithStat(p: Buffer, name: Buffer, pnode: TreeNode | undefined, st: StatLike, display: string): Promise<TreeNode | undefined> {
    if (pnode && sameMetadata(pnode, st)) {
      // Nothing about this entry changed since the parent snapshot (a change of mode, owner, xattrs or link
      // count would have changed ctime): keep the parent's node as it is.
      if (st.isDirectory()) {
        const parentDir = await this.loadParentDir(pnode.subtree)
        const subtree = await this.saveDir(p, parentDir)
        if (subtree === undefined) return undefined
        if (subtree === pnode.subtree) {
          this.c.dirsUnmodified++
          return pnode
        }
        this.c.dirsChanged++
        return {...pnode, subtree}
      }
      if (st.isFile()) {
        if (pnode.content && pnode.content.every((id) => this.repo.hasBlob('data', id))) {
          const size = Number(st.size)
          this.c.files++
          this.c.bytes += size
          this.c.filesUnmodified++
          this.c.filesDone++
          this.c.bytesDone += size
          this.tick()
          return pnode
        }
      } else return pnode
    }
    const node = await nodeFromStat(p, name, st)
    if (st.isDirectory()) {
      const parentDir = pnode?.type === 'dir' ? await this.loadParentDir(pnode.subtree) : undefined
      const subtree = await this.saveDir(p, parentDir)
      if (subtree === undefined) return undefined
      node.subtree = subtree
      node.content = null
      if (!pnode) this.c.dirsNew++
      else if (pnode.subtree === subtree) this.c.dirsUnmodified++
      else this.c.dirsChanged++
      return node
    }
    if (st.isFile()) return this.fileEntry(p, st, node, pnode, display)
    node.content = null
    return node
  }

  /** Files being read (or waiting for a worker) right now; the scanner pauses while there are too many. */
  private inflightFiles = 0
  private readonly inflightWaiters: Array<() => void> = []

  private async fileEntry(p: Buffer, st: StatLike, node: TreeNode, pnode: TreeNode | undefined, display: string): Promise<TreeNode> {
    const size = Number(st.size)
    this.c.files++
    this.c.bytes += size
    if (pnode && this.unchanged(pnode, node)) {
      node.content = pnode.content
      this.c.filesUnmodified++
      this.c.filesDone++
      this.c.bytesDone += size
      this.tick()
      return node
    }
    if (this.o.dryRun) {
      node.content = []
      if (pnode) this.c.filesChanged++
      else this.c.filesNew++
      this.c.filesDone++
      this.c.bytesDone += size
      return node
    }
    this.pool ??= this.startPool!()
    const r = await this.pool.submit(p, size, st.mtimeNs)
    this.fileDone(r, node, pnode, display)
    return node
  }

  private fileDone(r: FileResult, node: TreeNode, pnode: TreeNode | undefined, display: string): void {
    this.c.filesDone++
    this.c.bytesDone += r.bytes
    if (r.content === null) {
      this.warn(display, r.error ?? 'cannot read file')
      node.error = r.error ?? 'cannot read file'
      node.content = null
      return
    }
    node.content = r.content
    if (r.changed) {
      this.warn(display, 'file changed while it was read; the snapshot holds what was read')
      node.size = r.bytes
    }
    this.c.dataAdded += r.newBytes
    if (pnode) this.c.filesChanged++
    else this.c.filesNew++
    this.tick(display)
  }

  private unchanged(p: TreeNode, n: TreeNode): boolean {
    if (p.type !== 'file' || !p.content) return false
    if (p.mtime !== n.mtime || p.ctime !== n.ctime || p.size !== n.size || p.inode !== n.inode) return false
    return p.content.every((id) => this.repo.hasBlob('data', id))
  }

  /**
   * Reads a directory, starts backing up its entries, saves its tree once they are done; undefined when the
   * folder cannot be read. Entries are not awaited one by one: sub-folders are scanned while the workers
   * read files, so the workers never wait for the scanner (back-pressure comes from the pool's backlog).
   */
  private async saveDir(dir: Buffer, parent: ParentDir | undefined): Promise<string | undefined> {
    let names: Buffer[]
    try {
      names = await readdirRaw(dir)
    } catch (error) {
      this.warn(dir.toString(), errorMessage(error))
      return undefined
    }
    names.sort(Buffer.compare)
    const base = dir.length === 1 && dir[0] === 0x2f ? Buffer.alloc(0) : dir
    const started: Array<Promise<TreeNode | undefined>> = []
    for (let i = 0; i < names.length; i += STAT_BATCH) {
      // Hold the scanner back while the workers have plenty to do: memory stays bounded on huge trees. Many
      // folders wait here at once and are woken together, so each re-checks, and the batch counts as in flight
      // from before its lstat (an await) until its entries are started and count for themselves.
      while (this.inflightFiles > MAX_INFLIGHT_FILES) await new Promise<void>((r) => this.inflightWaiters.push(r))
      const batch = names.slice(i, i + STAT_BATCH).map((name) => ({name, path: Buffer.concat([base, SEP, name])}))
      const kept = this.excludes.empty ? batch : batch.filter((e) => !this.excludes.matches(e.path.toString('latin1')))
      this.inflightFiles += kept.length
      try {
        const stats = await this.lstatBatch(kept.map((e) => e.path))
        for (const [k, e] of kept.entries()) started.push(this.entry(e.path, e.name, parent?.get(e.name.toString('latin1')), stats[k]))
      } finally {
        this.releaseInflight(kept.length)
      }
    }
    const nodes = await Promise.all(started)
    // Entries that vanished or could not be read are left out (each was reported as a warning).
    const kept = nodes.filter((n): n is TreeNode => n !== undefined && !(n.type === 'file' && n.content === null && n.error))
    for (const n of kept) delete n.error
    // Every entry is the parent's very node: the tree is byte-identical to the parent's, no need to encode it.
    if (parent && parent.size === kept.length && kept.every((n) => parent.get(nameKey(n).toString('latin1')) === n) && parent.treeId) {
      return parent.treeId
    }
    return this.saveTree(kept)
  }

}

/** Whether lstat shows the same entry as a node of the parent snapshot. */
function sameMetadata(p: TreeNode, st: StatLike): boolean {
  return (
    (p.inode ?? 0) === Number(st.ino) &&
    (p.mode ?? 0) === goFileMode(Number(st.mode)) &&
    p.uid === Number(st.uid) &&
    p.gid === Number(st.gid) &&
    (!st.isFile() || (p.size ?? 0) === Number(st.size)) &&
    p.mtime === formatNs(st.mtimeNs) &&
    p.ctime === formatNs(st.ctimeNs)
  )
}

/** Entries of a directory as raw name bytes (names need not be UTF-8), through the thread pool. */
function readdirRaw(dir: Buffer): Promise<Buffer[]> {
  return new Promise((resolve, reject) => fs.readdir(dir, {encoding: 'buffer'}, (e, names) => (e ? reject(e) : resolve(names))))
}

/** lstat through the thread pool; an error is returned, not thrown (the entry is skipped with a warning). */
function lstatRaw(p: Buffer): Promise<BigIntStats | Error> {
  return new Promise((resolve) => fs.lstat(p, {bigint: true}, (e, st) => resolve(e ?? st)))
}

function sameSet(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false
  const s = new Set(a)
  return b.every((x) => s.has(x))
}
