/**
 * A repository in a local folder, restic's layout:
 * config, keys/, data/00..ff/, index/, snapshots/, locks/. Folders 0700, files 0400, atomic writes.
 */
import {randomBytes} from 'node:crypto'
import {constants as fsc} from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'

import {NotFoundError, RepositoryExistsError} from '../errors.js'
import type {Backend, FileHandle, FileInfo, FileType} from '../types.js'

const DIRS: Record<Exclude<FileType, 'config'>, string> = {
  key: 'keys',
  pack: 'data',
  index: 'index',
  snapshot: 'snapshots',
  lock: 'locks',
}

const NAME_RE = /^[0-9a-f]{64}$/

function isErrno(e: unknown, code: string): boolean {
  return typeof e === 'object' && e !== null && (e as NodeJS.ErrnoException).code === code
}

/** Names in a folder; none when the folder does not exist. */
async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await fs.readdir(dir)
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return []
    throw error
  }
}

export interface LocalBackendOptions {
  /** fsync files and folders after writes (default true). */
  fsync?: boolean
}

export class LocalBackend implements Backend {
  readonly location: string
  private readonly fsync: boolean

  constructor(
    readonly root: string,
    opts: LocalBackendOptions = {},
  ) {
    this.location = path.resolve(root)
    this.fsync = opts.fsync ?? true
  }

  /** Path of a file in the repository. */
  filename(h: FileHandle): string {
    if (h.type === 'config') return path.join(this.location, 'config')
    if (!NAME_RE.test(h.name)) throw new Error(`invalid ${h.type} file name ${JSON.stringify(h.name)}`)
    if (h.type === 'pack') return path.join(this.location, 'data', h.name.slice(0, 2), h.name)
    return path.join(this.location, DIRS[h.type], h.name)
  }

  private describe(h: FileHandle): string {
    return h.type === 'config' ? 'config' : `${h.type} ${h.name}`
  }

  async create(): Promise<void> {
    if (await this.exists({type: 'config', name: 'config'})) throw new RepositoryExistsError(this.location)
    await fs.mkdir(this.location, {recursive: true, mode: 0o700})
    for (const d of Object.values(DIRS)) await fs.mkdir(path.join(this.location, d), {recursive: true, mode: 0o700})
    const data = path.join(this.location, 'data')
    await Promise.all(
      Array.from({length: 256}, (_, i) => fs.mkdir(path.join(data, i.toString(16).padStart(2, '0')), {recursive: true, mode: 0o700})),
    )
  }

  async exists(h: FileHandle): Promise<boolean> {
    try {
      await fs.access(this.filename(h), fsc.F_OK)
      return true
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return false
      throw error
    }
  }

  async save(h: FileHandle, data: Uint8Array): Promise<void> {
    const final = this.filename(h)
    const dir = path.dirname(final)
    const tmp = path.join(dir, `${path.basename(final)}-tmp-${randomBytes(6).toString('hex')}`)
    let fh: fs.FileHandle
    try {
      fh = await fs.open(tmp, 'wx', 0o600)
    } catch (error) {
      if (!isErrno(error, 'ENOENT')) throw error
      await fs.mkdir(dir, {recursive: true, mode: 0o700})
      fh = await fs.open(tmp, 'wx', 0o600)
    }
    try {
      try {
        let off = 0
        while (off < data.length) {
          const {bytesWritten} = await fh.write(data, off, data.length - off)
          off += bytesWritten
        }
        if (this.fsync) await fh.sync()
      } finally {
        await fh.close()
      }
      if (h.type !== 'config' && (await this.exists(h))) {
        // Content-addressed: a file with this name already holds these bytes.
        await fs.unlink(tmp)
        return
      }
      await fs.rename(tmp, final)
    } catch (error) {
      await fs.unlink(tmp).catch(() => {})
      throw error
    }
    if (this.fsync) await this.syncDir(dir)
    await fs.chmod(final, 0o400)
  }

  private async syncDir(dir: string): Promise<void> {
    let d: fs.FileHandle | undefined
    try {
      d = await fs.open(dir, 'r')
      await d.sync()
    } catch (error) {
      // Some filesystems refuse fsync on a folder; the rename is still atomic.
      if (!isErrno(error, 'EINVAL') && !isErrno(error, 'EISDIR') && !isErrno(error, 'EPERM')) throw error
    } finally {
      await d?.close()
    }
  }

  async load(h: FileHandle, offset?: number, length?: number): Promise<Buffer> {
    const file = this.filename(h)
    try {
      if (offset === undefined && length === undefined) return await fs.readFile(file)
      const fh = await fs.open(file, 'r')
      try {
        const start = offset ?? 0
        const len = length ?? (await fh.stat()).size - start
        if (len < 0) throw new RangeError(`read past the end of ${this.describe(h)}`)
        const buf = Buffer.allocUnsafe(len)
        let got = 0
        while (got < len) {
          const {bytesRead} = await fh.read(buf, got, len - got, start + got)
          if (bytesRead === 0) break
          got += bytesRead
        }
        if (got < len) throw new RangeError(`short read of ${this.describe(h)}: ${got} of ${len} bytes at offset ${start}`)
        return buf
      } finally {
        await fh.close()
      }
    } catch (error) {
      if (isErrno(error, 'ENOENT')) throw new NotFoundError(this.describe(h), this.location)
      throw error
    }
  }

  async stat(h: FileHandle): Promise<FileInfo> {
    try {
      const st = await fs.stat(this.filename(h))
      return {name: h.name, size: st.size}
    } catch (error) {
      if (isErrno(error, 'ENOENT')) throw new NotFoundError(this.describe(h), this.location)
      throw error
    }
  }

  private async listDir(dir: string): Promise<FileInfo[]> {
    const names = await readdirOrEmpty(dir)
    const out: FileInfo[] = []
    await Promise.all(
      names
        .filter((n) => NAME_RE.test(n))
        .map(async (name) => {
          try {
            const st = await fs.stat(path.join(dir, name))
            if (st.isFile()) out.push({name, size: st.size})
          } catch (error) {
            if (!isErrno(error, 'ENOENT')) throw error // removed while listing
          }
        }),
    )
    return out
  }

  async list(type: FileType): Promise<FileInfo[]> {
    if (type === 'config') {
      try {
        const st = await fs.stat(this.filename({type, name: 'config'}))
        return [{name: 'config', size: st.size}]
      } catch (error) {
        if (isErrno(error, 'ENOENT')) return []
        throw error
      }
    }
    if (type !== 'pack') return this.listDir(path.join(this.location, DIRS[type]))
    const data = path.join(this.location, 'data')
    const subs = await readdirOrEmpty(data)
    const out: FileInfo[] = []
    for (const s of subs.filter((n) => /^[0-9a-f]{2}$/.test(n)).sort()) out.push(...(await this.listDir(path.join(data, s))))
    return out
  }

  async remove(h: FileHandle): Promise<void> {
    try {
      await fs.unlink(this.filename(h))
    } catch (error) {
      if (isErrno(error, 'ENOENT')) throw new NotFoundError(this.describe(h), this.location)
      throw error
    }
  }

  async close(): Promise<void> {}
}
