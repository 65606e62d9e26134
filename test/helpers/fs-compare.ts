/** Compares two folder trees the way a user would check a restore: names, types, bytes and metadata. */
import fs from 'node:fs'
import path from 'node:path'
import {getAttributeSync, listAttributesSync} from '@napi-rs/xattr'

export interface CompareOptions {
  /** Compare modification times to the nanosecond (else to the microsecond). */
  nanoseconds?: boolean
  owners?: boolean
  xattrs?: boolean
  /** Names (relative paths) to leave out. */
  skip?: string[]
}

/** Lists every difference between a and b (empty when they match). */
export function compareTrees(a: string, b: string, o: CompareOptions = {}): string[] {
  const diffs: string[] = []
  const inodesA = new Map<bigint, string>()
  const inodesB = new Map<bigint, string>()
  const walk = (rel: Buffer) => {
    const pa = Buffer.concat([Buffer.from(a), rel])
    const pb = Buffer.concat([Buffer.from(b), rel])
    const name = rel.toString() || '/'
    if (o.skip?.includes(name.replace(/^\//, ''))) return
    let sa: fs.BigIntStats, sb: fs.BigIntStats
    try {
      sa = fs.lstatSync(pa, {bigint: true})
    } catch {
      diffs.push(`${name}: missing in original`)
      return
    }
    try {
      sb = fs.lstatSync(pb, {bigint: true})
    } catch {
      diffs.push(`${name}: missing in restore`)
      return
    }
    const ta = Number(sa.mode) & 0o170000
    if (ta !== (Number(sb.mode) & 0o170000)) {
      diffs.push(`${name}: type ${ta.toString(8)} vs ${(Number(sb.mode) & 0o170000).toString(8)}`)
      return
    }
    if (!sa.isSymbolicLink() && (Number(sa.mode) & 0o7777) !== (Number(sb.mode) & 0o7777)) {
      diffs.push(`${name}: mode ${(Number(sa.mode) & 0o7777).toString(8)} vs ${(Number(sb.mode) & 0o7777).toString(8)}`)
    }
    if (o.owners && (sa.uid !== sb.uid || sa.gid !== sb.gid)) diffs.push(`${name}: owner ${sa.uid}:${sa.gid} vs ${sb.uid}:${sb.gid}`)
    const div = o.nanoseconds ? 1n : 1000n
    if (!sa.isDirectory() && sa.mtimeNs / div !== sb.mtimeNs / div) diffs.push(`${name}: mtime ${sa.mtimeNs} vs ${sb.mtimeNs}`)
    if (sa.isSymbolicLink()) {
      const la = fs.readlinkSync(pa, {encoding: 'buffer'})
      const lb = fs.readlinkSync(pb, {encoding: 'buffer'})
      if (!la.equals(lb)) diffs.push(`${name}: link target ${la.toString()} vs ${lb.toString()}`)
      return
    }
    if (sa.isFile()) {
      if (sa.size !== sb.size) diffs.push(`${name}: size ${sa.size} vs ${sb.size}`)
      else if (!fs.readFileSync(pa).equals(fs.readFileSync(pb))) diffs.push(`${name}: contents differ`)
      if (sa.nlink > 1n) {
        const other = inodesA.get(sa.ino)
        if (other !== undefined && inodesB.get(sb.ino) !== other) diffs.push(`${name}: hard link to ${other} not kept`)
        inodesA.set(sa.ino, name)
        inodesB.set(sb.ino, name)
      }
    }
    if (sa.isCharacterDevice() || sa.isBlockDevice()) {
      if (sa.rdev !== sb.rdev) diffs.push(`${name}: device ${sa.rdev} vs ${sb.rdev}`)
    }
    if (o.xattrs && (sa.isFile() || sa.isDirectory())) {
      const xa = xattrs(pa.toString())
      const xb = xattrs(pb.toString())
      if (JSON.stringify(xa) !== JSON.stringify(xb)) diffs.push(`${name}: xattrs ${JSON.stringify(xa)} vs ${JSON.stringify(xb)}`)
    }
    if (sa.isDirectory()) {
      const na = fs.readdirSync(pa, {encoding: 'buffer'}).sort(Buffer.compare)
      const nb = fs.readdirSync(pb, {encoding: 'buffer'}).sort(Buffer.compare)
      const setB = new Set(nb.map((x) => x.toString('hex')))
      for (const n of na) {
        if (!setB.has(n.toString('hex'))) {
          if (!o.skip?.includes(Buffer.concat([rel, Buffer.from('/'), n]).toString().replace(/^\//, ''))) diffs.push(`${Buffer.concat([rel, Buffer.from('/'), n]).toString()}: missing in restore`)
          continue
        }
        walk(Buffer.concat([rel, Buffer.from('/'), n]))
      }
      const setA = new Set(na.map((x) => x.toString('hex')))
      for (const n of nb) if (!setA.has(n.toString('hex'))) diffs.push(`${Buffer.concat([rel, Buffer.from('/'), n]).toString()}: extra in restore`)
    }
  }
  walk(Buffer.alloc(0))
  return diffs
}

function xattrs(p: string): Record<string, string> {
  const out: Record<string, string> = {}
  try {
    for (const n of listAttributesSync(p).sort()) out[n] = (getAttributeSync(p, n) ?? Buffer.alloc(0)).toString('hex')
  } catch {
    // not supported here
  }
  return out
}

export function listRepoFiles(repo: string): string[] {
  const out: string[] = []
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, {withFileTypes: true})) {
      const p = path.join(d, e.name)
      if (e.isDirectory()) walk(p)
      else out.push(path.relative(repo, p))
    }
  }
  walk(repo)
  return out.sort()
}
