/**
 * restic-compatible repository locks: unpacked files under locks/.
 *
 * Exclusive locks (prune, unlock --remove-all…) conflict with every other lock; non-exclusive ones
 * (backup, restore, check) only with exclusive ones. A lock is stale when older than 30 minutes, or when
 * it was made on this host by a process that no longer runs. Held locks are refreshed every 5 minutes.
 */
import os from 'node:os'

import {LocalBackend} from './backend/local.js'
import {LockConflictError, NotFoundError} from './errors.js'
import type {Repository} from './repository.js'
import {formatGoTime} from './unpacked.js'

export interface LockInfo {
  time: string
  exclusive: boolean
  hostname: string
  username: string
  pid: number
  uid: number
  gid: number
}

export interface LockEntry {
  id: string
  lock?: LockInfo
  /** Why the lock file could not be read. */
  error?: string
  stale: boolean
}

export const STALE_AFTER_MS = 30 * 60 * 1000
export const REFRESH_EVERY_MS = 5 * 60 * 1000
export const WAIT_AFTER_WRITE_MS = 200

export interface LockOptions {
  exclusive?: boolean
  /**
   * Pause between writing the lock and re-checking for others (default 200 ms, as restic; 0 on a local folder:
   * there a lock file is listed the moment its rename returns, and two processes that each write before they
   * list cannot both miss the other, so the pause buys nothing).
   */
  waitMs?: number
  /** Refresh interval while held (default 5 min; 0 = never). */
  refreshMs?: number
  /** Keep retrying a conflicting lock this long before giving up (default 0: fail at once). */
  retryMs?: number
  /** Called when a background refresh fails. */
  onRefreshError?: (err: unknown) => void
}

function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Whether a lock no longer counts. */
export function isStale(lock: LockInfo, now = Date.now(), hostname = os.hostname()): boolean {
  const t = Date.parse(lock.time)
  if (Number.isNaN(t) || now - t > STALE_AFTER_MS) return true
  if (lock.hostname === hostname && !processAlive(lock.pid)) return true
  return false
}

function currentLockInfo(exclusive: boolean): LockInfo {
  let username = ''
  try {
    username = os.userInfo().username
  } catch {
    username = process.env.USER ?? ''
  }
  return {
    time: formatGoTime(new Date()),
    exclusive,
    hostname: os.hostname(),
    username,
    pid: process.pid,
    uid: process.getuid?.() ?? 0,
    gid: process.getgid?.() ?? 0,
  }
}

export function describeLock(id: string, l: LockInfo): string {
  return `${l.exclusive ? 'exclusive' : 'non-exclusive'} lock ${id.slice(0, 8)} held by ${l.username || '?'}@${l.hostname} (PID ${l.pid}) since ${l.time}`
}

/** All lock files, read and judged. Files removed while listing are left out. */
export async function listLocks(repo: Repository): Promise<LockEntry[]> {
  const files = await repo.backend.list('lock')
  const now = Date.now()
  const out: LockEntry[] = []
  await Promise.all(
    files.map(async (f) => {
      try {
        const lock = await repo.loadUnpacked<LockInfo>('lock', f.name)
        out.push({id: f.name, lock, stale: isStale(lock, now)})
      } catch (error) {
        if (error instanceof NotFoundError) return
        out.push({id: f.name, error: error instanceof Error ? error.message : String(error), stale: false})
      }
    }),
  )
  return out.sort((a, b) => (a.id < b.id ? -1 : 1))
}

function conflicts(locks: LockEntry[], exclusive: boolean, ownId?: string): LockEntry[] {
  return locks.filter((e) => {
    if (e.id === ownId || e.stale) return false
    if (!e.lock) return true // unreadable: better safe
    return exclusive || e.lock.exclusive
  })
}

function conflictError(found: LockEntry[], exclusive: boolean, where: string): LockConflictError {
  const e = found[0]
  const what = e.lock ? describeLock(e.id, e.lock) : `unreadable lock ${e.id.slice(0, 8)} (${e.error})`
  const more = found.length > 1 ? ` and ${found.length - 1} more` : ''
  return new LockConflictError(`unable to take ${exclusive ? 'an exclusive' : 'a'} lock: repository is already locked: ${what}${more}`, {
    where,
    details: found.map((f) => ({id: f.id, ...f.lock, error: f.error})),
  })
}

/*
 * restic (0.14 and others) checks whether a same-host lock holder is alive by sending it SIGHUP, whose
 * default action in Node ends the process. While this process holds a lock it therefore ignores SIGHUP
 * (refcounted over held locks), as restic itself must survive its peers' probes.
 */
let sighupHolders = 0
const ignoreSighup = (): void => {}
function holdSighup(): void {
  if (sighupHolders++ === 0) process.on('SIGHUP', ignoreSighup)
}
function dropSighup(): void {
  if (sighupHolders > 0 && --sighupHolders === 0) process.off('SIGHUP', ignoreSighup)
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/** A lock this process holds. */
export class RepositoryLock {
  private timer: NodeJS.Timeout | undefined
  private releasedFlag = false
  private chain: Promise<void> = Promise.resolve()

  constructor(
    private readonly repo: Repository,
    private lockId: string,
    readonly info: LockInfo,
    refreshMs: number,
    private readonly onRefreshError?: (err: unknown) => void,
  ) {
    holdSighup()
    if (refreshMs > 0) {
      this.timer = setInterval(() => {
        this.refresh().catch((error) => this.onRefreshError?.(error))
      }, refreshMs)
      this.timer.unref()
    }
  }

  get id(): string {
    return this.lockId
  }

  get released(): boolean {
    return this.releasedFlag
  }

  /** Writes a fresh lock file (new time) and removes the old one. */
  refresh(): Promise<void> {
    const run = async () => {
      if (this.releasedFlag) return
      const info = {...this.info, time: formatGoTime(new Date())}
      const id = await this.repo.saveUnpacked('lock', info)
      const old = this.lockId
      this.lockId = id
      this.info.time = info.time
      if (old !== id) await this.repo.backend.remove({type: 'lock', name: old}).catch(ignoreNotFound)
    }
    this.chain = this.chain.then(run, run)
    return this.chain
  }

  /** Removes the lock file and stops refreshing. */
  async release(): Promise<void> {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
    await this.chain.catch(() => {})
    if (this.releasedFlag) return
    this.releasedFlag = true
    dropSighup()
    await this.repo.backend.remove({type: 'lock', name: this.lockId}).catch(ignoreNotFound)
  }
}

function ignoreNotFound(error: unknown): void {
  if (!(error instanceof NotFoundError)) throw error
}

/**
 * Takes a lock: check for conflicting locks, write ours, wait, check again (someone may have written one
 * at the same moment); on a conflict ours is removed and LockConflictError names the holder.
 */
export async function lockRepository(repo: Repository, opts: LockOptions = {}): Promise<RepositoryLock> {
  const exclusive = opts.exclusive ?? false
  const waitMs = opts.waitMs ?? (repo.backend instanceof LocalBackend ? 0 : WAIT_AFTER_WRITE_MS)
  const deadline = Date.now() + (opts.retryMs ?? 0)
  for (;;) {
    try {
      return await tryLock(repo, exclusive, waitMs, opts)
    } catch (error) {
      if (!(error instanceof LockConflictError) || Date.now() >= deadline) throw error
      await sleep(Math.min(5000, Math.max(100, deadline - Date.now())))
    }
  }
}

async function tryLock(repo: Repository, exclusive: boolean, waitMs: number, opts: LockOptions): Promise<RepositoryLock> {
  const where = repo.backend.location
  let found = conflicts(await listLocks(repo), exclusive)
  if (found.length > 0) throw conflictError(found, exclusive, where)
  const info = currentLockInfo(exclusive)
  holdSighup() // our lock file is visible from here on
  try {
    const id = await repo.saveUnpacked('lock', info)
    if (waitMs > 0) await sleep(waitMs)
    try {
      found = conflicts(await listLocks(repo), exclusive, id)
    } catch (error) {
      await repo.backend.remove({type: 'lock', name: id}).catch(() => {})
      throw error
    }
    if (found.length > 0) {
      await repo.backend.remove({type: 'lock', name: id}).catch(() => {})
      throw conflictError(found, exclusive, where)
    }
    return new RepositoryLock(repo, id, info, opts.refreshMs ?? REFRESH_EVERY_MS, opts.onRefreshError)
  } finally {
    dropSighup() // the RepositoryLock holds its own count
  }
}

/** Removes stale locks; returns their IDs. */
export async function removeStaleLocks(repo: Repository): Promise<string[]> {
  const removed: string[] = []
  for (const e of await listLocks(repo)) {
    if (!e.stale) continue
    await repo.backend.remove({type: 'lock', name: e.id}).catch(ignoreNotFound)
    removed.push(e.id)
  }
  return removed
}

/** Removes every lock file, stale or not (unlock --remove-all); returns their IDs. */
export async function removeAllLocks(repo: Repository): Promise<string[]> {
  const files = await repo.backend.list('lock')
  for (const f of files) await repo.backend.remove({type: 'lock', name: f.name}).catch(ignoreNotFound)
  return files.map((f) => f.name)
}
