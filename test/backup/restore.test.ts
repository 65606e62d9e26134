import {setAttributeSync, getAttributeSync} from '@napi-rs/xattr'
import {expect} from 'chai'
import {execFileSync} from 'node:child_process'
import {createHash, randomBytes} from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'

import {LocalBackend} from '../../src/backup/backend/local.js'
import {Repository} from '../../src/backup/repository.js'
import {restoreSnapshot, type RestoreResult} from '../../src/backup/restorer.js'
import {removeTree, restic, tempDir, writePasswordFile, hasRestic} from './repo-helpers.js'

const PW = 'restore-test-password'
const NON_UTF8 = Buffer.from([0x62, 0x61, 0x64, 0xff, 0xfe, 0x2e, 0x62, 0x69, 0x6e]) // "bad\xff\xfe.bin"
const SPARSE_HOLE = 16 << 20

/** Builds a folder with the metadata edge cases restic records. Returns whether xattrs are supported. */
function makeSource(src: string): boolean {
  fs.mkdirSync(path.join(src, 'dir/nested/deeper'), {recursive: true})
  fs.mkdirSync(path.join(src, 'empty-dir'))
  fs.mkdirSync(path.join(src, 'keep/sub'), {recursive: true})
  fs.writeFileSync(path.join(src, 'keep/a.txt'), 'keep a\n')
  fs.writeFileSync(path.join(src, 'keep/sub/b.log'), 'keep b\n')
  fs.writeFileSync(path.join(src, 'dir/nested/deeper/leaf.txt'), 'leaf\n')
  fs.writeFileSync(path.join(src, 'empty'), '')
  fs.writeFileSync(path.join(src, 'random.bin'), randomBytes(3 << 20))
  fs.writeFileSync(path.join(src, 'victim.txt'), 'this small file sits in a pack with others\n'.repeat(20))
  for (let i = 0; i < 20; i++) fs.writeFileSync(path.join(src, 'dir', `small-${i}.txt`), `small file ${i}\n`.repeat(i + 1))
  // Sparse: data, a 16 MiB hole, data.
  const fd = fs.openSync(path.join(src, 'sparse.img'), 'w')
  fs.writeSync(fd, randomBytes(64 << 10), 0, 64 << 10, 0)
  fs.writeSync(fd, randomBytes(64 << 10), 0, 64 << 10, (64 << 10) + SPARSE_HOLE)
  fs.closeSync(fd)
  fs.symlinkSync('random.bin', path.join(src, 'link'))
  fs.symlinkSync('does/not/exist', path.join(src, 'dangling'))
  fs.writeFileSync(path.join(src, 'hard-a'), 'hard linked content\n')
  fs.linkSync(path.join(src, 'hard-a'), path.join(src, 'dir/hard-b'))
  execFileSync('mkfifo', [path.join(src, 'fifo')])
  fs.writeFileSync(path.join(src, 'ünïcødé 日本.txt'), 'unicode name\n')
  fs.writeFileSync(Buffer.concat([Buffer.from(src + '/'), NON_UTF8]), 'non-utf8 name\n')
  fs.writeFileSync(path.join(src, 'setuid'), '#!/bin/sh\n')
  fs.chmodSync(path.join(src, 'setuid'), 0o4751)
  fs.chmodSync(path.join(src, 'dir/nested'), 0o750)
  let xattrs = true
  try {
    setAttributeSync(path.join(src, 'keep/a.txt'), 'user.lifeboat', Buffer.from('xattr value'))
  } catch {
    xattrs = false
  }
  // Nanosecond times (touch takes them; Node's utimes rounds to microseconds), folders last.
  const all = listTree(src)
  for (const [i, rel] of all.entries()) {
    const p = Buffer.concat([Buffer.from(src), rel])
    const t = `@${1_600_000_000 + i}.${String(123_456_789 + i).padStart(9, '0')}`
    if (fs.lstatSync(p).isDirectory()) continue
    // argv is UTF-8: a non-UTF-8 name gets microsecond times through Node.
    if (rel.equals(Buffer.concat([Buffer.from('/'), NON_UTF8]))) fs.utimesSync(p, 1_600_000_000.5, 1_600_000_000.25)
    else execFileSync('touch', ['-h', '-m', '-d', t, p.toString()])
  }
  for (const rel of all.reverse()) {
    const p = Buffer.concat([Buffer.from(src), rel])
    if (fs.lstatSync(p).isDirectory()) fs.utimesSync(p, 1_500_000_000.5, 1_500_000_000.25)
  }
  return xattrs
}

/** Relative paths (as Buffers, leading '/') of everything below `root`, parents before children. */
function listTree(root: string | Buffer, rel: Buffer = Buffer.alloc(0)): Buffer[] {
  const out: Buffer[] = []
  const dir = Buffer.concat([Buffer.from(root), rel])
  for (const name of fs.readdirSync(dir, {encoding: 'buffer'}).sort(Buffer.compare)) {
    const r = Buffer.concat([rel, Buffer.from('/'), name])
    out.push(r)
    if (fs.lstatSync(Buffer.concat([Buffer.from(root), r])).isDirectory()) out.push(...listTree(root, r))
  }
  return out
}

interface Facts {
  type: string
  mode: number
  uid: number
  gid: number
  mtimeNs: bigint
  size: number
  sha?: string
  target?: string
  xattr?: string
}

function facts(p: Buffer): Facts {
  const st = fs.lstatSync(p, {bigint: true})
  const f: Facts = {
    type: st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : st.isFIFO() ? 'fifo' : 'other',
    mode: Number(st.mode),
    uid: Number(st.uid),
    gid: Number(st.gid),
    mtimeNs: st.mtimeNs,
    size: st.isDirectory() ? 0 : Number(st.size),
  }
  if (st.isFile()) f.sha = createHash('sha256').update(fs.readFileSync(p)).digest('hex')
  if (st.isSymbolicLink()) f.target = fs.readlinkSync(p, {encoding: 'buffer'}).toString('hex')
  if (st.isFile() && p.toString().endsWith('a.txt')) f.xattr = getAttributeSync(p.toString(), 'user.lifeboat')?.toString() ?? ''
  return f
}

/** Compares two trees entry by entry; returns differences. */
function compareTrees(a: string, b: string, opts: {only?: (rel: string) => boolean} = {}): string[] {
  const diffs: string[] = []
  const la = listTree(a).filter((r) => !opts.only || opts.only(r.toString()))
  const lb = listTree(b).filter((r) => !opts.only || opts.only(r.toString()))
  expect(lb.map((r) => r.toString('hex'))).to.deep.equal(la.map((r) => r.toString('hex')))
  for (const rel of la) {
    const fa = facts(Buffer.concat([Buffer.from(a), rel]))
    const fb = facts(Buffer.concat([Buffer.from(b), rel]))
    for (const k of Object.keys(fa) as Array<keyof Facts>) {
      if (fa[k] !== fb[k]) diffs.push(`${rel.toString()}: ${k} ${String(fa[k])} ≠ ${String(fb[k])}`)
    }
  }
  return diffs
}

describe('backup restorer @integration', function () {
  let dir: string
  let src: string
  let repoDir: string
  let pwFile: string
  let repo: Repository
  let snapshotId: string
  let xattrs: boolean
  let ours: string
  let theirs: string
  let result: RestoreResult
  /** atimes of both restores, taken before anything reads the files. */
  const atimes = {ours: new Map<string, bigint>(), theirs: new Map<string, bigint>()}

  before(async function () {
    if (!hasRestic()) this.skip()
    dir = await tempDir('lifeboat-restore-')
    src = path.join(dir, 'src')
    fs.mkdirSync(src)
    xattrs = makeSource(src)
    repoDir = path.join(dir, 'repo')
    pwFile = await writePasswordFile(dir, PW)
    await restic(repoDir, pwFile, ['init'])
    await restic(repoDir, pwFile, ['backup', src])
    const out = await restic(repoDir, pwFile, ['snapshots', '--json'])
    snapshotId = (JSON.parse(out.stdout) as Array<{id: string}>)[0].id
    theirs = path.join(dir, 'restic-restore')
    await restic(repoDir, pwFile, ['restore', snapshotId, '--target', theirs])
    repo = await Repository.open(new LocalBackend(repoDir), PW)
    ours = path.join(dir, 'ours')
    const sn = await repo.findSnapshot(snapshotId)
    result = await restoreSnapshot(repo, {snapshot: sn, target: ours})
    for (const [k, root] of [['ours', ours], ['theirs', theirs]] as const) {
      for (const rel of listTree(path.join(root, src))) {
        // (Folder atimes change as the listing itself reads them.)
        const st = fs.lstatSync(Buffer.concat([Buffer.from(path.join(root, src)), rel]), {bigint: true})
        if (!st.isDirectory()) atimes[k].set(rel.toString('hex'), st.atimeNs)
      }
    }
    // Verification reads with O_NOATIME: it leaves the atimes alone.
    result = await restoreSnapshot(repo, {snapshot: sn, target: ours, verify: true})
    for (const rel of listTree(path.join(ours, src))) {
      const st = fs.lstatSync(Buffer.concat([Buffer.from(path.join(ours, src)), rel]), {bigint: true})
      if (!st.isDirectory() && st.atimeNs !== atimes.ours.get(rel.toString('hex'))) throw new Error(`atime of ${rel.toString()} changed by a second restore with verify`)
    }
  })

  after(async function () {
    if (dir) await removeTree(dir)
  })

  it('restores contents and metadata like the original (modes, owners, ns mtimes, links, xattrs, special files, names)', function () {
    expect(result.errors).to.deep.equal([])
    expect(result.warnings).to.deep.equal([])
    const diffs = compareTrees(src, path.join(ours, src))
    expect(diffs).to.deep.equal([])
    const a = fs.statSync(path.join(ours, src, 'hard-a'))
    const b = fs.statSync(path.join(ours, src, 'dir/hard-b'))
    expect(a.ino).to.equal(b.ino)
    expect(a.nlink).to.equal(2)
    expect(fs.lstatSync(path.join(ours, src, 'setuid')).mode & 0o7777).to.equal(0o4751)
    expect(fs.lstatSync(path.join(ours, src, 'fifo')).isFIFO()).to.equal(true)
    expect(fs.readlinkSync(path.join(ours, src, 'dangling'))).to.equal('does/not/exist')
    expect(fs.readFileSync(Buffer.concat([Buffer.from(path.join(ours, src) + '/'), NON_UTF8])).toString()).to.equal('non-utf8 name\n')
    if (xattrs) expect(getAttributeSync(path.join(ours, src, 'keep/a.txt'), 'user.lifeboat')?.toString()).to.equal('xattr value')
    expect(fs.lstatSync(path.join(ours, src, 'empty')).size).to.equal(0)
  })

  it('matches restic 0.14’s own restore of the same snapshot, atimes included', function () {
    expect(compareTrees(path.join(theirs, src), path.join(ours, src))).to.deep.equal([])
    expect(atimes.ours.size).to.be.greaterThan(30)
    for (const [rel, t] of atimes.theirs) expect(atimes.ours.get(rel), Buffer.from(rel, 'hex').toString()).to.equal(t)
  })

  it('keeps holes of sparse files', function () {
    const st = fs.statSync(path.join(ours, src, 'sparse.img'))
    expect(st.size).to.equal(SPARSE_HOLE + (128 << 10))
    // Allocated bytes: the data (128 KiB) plus at most the chunks the data shares with zeros.
    expect(st.blocks * 512).to.be.lessThan(4 << 20)
  })

  it('reports counts and a clean verification', function () {
    expect(result.snapshotId).to.equal(snapshotId)
    expect(result.target).to.equal(ours)
    expect(result.bytes).to.be.greaterThan((3 << 20) + SPARSE_HOLE)
    expect(result.files).to.be.greaterThan(30)
    expect(result.dirs).to.be.greaterThanOrEqual(8)
    expect(result.verified?.mismatches).to.deep.equal([])
    expect(result.verified?.files).to.be.greaterThan(25)
  })

  it('verify finds a file changed after the restore', async function () {
    const target = path.join(dir, 'verify-check')
    const sn = await repo.findSnapshot(snapshotId)
    const r = await restoreSnapshot(repo, {snapshot: sn, target, include: ['/**/keep']})
    expect(r.errors).to.deep.equal([])
    // Restore again over it with verify: the files are overwritten, so verification passes.
    fs.writeFileSync(path.join(target, src, 'keep/a.txt'), 'changed!')
    const r2 = await restoreSnapshot(repo, {snapshot: sn, target, include: ['/**/keep'], verify: true})
    expect(r2.verified?.mismatches).to.deep.equal([])
    expect(fs.readFileSync(path.join(target, src, 'keep/a.txt'), 'utf8')).to.equal('keep a\n')
  })

  it('honours include (a folder includes what is below; leading folders are created) and exclude', async function () {
    const sn = await repo.findSnapshot(snapshotId)
    const t1 = path.join(dir, 'inc')
    const r1 = await restoreSnapshot(repo, {snapshot: sn, target: t1, include: ['keep', 'leaf.txt']})
    expect(r1.errors).to.deep.equal([])
    const got = listTree(path.join(t1, src)).map((r) => r.toString())
    expect(got).to.deep.equal(['/dir', '/dir/nested', '/dir/nested/deeper', '/dir/nested/deeper/leaf.txt', '/keep', '/keep/a.txt', '/keep/sub', '/keep/sub/b.log'])
    // The included folder gets its metadata; the leading folders only exist.
    expect(fs.statSync(path.join(t1, src, 'keep')).mtimeMs).to.equal(fs.statSync(path.join(src, 'keep')).mtimeMs)

    const t2 = path.join(dir, 'exc')
    const r2 = await restoreSnapshot(repo, {snapshot: sn, target: t2, exclude: ['*.bin', '/**/dir/nested', 'sparse.img']})
    expect(r2.errors).to.deep.equal([])
    const names = new Set(listTree(path.join(t2, src)).map((r) => r.toString()))
    expect(names.has('/random.bin')).to.equal(false)
    expect(names.has('/sparse.img')).to.equal(false)
    expect(names.has('/dir/nested')).to.equal(false)
    expect(names.has('/dir/small-3.txt')).to.equal(true)
    expect(names.has('/link')).to.equal(true)
    expect(compareTrees(src, path.join(t2, src), {only: (r) => names.has(r)})).to.deep.equal([])
  })

  it('restores a subfolder of the snapshot into the target (snapshot:subfolder)', async function () {
    const sn = await repo.findSnapshot(snapshotId)
    const t = path.join(dir, 'sub')
    const r = await restoreSnapshot(repo, {snapshot: sn, target: t, subPath: path.join(src, 'dir')})
    expect(r.errors).to.deep.equal([])
    expect(compareTrees(path.join(src, 'dir'), t)).to.deep.equal([])
  })

  it('reports a damaged blob with the file and pack it affects and restores everything else', async function () {
    const broken = path.join(dir, 'broken-repo')
    fs.cpSync(repoDir, broken, {recursive: true})
    const brepo = await Repository.open(new LocalBackend(broken), PW)
    await brepo.loadIndex()
    const sn = await brepo.findSnapshot(snapshotId)
    // Find victim.txt's blob through the tree.
    const {decodeTree} = await import('../../src/backup/tree.js')
    let tree = sn.snapshot.tree
    for (const c of src.split('/').filter(Boolean)) {
      const n = decodeTree(await brepo.loadBlob('tree', tree)).find((x) => x.name === c)!
      tree = n.subtree!
    }
    const victim = decodeTree(await brepo.loadBlob('tree', tree)).find((x) => x.name === 'victim.txt')!
    const loc = brepo.index.lookup('data', victim.content![0])!
    const packFile = (brepo.backend as LocalBackend).filename({type: 'pack', name: loc.packId})
    fs.chmodSync(packFile, 0o600)
    const fd = fs.openSync(packFile, 'r+')
    const b = Buffer.alloc(1)
    fs.readSync(fd, b, 0, 1, loc.offset + 20)
    b[0] ^= 0xff
    fs.writeSync(fd, b, 0, 1, loc.offset + 20)
    fs.closeSync(fd)

    const t = path.join(dir, 'damaged')
    const r = await restoreSnapshot(brepo, {snapshot: sn, target: t, verify: true})
    expect(r.errors.length).to.be.greaterThan(0)
    const victimPath = path.join(t, src, 'victim.txt')
    const e = r.errors.find((x) => x.path === victimPath && x.message.includes(loc.packId))
    expect(e, JSON.stringify(r.errors)).to.not.equal(undefined)
    expect(e!.message).to.match(/MAC|verification/i)
    expect(r.errors.every((x) => x.path === victimPath)).to.equal(true)
    expect(r.verified?.mismatches).to.deep.equal([victimPath])
    expect(compareTrees(src, path.join(t, src), {only: (p) => p !== '/victim.txt'}).filter((d) => !d.startsWith('/victim.txt'))).to.deep.equal([])
    // Every other file is byte-identical.
    for (const rel of listTree(src)) {
      if (rel.toString() === '/victim.txt') continue
      const p = Buffer.concat([Buffer.from(src), rel])
      if (!fs.lstatSync(p).isFile()) continue
      expect(fs.readFileSync(Buffer.concat([Buffer.from(path.join(t, src)), rel])).equals(fs.readFileSync(p)), rel.toString()).to.equal(true)
    }
    // A missing pack is reported the same way.
    fs.rmSync(packFile)
    const r2 = await restoreSnapshot(brepo, {snapshot: sn, target: path.join(dir, 'missing-pack')})
    expect(r2.errors.some((x) => x.path.endsWith('victim.txt') && x.message.includes(loc.packId) && /missing/.test(x.message))).to.equal(true)
  })
})
