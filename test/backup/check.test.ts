import {expect} from 'chai'
import {randomBytes} from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'

import {LocalBackend} from '../../src/backup/backend/local.js'
import {checkRepository, expectedPackSize, parseTreeForCheck, selectSubset, type CheckResult} from '../../src/backup/checker.js'
import {LockConflictError} from '../../src/backup/errors.js'
import {lockRepository} from '../../src/backup/lock.js'
import {PackWriter, encodeBlob} from '../../src/backup/pack.js'
import {Repository} from '../../src/backup/repository.js'
import {decodeTree} from '../../src/backup/tree.js'
import type {Backend} from '../../src/backup/types.js'
import {UsageError} from '../../src/errors.js'
import {removeTree, restic, tempDir, writePasswordFile} from './repo-helpers.js'

const PW = 'check-test password'

/** A backend that is not a LocalBackend (as S3 will be): the checker loads packs and hands workers the bytes. */
function nonLocal(b: LocalBackend): Backend {
  return {
    location: b.location,
    create: () => b.create(),
    exists: (h) => b.exists(h),
    save: (h, d) => b.save(h, d),
    load: (h, o, l) => b.load(h, o, l),
    stat: (h) => b.stat(h),
    list: (t) => b.list(t),
    remove: (h) => b.remove(h),
    close: () => b.close(),
  }
}
const hexId = (b: number) => b.toString(16).padStart(2, '0') + 'ab'.repeat(31)

describe('backup/checker: subset selection and pack sizes', () => {
  it('n/t groups packs by the first byte of their ID, so 1/t … t/t cover every pack once', () => {
    const ids = Array.from({length: 256}, (_, i) => hexId(i))
    const groups = [1, 2, 3].map((n) => selectSubset(ids, `${n}/3`))
    expect(groups.reduce((s, g) => s + g.size, 0)).to.equal(256)
    expect(new Set(groups.flatMap((g) => [...g])).size).to.equal(256)
    expect(groups[0].has(hexId(0))).to.equal(true) // 0 % 3 = 0 → group 1
    expect(groups[1].has(hexId(4))).to.equal(true) // 4 % 3 = 1 → group 2
  })

  it('x% picks that share at random (at least one pack)', () => {
    const ids = Array.from({length: 10}, (_, i) => hexId(i))
    expect(selectSubset(ids, '50%').size).to.equal(5)
    expect(selectSubset(ids, '1%').size).to.equal(1)
    expect(selectSubset(ids, '100%').size).to.equal(10)
    const a = selectSubset(ids, '30%')
    for (const id of a) expect(ids).to.include(id)
  })

  it('refuses malformed subsets as usage errors (exit code 2)', () => {
    for (const bad of ['0/2', '3/2', '1/300', '0%', '101%', 'half', '1/2/3']) {
      expect(() => selectSubset([], bad), bad).to.throw(UsageError)
      try {
        selectSubset([], bad)
      } catch (error) {
        expect((error as UsageError).exitCode).to.equal(2)
      }
    }
  })

  it('expects blobs + header entries (37 or 41 bytes) + 32 bytes of crypto + 4', () => {
    expect(expectedPackSize([])).to.equal(36)
    expect(expectedPackSize([{length: 100}, {length: 50, uncompressedLength: 80}])).to.equal(150 + 37 + 41 + 36)
  })

  it('parses trees for the check as strictly as the tree decoder on what it relies on', () => {
    const tree = Buffer.from('{"nodes":[{"name":"a","type":"file","content":["' + 'ab'.repeat(32) + '"]},{"name":"d","type":"dir","content":null,"subtree":"' + 'cd'.repeat(32) + '"}]}\n')
    expect(parseTreeForCheck(tree).map((n) => n.name)).to.deep.equal(decodeTree(tree).map((n) => n.name))
    expect(() => parseTreeForCheck(Buffer.from('{"nodes":[{"name":"a","type":"weird"}]}'))).to.throw(/unknown type/)
    expect(() => parseTreeForCheck(Buffer.from('{"nodes":[{"type":"file"}]}'))).to.throw(/lacks a name/)
    expect(() => parseTreeForCheck(Buffer.from('{"nodes":[{"name":"a","type":"file","content":[1]}]}'))).to.throw(/content/)
    expect(() => parseTreeForCheck(Buffer.from('{"nodes":'))).to.throw()
  })
})

describe('backup/checker @integration (repositories written by restic 0.14)', function () {
  this.timeout(120_000)
  let dir: string
  let pristine: string
  let pwFile: string
  let snapshotIds: string[]
  let work = 0

  /** A fresh copy of the restic-written repository (tests damage their copy). */
  async function copyRepo(): Promise<string> {
    const d = path.join(dir, `work-${work++}`)
    await fs.cp(pristine, d, {recursive: true})
    return d
  }

  async function open(repoDir: string): Promise<Repository> {
    return Repository.open(new LocalBackend(repoDir), PW)
  }

  async function check(repoDir: string, o: Parameters<typeof checkRepository>[1] = {}, viaBuffers = false): Promise<CheckResult> {
    const repo = viaBuffers ? await Repository.open(nonLocal(new LocalBackend(repoDir)), PW) : await open(repoDir)
    try {
      return await checkRepository(repo, {workers: 2, ...o})
    } finally {
      await repo.close()
    }
  }

  /** The data pack holding the first blob of /…/src/big.bin, and the file's path in the snapshots. */
  async function bigFilePack(repoDir: string): Promise<{pack: string; offset: number; path: string}> {
    const repo = await open(repoDir)
    await repo.loadIndex()
    const sn = await repo.loadSnapshot(snapshotIds[0])
    let treeId = sn.tree
    let p = ''
    for (const part of path.join(dir, 'src').split('/').filter(Boolean)) {
      const n = decodeTree(await repo.loadBlob('tree', treeId)).find((x) => x.name === part)!
      treeId = n.subtree!
      p += '/' + part
    }
    const big = decodeTree(await repo.loadBlob('tree', treeId)).find((x) => x.name === 'big.bin')!
    // Usually several chunks (≈1 MiB average); the last one is damaged either way.
    expect(big.content!.length).to.be.greaterThan(0)
    const loc = repo.index.lookup('data', big.content![big.content!.length - 1])!
    await repo.close()
    return {pack: loc.packId, offset: loc.offset + Math.floor(loc.length / 2), path: `${p}/big.bin`}
  }

  const packFile = (repoDir: string, id: string) => path.join(repoDir, 'data', id.slice(0, 2), id)

  before(async () => {
    dir = await tempDir('lifeboat-check-')
    pwFile = await writePasswordFile(dir, PW)
    pristine = path.join(dir, 'repo')
    const src = path.join(dir, 'src')
    await fs.mkdir(path.join(src, 'sub'), {recursive: true})
    await fs.writeFile(path.join(src, 'hello.txt'), 'hello, world\n')
    await fs.writeFile(path.join(src, 'sub', 'notes.md'), '# notes\n'.repeat(500))
    await fs.writeFile(path.join(src, 'empty'), '')
    // Random (incompressible) bytes chosen so the chunker cuts the file into several blobs.
    await fs.writeFile(path.join(src, 'big.bin'), randomBytes(3 * 1024 * 1024))
    await restic(pristine, pwFile, ['init'])
    await restic(pristine, pwFile, ['backup', src])
    // Two more snapshots, each adding a file: more packs (for subsets) and several snapshots sharing big.bin.
    await fs.writeFile(path.join(src, 'second.bin'), randomBytes(700 * 1024))
    await restic(pristine, pwFile, ['backup', src])
    await fs.writeFile(path.join(src, 'sub', 'third.bin'), randomBytes(600 * 1024))
    await restic(pristine, pwFile, ['backup', src])
    snapshotIds = (JSON.parse((await restic(pristine, pwFile, ['snapshots', '--json'])).stdout) as Array<{id: string; time: string}>)
      .sort((a, b) => a.time.localeCompare(b.time))
      .map((s) => s.id)
    expect(snapshotIds).to.have.length(3)
  })

  after(async () => {
    if (dir) await removeTree(dir)
  })

  it('finds a sound repository sound, structure and data, and leaves no lock behind', async () => {
    const structure = await check(pristine)
    expect(structure.errors).to.deep.equal([])
    expect(structure.ok).to.equal(true)
    expect(structure.stats.snapshots).to.equal(3)
    expect(structure.stats.packsRead).to.equal(0)
    expect(structure.stats.trees).to.be.greaterThan(3)
    expect(structure.unreferencedPacks).to.deep.equal([])

    const full = await check(pristine, {readData: true})
    expect(full.errors).to.deep.equal([])
    expect(full.ok).to.equal(true)
    expect(full.affected).to.deep.equal([])
    const packs = await fs.readdir(path.join(pristine, 'data'), {recursive: true})
    const packCount = packs.filter((p) => /[0-9a-f]{64}$/.test(p)).length
    expect(full.stats.packs).to.equal(packCount)
    expect(full.stats.packsRead).to.equal(packCount)
    let total = 0
    for (const p of packs.filter((p) => /[0-9a-f]{64}$/.test(p))) total += (await fs.stat(path.join(pristine, 'data', p))).size
    expect(full.stats.bytesRead).to.equal(total)
    expect(await fs.readdir(path.join(pristine, 'locks'))).to.deep.equal([])
  })

  it('a flipped byte in a data pack: --read-data names the pack and the file in every snapshot (restic agrees)', async () => {
    const repoDir = await copyRepo()
    const {pack, offset, path: bigPath} = await bigFilePack(repoDir)
    const f = packFile(repoDir, pack)
    await fs.chmod(f, 0o600)
    const fh = await fs.open(f, 'r+')
    const b = Buffer.alloc(1)
    await fh.read(b, 0, 1, offset)
    b[0] ^= 0x01
    await fh.write(b, 0, 1, offset)
    await fh.close()

    const structure = await check(repoDir)
    expect(structure.ok, 'the structure is intact').to.equal(true)

    const r = await check(repoDir, {readData: true})
    expect(r.ok).to.equal(false)
    expect(r.damagedPacks).to.deep.equal([pack])
    expect(r.errors.some((e) => e.kind === 'pack' && e.id === pack && /MAC|does not match/.test(e.message))).to.equal(true)
    const hits = r.affected.filter((a) => a.path === bigPath)
    expect(hits.map((a) => a.snapshot).sort()).to.deep.equal([...snapshotIds].sort())
    for (const h of hits) expect(h.pack).to.equal(pack)
    // Only big.bin had its data in the damaged blob.
    expect(r.affected.every((a) => a.path === bigPath)).to.equal(true)
    // The same through a backend that is not local (packs loaded by the main thread, bytes handed over).
    const viaBuffers = await check(repoDir, {readData: true}, true)
    expect(viaBuffers.damagedPacks).to.deep.equal([pack])
    expect(viaBuffers.affected).to.deep.equal(r.affected)
    expect(viaBuffers.stats.bytesRead).to.equal(r.stats.bytesRead)

    let resticFailed = false
    try {
      await restic(repoDir, pwFile, ['check', '--read-data'])
    } catch (error) {
      resticFailed = true
      expect(String((error as {stdout?: string}).stdout) + String((error as {stderr?: string}).stderr)).to.include(pack.slice(0, 8))
    }
    expect(resticFailed, 'restic check --read-data fails too').to.equal(true)

    // Exactly one of the groups 1/2 and 2/2 holds the damaged pack and finds the damage.
    const g1 = await check(repoDir, {readDataSubset: '1/2'})
    const g2 = await check(repoDir, {readDataSubset: '2/2'})
    const inFirst = parseInt(pack.slice(0, 2), 16) % 2 === 0
    expect(g1.ok).to.equal(!inFirst)
    expect(g2.ok).to.equal(inFirst)
    expect(g1.stats.packsRead + g2.stats.packsRead).to.equal(r.stats.packsRead)
  })

  it('a deleted pack fails the structure check, naming the pack and the files that lose data', async () => {
    const repoDir = await copyRepo()
    const {pack, path: bigPath} = await bigFilePack(repoDir)
    await fs.rm(packFile(repoDir, pack), {force: true})
    const r = await check(repoDir)
    expect(r.ok).to.equal(false)
    expect(r.damagedPacks).to.deep.equal([pack])
    const e = r.errors.find((x) => x.kind === 'pack' && x.id === pack)
    expect(e?.message).to.match(/does not exist/)
    expect(r.affected.filter((a) => a.path === bigPath).map((a) => a.snapshot).sort()).to.deep.equal([...snapshotIds].sort())
    expect(r.affected.every((a) => a.pack === pack)).to.equal(true)
    // With --read-data the missing pack is not read (it is reported once), the others are and are fine.
    const rd = await check(repoDir, {readData: true})
    expect(rd.damagedPacks).to.deep.equal([pack])
    expect(rd.errors.filter((x) => x.kind === 'pack')).to.have.length(1)
  })

  it('a truncated pack fails the structure check with a size mismatch', async () => {
    const repoDir = await copyRepo()
    const {pack, path: bigPath} = await bigFilePack(repoDir)
    const f = packFile(repoDir, pack)
    const size = (await fs.stat(f)).size
    await fs.chmod(f, 0o600)
    await fs.truncate(f, size - 1000)
    const r = await check(repoDir)
    expect(r.ok).to.equal(false)
    expect(r.damagedPacks).to.deep.equal([pack])
    const e = r.errors.find((x) => x.kind === 'pack' && x.id === pack)
    expect(e?.message).to.match(new RegExp(`file size ${size - 1000} does not match the index \\(expected ${size} bytes\\)`))
    expect(r.affected.some((a) => a.path === bigPath)).to.equal(true)
    // Reading it shows which blobs survive: the header is gone, the last blob is cut short.
    const rd = await check(repoDir, {readData: true})
    expect(rd.damagedPacks).to.deep.equal([pack])
    expect(rd.errors.some((x) => x.id === pack && /beyond the end of the file/.test(x.message))).to.equal(true)
    expect(rd.errors.some((x) => x.id === pack && /pack header/.test(x.message))).to.equal(true)
  })

  it('a pack in no index is reported as unreferenced, and the repository is still ok', async () => {
    const repoDir = await copyRepo()
    const repo = await open(repoDir)
    const w = new PackWriter(repo.key)
    const enc = encodeBlob(repo.key, randomBytes(1000), false)
    w.add('data', enc.id, enc.encrypted)
    const fp = w.finish()
    await repo.backend.save({type: 'pack', name: fp.id}, Buffer.concat(fp.parts))
    await repo.close()
    const r = await check(repoDir, {readData: true})
    expect(r.errors).to.deep.equal([])
    expect(r.ok).to.equal(true)
    expect(r.unreferencedPacks).to.deep.equal([fp.id])
    expect(r.damagedPacks).to.deep.equal([])
    // restic calls it non-critical too: its check succeeds.
    await restic(repoDir, pwFile, ['check'])
  })

  it('a missing index entry: blobs a tree references but no index has are errors naming the files', async () => {
    const repoDir = await copyRepo()
    const {pack, path: bigPath} = await bigFilePack(repoDir)
    // Rewrite the index without the pack (as if its index entry were lost); the pack stays, unreferenced.
    const repo = await open(repoDir)
    await repo.loadIndex()
    const packs = [...repo.index.packs()].filter((p) => p.id !== pack)
    const {indexToJSON} = await import('../../src/backup/index.js')
    for (const f of await repo.backend.list('index')) {
      await fs.chmod(path.join(repoDir, 'index', f.name), 0o600)
      await repo.backend.remove({type: 'index', name: f.name})
    }
    await repo.saveUnpacked('index', indexToJSON(packs))
    await repo.close()
    const r = await check(repoDir)
    expect(r.ok).to.equal(false)
    expect(r.unreferencedPacks).to.deep.equal([pack])
    expect(r.errors.some((e) => e.kind === 'blob' && /not found in index/.test(e.message))).to.equal(true)
    const hit = r.affected.find((a) => a.path === bigPath)
    expect(hit).to.not.equal(undefined)
    expect(hit!.pack).to.equal(undefined)
  })

  it('readDataSubset 1/2 and 2/2 together read every pack; 50% reads about half', async () => {
    const all = await check(pristine, {readData: true})
    const n = all.stats.packsRead
    expect(n).to.be.greaterThan(3)
    const g1 = await check(pristine, {readDataSubset: '1/2'})
    const g2 = await check(pristine, {readDataSubset: '2/2'})
    expect(g1.ok && g2.ok).to.equal(true)
    expect(g1.stats.packsRead + g2.stats.packsRead).to.equal(n)
    expect(g1.stats.bytesRead + g2.stats.bytesRead).to.equal(all.stats.bytesRead)
    const half = await check(pristine, {readDataSubset: '50%'})
    expect(half.stats.packsRead).to.equal(Math.round(n / 2))
  })

  it('takes a non-exclusive lock: an exclusive lock held elsewhere makes it fail', async () => {
    const repoDir = await copyRepo()
    const holder = await open(repoDir)
    const lock = await lockRepository(holder, {exclusive: true, waitMs: 0, refreshMs: 0})
    try {
      let err: unknown
      try {
        await check(repoDir)
      } catch (error) {
        err = error
      }
      expect(err).to.be.instanceOf(LockConflictError)
    } finally {
      await lock.release()
      await holder.close()
    }
    // A non-exclusive lock (e.g. a backup running) does not stop it.
    const other = await open(repoDir)
    const shared = await lockRepository(other, {waitMs: 0, refreshMs: 0})
    try {
      expect((await check(repoDir)).ok).to.equal(true)
    } finally {
      await shared.release()
      await other.close()
    }
  })
})
