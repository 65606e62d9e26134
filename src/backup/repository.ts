/**
 * A restic-format repository (v2, reads v1): keys, config, blobs in packs, index, snapshots.
 *
 * Write order is the format's safety rule: a pack is stored before any index naming it, and an index
 * before any snapshot that needs it. Packs upload with bounded concurrency; callers feel back-pressure
 * through the promises of saveBlob/addEncodedBlob, so memory stays bounded (≈ (concurrency + 2) packs).
 */
import {createHash, randomBytes} from 'node:crypto'

import {CRYPTO_OVERHEAD, newMasterKey, seal, type MasterKey} from './crypto.js'
import {
  AmbiguousIdError,
  FormatError,
  KeyInUseError,
  NoRepositoryError,
  NotFoundError,
  RepositoryExistsError,
  SnapshotNotFoundError,
  WrongPasswordError,
} from './errors.js'
import {MasterIndex, INDEX_MAX_BLOBS, splitIndex, type IndexJSON} from './index.js'
import {createKeyFile, DEFAULT_KDF, openKeyFile, parseKeyFile, type KdfParams} from './keys.js'
import {decodeBlob, DEFAULT_PACK_SIZE, encodeBlob, MAX_PACK_SIZE, MIN_PACK_SIZE, PackWriter, readPackHeader, sha256Hex, type FinishedPack} from './pack.js'
import type {Backend, BlobType, FileType, IndexPackEntry, PackedBlob, Snapshot} from './types.js'
import {decodeConfig, decodeUnpacked, encodeConfig, encodeUnpacked, type ConfigJSON} from './unpacked.js'

export interface RepositoryConfig {
  version: number
  id: string
  /** Hex, no 0x (as stored in the config file). */
  chunkerPolynomial: string
}

export type Compression = 'auto' | 'off' | 'max'

/**
 * zstd level of data and tree blobs for compression 'auto'. Level 1 compresses our source-tree benchmark to
 * 25.1 % (level 3: 23.9 %) and is faster on small files; restic reads any level.
 */
export const AUTO_BLOB_LEVEL = 1

export interface RepositoryOptions {
  /** 'auto' (zstd level 3, default), 'max' (level 19) or 'off'. */
  compression?: Compression
  /** Explicit zstd level; overrides `compression` unless it is 'off'. */
  compressionLevel?: number
  /** Target pack size in bytes (default 16 MiB; 4–128 MiB). */
  packSize?: number
  /** Packs uploading at once (default 2). */
  uploadConcurrency?: number
  /** Write a partial index when this many blobs are unindexed on disk (default 50 000). */
  indexMaxBlobs?: number
  /** …or when the oldest unindexed pack is older than this (default 5 min). */
  indexMaxAgeMs?: number
  /**
   * …or when this many packs are unindexed (default 1): every stored pack is named by an index file at once,
   * so a killed backup leaves everything it stored for the next run to reuse (at the cost of more, smaller
   * index files, which prune consolidates).
   */
  indexMaxPacks?: number
}

export interface InitOptions extends RepositoryOptions {
  kdf?: KdfParams
  /** The chunker polynomial (from polynomial.ts `randomPolynomial()`); hex string or bigint. */
  chunkerPolynomial?: bigint | string
  /** Repository format version (default 2). */
  version?: 1 | 2
}

export interface OpenOptions extends RepositoryOptions {
  /** Try this key file ID first. */
  keyHint?: string
}

export interface KeyInfo {
  id: string
  current: boolean
  username: string
  hostname: string
  created: string
}

export interface SnapshotEntry {
  id: string
  snapshot: Snapshot
}

export interface SnapshotFilter {
  hostname?: string
  paths?: string[]
  tags?: string[]
}

export type UnpackedType = Extract<FileType, 'index' | 'snapshot' | 'lock'>

export interface SaveBlobResult {
  id: string
  /** True when the blob was already in the repository (or pending): nothing was stored. */
  known: boolean
  /** Bytes added to packs (encrypted length); 0 when known. */
  size: number
}

interface Pending {
  blob: PackedBlob
  encrypted: Buffer
}

function normalizePolynomial(p: bigint | string): string {
  const s = typeof p === 'bigint' ? p.toString(16) : p.trim().toLowerCase().replace(/^0x/, '')
  if (!/^[0-9a-f]+$/.test(s) || /^0+$/.test(s)) throw new FormatError(`invalid chunker polynomial ${JSON.stringify(String(p))}`)
  return s.replace(/^0+/, '')
}

/** Runs fn over items with at most `n` at once. */
async function mapLimit<T, R>(items: readonly T[], n: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const i = next++
      out[i] = await fn(items[i])
    }
  }
  await Promise.all(Array.from({length: Math.min(n, items.length)}, worker))
  return out
}

export class Repository {
  readonly index = new MasterIndex()
  private cfg: RepositoryConfig
  private currentKeyId: string
  private readonly opts: Required<Omit<RepositoryOptions, 'compressionLevel' | 'compression'>> & {level: number}

  private readonly writers: Record<BlobType, PackWriter | undefined> = {data: undefined, tree: undefined}
  /** Blobs added but not yet in the index (in an open pack or a pack being uploaded). */
  private readonly pending = new Map<string, Pending>()
  private readonly uploads = new Set<Promise<void>>()
  private uploadError: unknown
  /** Packs stored but not yet named by an index file written in this session. */
  private unindexed: IndexPackEntry[] = []
  private unindexedBlobs = 0
  private unindexedSince = 0
  private indexChain: Promise<unknown> = Promise.resolve()
  /** Index files written by this Repository. */
  readonly writtenIndexes: string[] = []

  private constructor(
    readonly backend: Backend,
    readonly key: MasterKey,
    keyId: string,
    cfg: RepositoryConfig,
    opts: RepositoryOptions,
  ) {
    this.cfg = cfg
    this.currentKeyId = keyId
    const packSize = opts.packSize ?? DEFAULT_PACK_SIZE
    // The CLI enforces restic's 4–128 MiB; smaller packs are allowed here for tests.
    if (packSize < 64 * 1024 || packSize > MAX_PACK_SIZE) {
      throw new RangeError(`pack size ${packSize} out of range (${MIN_PACK_SIZE}–${MAX_PACK_SIZE} bytes)`)
    }
    const compression = opts.compression ?? 'auto'
    let level = compression === 'off' ? 0 : (opts.compressionLevel ?? (compression === 'max' ? 19 : AUTO_BLOB_LEVEL))
    if (cfg.version < 2) level = 0 // v1 has no compression
    this.opts = {
      packSize,
      uploadConcurrency: Math.max(1, opts.uploadConcurrency ?? 2),
      indexMaxBlobs: opts.indexMaxBlobs ?? INDEX_MAX_BLOBS,
      indexMaxAgeMs: opts.indexMaxAgeMs ?? 5 * 60 * 1000,
      indexMaxPacks: opts.indexMaxPacks ?? 1,
      level,
    }
  }

  // ---------------------------------------------------------------- create / open

  /** Creates a repository: layout, first key, config. */
  static async init(backend: Backend, password: string | Buffer, opts: InitOptions = {}): Promise<Repository> {
    if (await backend.exists({type: 'config', name: 'config'})) throw new RepositoryExistsError(backend.location)
    let poly = opts.chunkerPolynomial
    if (poly === undefined) {
      // Loaded lazily so this module does not depend on the chunker's polynomial code at build time.
      const spec = './polynomial.js'
      const mod = (await import(spec)) as {randomPolynomial: () => bigint | string}
      poly = mod.randomPolynomial()
    }
    const version = opts.version ?? 2
    const cfg: ConfigJSON = {version, id: randomBytes(32).toString('hex'), chunker_polynomial: normalizePolynomial(poly)}
    await backend.create()
    const master = newMasterKey()
    const k = await createKeyFile(password, master, opts.kdf ?? DEFAULT_KDF)
    await backend.save({type: 'key', name: k.id}, k.bytes)
    await backend.save({type: 'config', name: 'config'}, encodeConfig(master, cfg))
    return new Repository(backend, master, k.id, {version, id: cfg.id, chunkerPolynomial: cfg.chunker_polynomial}, opts)
  }

  /** Opens a repository by trying the password on every key file. */
  static async open(backend: Backend, password: string | Buffer, opts: OpenOptions = {}): Promise<Repository> {
    if (!(await backend.exists({type: 'config', name: 'config'}))) throw new NoRepositoryError(backend.location)
    const keys = (await backend.list('key')).map((k) => k.name)
    if (opts.keyHint && keys.includes(opts.keyHint)) keys.sort((a, b) => (a === opts.keyHint ? -1 : b === opts.keyHint ? 1 : 0))
    let master: MasterKey | undefined
    let keyId = ''
    let lastOther: unknown
    for (const id of keys) {
      try {
        const bytes = await backend.load({type: 'key', name: id})
        master = await openKeyFile(bytes, password, `keys/${id}`)
        keyId = id
        break
      } catch (error) {
        if (!(error instanceof WrongPasswordError)) lastOther = error
      }
    }
    if (!master) {
      throw new WrongPasswordError(backend.location, lastOther ? {cause: lastOther} : {})
    }
    const c = decodeConfig(master, await backend.load({type: 'config', name: 'config'}), `${backend.location}/config`)
    return new Repository(backend, master, keyId, {version: c.version, id: c.id, chunkerPolynomial: c.chunker_polynomial}, opts)
  }

  get config(): RepositoryConfig {
    return {...this.cfg}
  }

  /** ID of the key file this repository was opened with. */
  get keyId(): string {
    return this.currentKeyId
  }

  /** zstd level used for new blobs (0 = no compression). */
  get compressionLevel(): number {
    return this.opts.level
  }

  // ---------------------------------------------------------------- unpacked files

  /** Stores a JSON document as an unpacked file; returns its ID. */
  async saveUnpacked(type: UnpackedType, value: unknown): Promise<string> {
    const bytes = this.cfg.version >= 2 ? encodeUnpacked(this.key, value) : seal(this.key, Buffer.from(JSON.stringify(value)))
    const id = sha256Hex(bytes)
    await this.backend.save({type, name: id}, bytes)
    return id
  }

  /** Loads and parses an unpacked file, checking that its content hashes to its ID. */
  async loadUnpacked<T = unknown>(type: UnpackedType, id: string): Promise<T> {
    const bytes = await this.backend.load({type, name: id})
    const where = `${type}/${id}`
    if (sha256Hex(bytes) !== id) throw new FormatError(`${where}: content does not match its ID (damaged file)`, {where})
    return decodeUnpacked<T>(this.key, bytes, where)
  }

  // ---------------------------------------------------------------- index

  /** Loads every index file not loaded yet. Returns how many files were read. */
  async loadIndex(concurrency = 4): Promise<number> {
    const files = (await this.backend.list('index')).map((f) => f.name).filter((n) => !this.index.loadedFiles.has(n))
    await mapLimit(files, concurrency, async (id) => {
      const j = await this.loadUnpacked<IndexJSON>('index', id)
      this.index.addIndexJSON(j, id)
    })
    return files.length
  }

  // ---------------------------------------------------------------- blobs

  private pkey(type: BlobType, id: string): string {
    return type === 'data' ? 'd' + id : 't' + id
  }

  /** Whether the repository has a blob (indexed, or pending in this session). */
  hasBlob(type: BlobType, id: string): boolean {
    return this.pending.has(this.pkey(type, id)) || this.index.has(type, id)
  }

  /** Reads a blob: locate, ranged read, decrypt, decompress, verify its hash. */
  async loadBlob(type: BlobType, id: string): Promise<Buffer> {
    const p = this.pending.get(this.pkey(type, id))
    if (p) return decodeBlob(this.key, p.encrypted, id, p.blob.uncompressedLength)
    const locs = this.index.lookupAll(type, id)
    if (locs.length === 0) throw new NotFoundError(`${type} blob ${id}`, this.backend.location)
    let lastErr: unknown
    for (const loc of locs) {
      try {
        const enc = type === 'tree' ? await this.treePackSlice(loc.packId, loc.offset, loc.length) : await this.backend.load({type: 'pack', name: loc.packId}, loc.offset, loc.length)
        return decodeBlob(this.key, enc, id, loc.uncompressedLength)
      } catch (error) {
        lastErr = error
      }
    }
    throw lastErr
  }

  /** Whole tree packs recently read (walking a snapshot touches thousands of small trees in few packs). */
  private readonly treePackCache = new Map<string, Promise<Buffer>>()
  private treePackCacheBytes = 0
  private static readonly TREE_PACK_CACHE_MAX = 64 * 1024 * 1024

  private async treePackSlice(packId: string, offset: number, length: number): Promise<Buffer> {
    let p = this.treePackCache.get(packId)
    if (!p) {
      p = this.backend.load({type: 'pack', name: packId})
      this.treePackCache.set(packId, p)
      p.then(
        (b) => {
          this.treePackCacheBytes += b.length
          // Evict the oldest packs beyond the budget (Map keeps insertion order).
          for (const [k, v] of this.treePackCache) {
            if (this.treePackCacheBytes <= Repository.TREE_PACK_CACHE_MAX || k === packId) break
            this.treePackCache.delete(k)
            void v.then((old) => (this.treePackCacheBytes -= old.length)).catch(() => {})
          }
        },
        () => this.treePackCache.delete(packId),
      )
    }
    const pack = await p
    if (offset + length > pack.length) throw new FormatError(`pack ${packId} is shorter than the index says`)
    return pack.subarray(offset, offset + length)
  }

  /** Stores a plaintext blob unless the repository has it; compresses (v2) and encrypts it. */
  async saveBlob(type: BlobType, plaintext: Uint8Array, id?: string): Promise<SaveBlobResult> {
    const blobId = id ?? sha256Hex(plaintext)
    if (this.hasBlob(type, blobId)) return {id: blobId, known: true, size: 0}
    const enc = encodeBlob(this.key, plaintext, this.opts.level > 0, this.opts.level, blobId)
    return this.addEncodedBlob(type, blobId, enc.encrypted, enc.uncompressedLength)
  }

  /**
   * Adds a blob already compressed and encrypted (e.g. by a worker thread with encodeBlob).
   * Duplicates are dropped. Resolves once the blob's pack has room in the upload queue.
   */
  async addEncodedBlob(type: BlobType, id: string, encrypted: Buffer, uncompressedLength?: number): Promise<SaveBlobResult> {
    this.throwUploadError()
    if (uncompressedLength !== undefined && this.cfg.version < 2) throw new FormatError('compressed blobs need a v2 repository')
    const k = this.pkey(type, id)
    if (this.pending.has(k) || this.index.has(type, id)) return {id, known: true, size: 0}
    let w = this.writers[type]
    if (!w) w = this.writers[type] = new PackWriter(this.key)
    const blob = w.add(type, id, encrypted, uncompressedLength)
    this.pending.set(k, {blob, encrypted})
    if (w.size + CRYPTO_OVERHEAD >= this.opts.packSize) {
      this.writers[type] = undefined
      await this.enqueuePack(w.finish())
    }
    return {id, known: false, size: encrypted.length}
  }

  private throwUploadError(): void {
    if (this.uploadError !== undefined) throw this.uploadError
  }

  private async enqueuePack(fp: FinishedPack): Promise<void> {
    while (this.uploads.size >= this.opts.uploadConcurrency) await Promise.race(this.uploads)
    const p: Promise<void> = this.uploadPack(fp)
      .catch((error: unknown) => {
        this.uploadError ??= error
      })
      .finally(() => {
        this.uploads.delete(p)
      })
    this.uploads.add(p)
  }

  private async uploadPack(fp: FinishedPack): Promise<void> {
    await this.backend.save({type: 'pack', name: fp.id}, fp.parts.length === 1 ? fp.parts[0] : Buffer.concat(fp.parts, fp.size), {packType: fp.blobs[0]?.type ?? 'data'})
    for (const b of fp.blobs) this.pending.delete(this.pkey(b.type, b.id))
    await this.registerPack(fp.id, fp.blobs)
  }

  /**
   * Records a pack that is already stored (by this repository or by a backup worker thread): its blobs join
   * the index, and a partial index file is written when enough blobs (or time) have accumulated.
   */
  async registerPack(id: string, blobs: PackedBlob[]): Promise<void> {
    // Only now, with the pack stored, may an index name it.
    this.index.add(id, blobs)
    if (this.unindexed.length === 0) this.unindexedSince = Date.now()
    this.unindexed.push({id, blobs})
    this.unindexedBlobs += blobs.length
    if (
      this.unindexedBlobs >= this.opts.indexMaxBlobs ||
      this.unindexed.length >= this.opts.indexMaxPacks ||
      Date.now() - this.unindexedSince >= this.opts.indexMaxAgeMs
    ) {
      await this.writeIndex()
    }
  }

  /**
   * Packs stored by a run that was killed before an index named them: their headers (authenticated, and
   * checked to add up to the file size) are read and indexed, so the next backup reuses their data instead
   * of storing it again. A pack whose header does not check out is left alone for check and prune.
   */
  async adoptUnindexedPacks(): Promise<{packs: number; bytes: number}> {
    const orphans = (await this.backend.list('pack')).filter((f) => !this.index.hasPack(f.name))
    let packs = 0
    let bytes = 0
    await mapLimit(orphans, 4, async (f) => {
      let blobs: PackedBlob[]
      try {
        blobs = await readPackHeader({backend: this.backend, id: f.name}, f.size, this.key)
      } catch {
        return
      }
      this.index.add(f.name, blobs)
      if (this.unindexed.length === 0) this.unindexedSince = Date.now()
      this.unindexed.push({id: f.name, blobs})
      this.unindexedBlobs += blobs.length
      packs++
      bytes += f.size
    })
    if (packs > 0) await this.writeIndex()
    return {packs, bytes}
  }

  /** Target size of data packs, bytes. */
  get packSize(): number {
    return this.opts.packSize
  }

  /** Writes index files for all stored packs not yet indexed (serialized; split to stay small). */
  private writeIndex(): Promise<void> {
    const run = async () => {
      if (this.unindexed.length === 0) return
      const packs = this.unindexed
      const blobs = this.unindexedBlobs
      this.unindexed = []
      this.unindexedBlobs = 0
      try {
        for (const j of splitIndex(packs, this.opts.indexMaxBlobs)) {
          this.writtenIndexes.push(await this.saveUnpacked('index', j))
        }
      } catch (error) {
        this.unindexed = packs.concat(this.unindexed)
        this.unindexedBlobs += blobs
        throw error
      }
    }
    const p = this.indexChain.then(run, run)
    this.indexChain = p.catch(() => {})
    return p
  }

  /** Bytes of blobs in open packs and packs being uploaded. */
  get pendingBlobs(): number {
    return this.pending.size
  }

  /**
   * Finishes the open packs, waits until every pack is stored, then writes the index for them.
   * After flush() resolves, everything saved so far is durable and indexed.
   */
  async flush(): Promise<void> {
    for (const t of ['data', 'tree'] as const) {
      const w = this.writers[t]
      if (w && w.count > 0) {
        this.writers[t] = undefined
        await this.enqueuePack(w.finish())
      }
    }
    while (this.uploads.size > 0) await Promise.all(this.uploads)
    this.throwUploadError()
    await this.writeIndex()
  }

  // ---------------------------------------------------------------- snapshots

  async saveSnapshot(sn: Snapshot): Promise<string> {
    return this.saveUnpacked('snapshot', sn)
  }

  async loadSnapshot(id: string): Promise<Snapshot> {
    return this.loadUnpacked<Snapshot>('snapshot', id)
  }

  /** All snapshots, oldest first. */
  async listSnapshots(): Promise<SnapshotEntry[]> {
    const ids = (await this.backend.list('snapshot')).map((f) => f.name)
    const out = await mapLimit(ids, 8, async (id) => ({id, snapshot: await this.loadSnapshot(id)}))
    return out.sort((a, b) => Date.parse(a.snapshot.time) - Date.parse(b.snapshot.time) || (a.id < b.id ? -1 : 1))
  }

  /** Resolves "latest" (optionally filtered) or a unique ID prefix to a snapshot. */
  async findSnapshot(ref: string, filter: SnapshotFilter = {}): Promise<SnapshotEntry> {
    if (ref === 'latest') {
      const all = (await this.listSnapshots()).filter((s) => matchesFilter(s.snapshot, filter))
      if (all.length === 0) throw new SnapshotNotFoundError('no snapshot found' + describeFilter(filter), {where: this.backend.location})
      return all[all.length - 1]
    }
    const id = await this.resolvePrefix('snapshot', ref)
    return {id, snapshot: await this.loadSnapshot(id)}
  }

  /** Resolves a unique prefix of a file ID of the given type. */
  async resolvePrefix(type: Exclude<FileType, 'config'>, prefix: string): Promise<string> {
    const p = prefix.toLowerCase()
    const what = type === 'snapshot' ? 'snapshot' : `${type} file`
    if (!/^[0-9a-f]{1,64}$/.test(p)) throw new SnapshotNotFoundError(`invalid ${what} ID ${JSON.stringify(prefix)}: expected hex digits`)
    const matches = (await this.backend.list(type)).map((f) => f.name).filter((n) => n.startsWith(p))
    if (matches.length === 0) {
      if (type === 'snapshot') throw new SnapshotNotFoundError(`no snapshot matches ID ${prefix}`, {where: this.backend.location})
      throw new NotFoundError(`${what} ${prefix}`, this.backend.location)
    }
    if (matches.length > 1) {
      throw new AmbiguousIdError(
        `${what} ID prefix ${prefix} is ambiguous: it matches ${matches.length} (${matches.slice(0, 5).map((m) => m.slice(0, 12)).join(', ')}${matches.length > 5 ? ', …' : ''})`,
        {hint: 'give more characters of the ID'},
      )
    }
    return matches[0]
  }

  // ---------------------------------------------------------------- keys

  async listKeys(): Promise<KeyInfo[]> {
    const ids = (await this.backend.list('key')).map((f) => f.name)
    return mapLimit(ids, 8, async (id) => {
      const kf = parseKeyFile(await this.backend.load({type: 'key', name: id}), `keys/${id}`)
      return {id, current: id === this.currentKeyId, username: kf.username, hostname: kf.hostname, created: kf.created}
    })
  }

  /** Adds a key file for another password; returns its ID. */
  async addKey(password: string | Buffer, kdf: KdfParams = DEFAULT_KDF, meta: {username?: string; hostname?: string} = {}): Promise<string> {
    const k = await createKeyFile(password, this.key, kdf, meta)
    await this.backend.save({type: 'key', name: k.id}, k.bytes)
    return k.id
  }

  /** Removes a key file (ID or unique prefix); refuses the key this repository was opened with. */
  async removeKey(idOrPrefix: string): Promise<string> {
    const id = await this.resolvePrefix('key', idOrPrefix)
    if (id === this.currentKeyId) {
      throw new KeyInUseError(`refusing to remove key ${id.slice(0, 8)}: it is the key in use`)
    }
    await this.backend.remove({type: 'key', name: id})
    return id
  }

  /** Adds a key for the new password and removes the current one; returns the new key ID. */
  async changePassword(newPassword: string | Buffer, kdf: KdfParams = DEFAULT_KDF): Promise<string> {
    const old = this.currentKeyId
    const id = await this.addKey(newPassword, kdf)
    this.currentKeyId = id
    await this.backend.remove({type: 'key', name: old})
    return id
  }

  async close(): Promise<void> {
    await this.backend.close()
  }
}

function matchesFilter(sn: Snapshot, f: SnapshotFilter): boolean {
  if (f.hostname !== undefined && sn.hostname !== f.hostname) return false
  if (f.paths && f.paths.length > 0) {
    const a = [...sn.paths].sort()
    const b = [...f.paths].sort()
    if (a.length !== b.length || a.some((p, i) => p !== b[i])) return false
  }
  if (f.tags && f.tags.length > 0 && !f.tags.every((t) => sn.tags?.includes(t))) return false
  return true
}

function describeFilter(f: SnapshotFilter): string {
  const parts: string[] = []
  if (f.hostname !== undefined) parts.push(`host ${f.hostname}`)
  if (f.paths?.length) parts.push(`paths ${f.paths.join(', ')}`)
  if (f.tags?.length) parts.push(`tags ${f.tags.join(', ')}`)
  return parts.length ? ` for ${parts.join(', ')}` : ''
}

/** SHA-256 helper re-exported for callers hashing plaintext blobs. */
export function blobId(plaintext: Uint8Array): string {
  return createHash('sha256').update(plaintext).digest('hex')
}
