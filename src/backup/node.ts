/**
 * File metadata ⇄ tree nodes, as restic 0.14 records and restores it on Linux.
 *
 * Recorded (checked against restic 0.14 trees): mode as Go FileMode bits; mtime, atime (= mtime: restic
 * 0.14 does not record the real access time), ctime as Go
 * RFC3339Nano in the machine's local zone (fraction without trailing zeros, "Z" for a zero offset, else
 * "±hh:mm"); uid/gid; user/group names (omitted when unknown); inode and device_id for every type;
 * size and links for files; links and linktarget for symlinks; links and device (rdev) for block/char
 * devices; nothing extra for dirs, fifos, sockets; extended attributes (names in listxattr order, not
 * following symlinks) for every type.
 */
import {execFile} from 'node:child_process'
import {chmod, close, constants, lchown, lstat, lutimes, open, readFileSync, readlink, symlink, utimes} from 'node:fs'
import {promisify} from 'node:util'
import {getAttributeSync, listAttributesSync, setAttribute} from '@napi-rs/xattr'
import {type StatLike, xattrListSize} from './native.js'
import {isValidUtf8} from './tree.js'
import type {TreeNode} from './types.js'

const pExecFile = promisify(execFile)
const pChmod = promisify(chmod)
const pLchown = promisify(lchown)
const pLstat = promisify(lstat)
const pLutimes = promisify(lutimes)
const pUtimes = promisify(utimes)
const pReadlink = promisify(readlink)
const pSymlink = promisify(symlink)
const pOpen = promisify(open)
const pClose = promisify(close)

export type FsPath = string | Buffer

// ---------------------------------------------------------------------------------------------------
// Go FileMode

export const GO_MODE_DIR = 2 ** 31
export const GO_MODE_SYMLINK = 1 << 27
export const GO_MODE_DEVICE = 1 << 26
export const GO_MODE_NAMED_PIPE = 1 << 25
export const GO_MODE_SOCKET = 1 << 24
export const GO_MODE_SETUID = 1 << 23
export const GO_MODE_SETGID = 1 << 22
export const GO_MODE_CHAR_DEVICE = 1 << 21
export const GO_MODE_STICKY = 1 << 20
export const GO_MODE_IRREGULAR = 1 << 19

/** Unix st_mode → Go os.FileMode bits (as Go's os.Lstat computes them on Linux). */
export function goFileMode(stMode: number): number {
  let m = stMode & 0o777
  switch (stMode & constants.S_IFMT) {
    case constants.S_IFBLK: m += GO_MODE_DEVICE; break
    case constants.S_IFCHR: m += GO_MODE_DEVICE + GO_MODE_CHAR_DEVICE; break
    case constants.S_IFDIR: m += GO_MODE_DIR; break
    case constants.S_IFIFO: m += GO_MODE_NAMED_PIPE; break
    case constants.S_IFLNK: m += GO_MODE_SYMLINK; break
    case constants.S_IFSOCK: m += GO_MODE_SOCKET; break
  }
  if (stMode & 0o4000) m += GO_MODE_SETUID
  if (stMode & 0o2000) m += GO_MODE_SETGID
  if (stMode & 0o1000) m += GO_MODE_STICKY
  return m
}

/** Go FileMode bits → the Unix permission bits chmod takes (incl. setuid/setgid/sticky). */
export function unixPermissions(goMode: number): number {
  let p = goMode & 0o777
  if (Math.floor(goMode / GO_MODE_SETUID) % 2) p |= 0o4000
  if (Math.floor(goMode / GO_MODE_SETGID) % 2) p |= 0o2000
  if (Math.floor(goMode / GO_MODE_STICKY) % 2) p |= 0o1000
  return p
}

function nodeType(st: StatLike): TreeNode['type'] {
  if (st.isFile()) return 'file'
  if (st.isDirectory()) return 'dir'
  if (st.isSymbolicLink()) return 'symlink'
  if (st.isBlockDevice()) return 'dev'
  if (st.isCharacterDevice()) return 'chardev'
  if (st.isFIFO()) return 'fifo'
  if (st.isSocket()) return 'socket'
  return 'irregular'
}

// ---------------------------------------------------------------------------------------------------
// Times

const pad = (v: number, w: number): string => String(v).padStart(w, '0')

/**
 * Go's time.Time JSON form (RFC3339Nano) of an instant given in nanoseconds since the epoch, in the
 * local zone (TZ / /etc/localtime, as Go's time.Local): fraction without trailing zeros, "Z" for UTC.
 */
export function formatGoTime(epochNs: bigint): string {
  const sec = epochNs / 1_000_000_000n - (epochNs % 1_000_000_000n < 0n ? 1n : 0n)
  const nsec = Number(epochNs - sec * 1_000_000_000n)
  const ms = Number(sec) * 1000
  const offsetMin = -new Date(ms).getTimezoneOffset()
  const local = new Date(ms + offsetMin * 60_000)
  let s =
    pad(local.getUTCFullYear(), 4) + '-' + pad(local.getUTCMonth() + 1, 2) + '-' + pad(local.getUTCDate(), 2) +
    'T' + pad(local.getUTCHours(), 2) + ':' + pad(local.getUTCMinutes(), 2) + ':' + pad(local.getUTCSeconds(), 2)
  if (nsec > 0) s += '.' + pad(nsec, 9).replace(/0+$/, '')
  if (offsetMin === 0) return s + 'Z'
  const a = Math.abs(offsetMin)
  return s + (offsetMin < 0 ? '-' : '+') + pad(Math.floor(a / 60), 2) + ':' + pad(a % 60, 2)
}

export interface GoTime {
  /** Milliseconds since the epoch (floored). */
  ms: number
  /** Nanoseconds within the second, 0..999999999. */
  ns: number
  /** Whole seconds since the epoch (floored). */
  sec: number
  /** Nanoseconds since the epoch. */
  epochNs: bigint
}

const GO_TIME_RE = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/

/** Parses an RFC 3339 time with up to nanosecond precision (as restic writes them). */
export function parseGoTime(s: string): GoTime {
  const m = GO_TIME_RE.exec(s)
  if (!m) throw new Error(`invalid time "${s}": expected RFC 3339 like 2006-01-02T15:04:05.999999999Z07:00`)
  const [, y, mo, d0, h, mi, se, frac, z, sign, oh, om] = m
  const d = new Date(0)
  d.setUTCFullYear(Number(y), Number(mo) - 1, Number(d0))
  d.setUTCHours(Number(h), Number(mi), Number(se), 0)
  let secs = d.getTime() / 1000
  if (!z) secs -= (sign === '-' ? -1 : 1) * (Number(oh) * 3600 + Number(om) * 60)
  const ns = frac ? Number(frac.padEnd(9, '0')) : 0
  const epochNs = BigInt(secs) * 1_000_000_000n + BigInt(ns)
  return {ms: secs * 1000 + Math.floor(ns / 1e6), ns, sec: secs, epochNs}
}

// ---------------------------------------------------------------------------------------------------
// Users and groups (/etc/passwd, /etc/group), read once

let userNames: Map<number, string> | undefined
let groupNames: Map<number, string> | undefined

function readIdFile(file: string): Map<number, string> {
  const map = new Map<number, string>()
  let text = ''
  try {
    text = readFileSync(file, 'utf8')
  } catch {
    return map
  }
  for (const line of text.split('\n')) {
    const f = line.split(':')
    if (f.length < 3 || line.startsWith('#')) continue
    const id = Number(f[2])
    if (Number.isInteger(id) && !map.has(id)) map.set(id, f[0])
  }
  return map
}

/** Name of a uid ('' when unknown), from /etc/passwd (cached). */
export function lookupUserName(uid: number): string {
  userNames ??= readIdFile('/etc/passwd')
  return userNames.get(uid) ?? ''
}

/** Name of a gid ('' when unknown), from /etc/group (cached). */
export function lookupGroupName(gid: number): string {
  groupNames ??= readIdFile('/etc/group')
  return groupNames.get(gid) ?? ''
}

/** Forgets the cached user and group tables (tests, long-running daemons). */
export function clearIdNameCache(): void {
  userNames = undefined
  groupNames = undefined
}

// ---------------------------------------------------------------------------------------------------
// Extended attributes (through @napi-rs/xattr, which does not follow symlinks)

/**
 * Runs `fn` with a string path for `path`. Non-UTF-8 paths (Buffers) go through /proc/<pid>/fd (usable
 * by child processes too; it follows to the file, so use it without "no-follow" flags); that cannot reach
 * a symlink itself, so then `fn` gets undefined.
 */
async function withStringPath<T>(path: FsPath, isSymlink: boolean, fn: (p: string | undefined) => Promise<T>): Promise<T> {
  if (typeof path === 'string') return fn(path)
  if (isValidUtf8(path)) return fn(path.toString('utf8'))
  if (isSymlink) return fn(undefined)
  const fd = await pOpen(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW)
  try {
    return await fn(`/proc/${process.pid}/fd/${fd}`)
  } finally {
    await pClose(fd)
  }
}

/** The extended attributes of `path` (not following symlinks), in listxattr order. */
export async function readExtendedAttributes(path: FsPath, isSymlink = false): Promise<Array<{name: string; value: Buffer}>> {
  return withStringPath(path, isSymlink, async (p) => {
    if (p === undefined) return []
    // Synchronous on purpose: one short syscall each, far cheaper than a thread-pool round trip per file.
    const names = listAttributesSync(p)
    const out: Array<{name: string; value: Buffer}> = []
    for (const name of names) {
      const value = getAttributeSync(p, name)
      out.push({name, value: value ?? Buffer.alloc(0)})
    }
    return out
  })
}

// ---------------------------------------------------------------------------------------------------
// Backup side

export interface NodeFromStatOptions {
  /** Read extended attributes (default true). */
  xattrs?: boolean
}

/**
 * Builds a tree node (metadata only; `content`/`subtree` are left for the archiver: [] for files,
 * null otherwise) from lstat(path, {bigint: true}). `name` may be a Buffer holding a non-UTF-8 name.
 */
export async function nodeFromStat(path: FsPath, name: string | Buffer, st: StatLike, opts: NodeFromStatOptions = {}): Promise<TreeNode> {
  const type = nodeType(st)
  const uid = Number(st.uid)
  const gid = Number(st.gid)
  const node: TreeNode = {
    name: typeof name === 'string' ? name : name.toString('utf8'),
    type,
    mode: goFileMode(Number(st.mode)),
    mtime: formatGoTime(st.mtimeNs),
    // restic 0.14 records the modification time as atime too (verified: atime 2022 / mtime 2020 → both 2020).
    atime: formatGoTime(st.mtimeNs),
    ctime: formatGoTime(st.ctimeNs),
    uid,
    gid,
    content: type === 'file' ? [] : null,
  }
  if (typeof name !== 'string' && !isValidUtf8(name)) node.nameRaw = Buffer.from(name)
  const user = lookupUserName(uid)
  const group = lookupGroupName(gid)
  if (user) node.user = user
  if (group) node.group = group
  node.inode = Number(st.ino)
  node.device_id = Number(st.dev)
  switch (type) {
    case 'file':
      node.size = Number(st.size)
      node.links = Number(st.nlink)
      break
    case 'symlink': {
      const target = await pReadlink(path, {encoding: 'buffer'})
      node.linktarget = target.toString('utf8')
      if (!isValidUtf8(target)) node.linktargetRaw = target
      node.links = Number(st.nlink)
      break
    }
    case 'dev':
    case 'chardev':
      node.device = Number(st.rdev)
      node.links = Number(st.nlink)
      break
    default:
      break
  }
  // One cheap native llistxattr first: most entries have no attributes, and then there is nothing to ask.
  if (opts.xattrs !== false && xattrListSize(path) !== 0) {
    const xattrs = await readExtendedAttributes(path, type === 'symlink')
    if (xattrs.length > 0) node.extended_attributes = xattrs
  }
  // Drop zero values the encoder would omit anyway, so nodes compare equal to decoded ones.
  for (const k of ['inode', 'device_id', 'size', 'links', 'device', 'mode'] as const) if (node[k] === 0) delete node[k]
  return node
}

/** lstat + nodeFromStat. */
export async function nodeFromPath(path: FsPath, name: string | Buffer, opts: NodeFromStatOptions = {}): Promise<TreeNode> {
  const st = await pLstat(path, {bigint: true})
  return nodeFromStat(path, name, st, opts)
}

// ---------------------------------------------------------------------------------------------------
// Restore side

/** Major/minor of a Linux dev_t (glibc encoding). */
export function splitDevice(rdev: number | bigint): {major: number; minor: number} {
  const d = BigInt(rdev)
  const major = ((d >> 8n) & 0xfffn) | ((d >> 32n) & 0xfffff000n)
  const minor = (d & 0xffn) | ((d >> 12n) & 0xffffff00n)
  return {major: Number(major), minor: Number(minor)}
}

/**
 * Creates a node that is not a file or directory: symlink (raw target bytes when known), fifo, block or
 * char device (through the mkfifo / mknod commands: Node has no mknod). Sockets are not restored (as
 * restic). Metadata is applied separately by restoreNodeMetadata.
 */
export async function createSpecial(path: FsPath, node: TreeNode): Promise<void> {
  switch (node.type) {
    case 'symlink':
      await pSymlink(node.linktargetRaw ?? Buffer.from(node.linktarget ?? '', 'utf8'), path)
      return
    case 'fifo':
    case 'dev':
    case 'chardev': {
      if (typeof path !== 'string' && !isValidUtf8(path)) {
        throw new Error(`cannot create ${node.type} at a non-UTF-8 path with the external mkfifo/mknod tools`)
      }
      const p = typeof path === 'string' ? path : path.toString('utf8')
      const mode = (unixPermissions(node.mode ?? 0) & 0o777).toString(8)
      if (node.type === 'fifo') {
        await pExecFile('mkfifo', ['-m', mode, '--', p])
      } else {
        const {major, minor} = splitDevice(node.device ?? 0)
        await pExecFile('mknod', ['-m', mode, '--', p, node.type === 'dev' ? 'b' : 'c', String(major), String(minor)])
      }
      return
    }
    default:
      throw new Error(`createSpecial cannot create a node of type ${node.type}`)
  }
}

export interface RestoreMetadataOptions {
  /**
   * Exact nanosecond times: after lutimes (microsecond precision) set the times again with
   * `touch -h -d @sec.nanosec` (one process per time; slower). Default false.
   */
  preciseTimes?: boolean
  /** Skip restoring atime/mtime (e.g. for directories restored before their contents). */
  skipTimes?: boolean
}

export interface RestoreMetadataResult {
  /** Problems that did not stop the restore (e.g. chown without privileges, xattr not supported). */
  warnings: string[]
}

/**
 * Seconds as a double that libuv turns into exactly this microsecond: libuv truncates to whole
 * microseconds, so aim half a microsecond above to absorb the double's rounding.
 */
export function utimesSeconds(t: GoTime): number {
  return t.sec + (Math.floor(t.ns / 1000) + 0.5) / 1e6
}

/**
 * Applies a node's metadata to a restored file, as restic does: owner (lchown; only effective as root),
 * permissions incl. setuid/setgid/sticky (not for symlinks), extended attributes, then atime/mtime.
 * Through Node, times are exact to the microsecond; with `preciseTimes` to the nanosecond.
 */
export async function restoreNodeMetadata(path: FsPath, node: TreeNode, opts: RestoreMetadataOptions = {}): Promise<RestoreMetadataResult> {
  const warnings: string[] = []
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0
  try {
    await pLchown(path, node.uid, node.gid)
  } catch (err) {
    if (isRoot) throw err
  }
  if (node.type !== 'symlink') await pChmod(path, unixPermissions(node.mode ?? 0))
  if (node.extended_attributes && node.extended_attributes.length > 0) {
    await withStringPath(path, node.type === 'symlink', async (p) => {
      if (p === undefined) {
        warnings.push('extended attributes of a symlink at a non-UTF-8 path were not restored')
        return
      }
      for (const {name, value} of node.extended_attributes!) {
        try {
          await setAttribute(p, name, value)
        } catch (err) {
          warnings.push(`setting extended attribute ${name}: ${(err as Error).message}`)
        }
      }
    })
  }
  if (!opts.skipTimes) {
    const atime = parseGoTime(node.atime)
    const mtime = parseGoTime(node.mtime)
    if (node.type === 'symlink') await pLutimes(path, utimesSeconds(atime), utimesSeconds(mtime))
    else await pUtimes(path, utimesSeconds(atime), utimesSeconds(mtime))
    if (opts.preciseTimes && (atime.ns % 1000 !== 0 || mtime.ns % 1000 !== 0)) {
      const at = `@${atime.sec}.${String(atime.ns).padStart(9, '0')}`
      const mt = `@${mtime.sec}.${String(mtime.ns).padStart(9, '0')}`
      await withStringPath(path, node.type === 'symlink', async (p) => {
        if (p === undefined) {
          warnings.push('nanosecond times of a symlink at a non-UTF-8 path were kept at microsecond precision')
          return
        }
        // A /proc/<pid>/fd path must be followed; a real path must not (symlinks keep their own times).
        const noFollow = p.startsWith('/proc/') && typeof path !== 'string' ? [] : ['-h']
        await pExecFile('touch', [...noFollow, '-a', '-d', at, '--', p])
        await pExecFile('touch', [...noFollow, '-m', '-d', mt, '--', p])
      })
    }
  }
  return {warnings}
}
