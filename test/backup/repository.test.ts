import {expect} from 'chai'
import {createHash, randomBytes} from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'

import {LocalBackend} from '../../src/backup/backend/local.js'
import {AmbiguousIdError, KeyInUseError, NoRepositoryError, SnapshotNotFoundError, WrongPasswordError} from '../../src/backup/errors.js'
import {readPackHeader} from '../../src/backup/pack.js'
import {Repository} from '../../src/backup/repository.js'
import type {Snapshot} from '../../src/backup/types.js'
import {formatGoTime} from '../../src/backup/unpacked.js'
import {removeTree, restic, tempDir, TEST_KDF, TEST_POLY, writePasswordFile} from './repo-helpers.js'

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')
const PW = 'correct horse battery staple'

interface JNode {
  name: string
  type: string
  content?: string[] | null
  subtree?: string
  size?: number
}

/** Reassembles a file path → bytes map from a snapshot tree, reading every blob with our code. */
async function readTree(repo: Repository, treeId: string, prefix = ''): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>()
  const tree = JSON.parse((await repo.loadBlob('tree', treeId)).toString('utf8')) as {nodes: JNode[]}
  for (const n of tree.nodes) {
    const p = prefix + '/' + n.name
    if (n.type === 'dir' && n.subtree) for (const [k, v] of await readTree(repo, n.subtree, p)) out.set(k, v)
    else if (n.type === 'file') out.set(p, Buffer.concat(await Promise.all((n.content ?? []).map((id) => repo.loadBlob('data', id)))))
  }
  return out
}

describe('backup/repository @integration (restic 0.14 as judge)', function () {
  this.timeout(120_000)
  let dir: string
  let pwFile: string

  beforeEach(async () => {
    dir = await tempDir()
    pwFile = await writePasswordFile(dir, PW)
  })
  afterEach(async () => {
    await removeTree(dir)
  })

  it('opens a repository made by `restic init` and reads its config', async () => {
    const repoDir = path.join(dir, 'repo')
    await restic(repoDir, pwFile, ['init'])
    const repo = await Repository.open(new LocalBackend(repoDir), PW)
    expect(repo.config.version).to.equal(2)
    expect(repo.config.id).to.match(/^[0-9a-f]{64}$/)
    expect(repo.config.chunkerPolynomial).to.match(/^[0-9a-f]+$/)
    // restic prints the same repository ID
    const {stdout} = await restic(repoDir, pwFile, ['cat', 'config'])
    const cfg = JSON.parse(stdout)
    expect(cfg.id).to.equal(repo.config.id)
    expect(cfg.chunker_polynomial).to.equal(repo.config.chunkerPolynomial)
  })

  it('refuses a wrong password with WrongPasswordError, and a missing repository with NoRepositoryError', async () => {
    const repoDir = path.join(dir, 'repo')
    await restic(repoDir, pwFile, ['init'])
    let err: unknown
    try {
      await Repository.open(new LocalBackend(repoDir), 'not the password')
    } catch (error) {
      err = error
    }
    expect(err).to.be.instanceOf(WrongPasswordError)
    err = undefined
    try {
      await Repository.open(new LocalBackend(path.join(dir, 'nothing-here')), PW)
    } catch (error) {
      err = error
    }
    expect(err).to.be.instanceOf(NoRepositoryError)
    expect((err as Error).message).to.contain(path.join(dir, 'nothing-here'))
  })

  it('writes a repository that passes `restic check --read-data` and restores byte for byte', async () => {
    const repoDir = path.join(dir, 'repo')
    // small packs so the data spans several pack files
    const repo = await Repository.init(new LocalBackend(repoDir), PW, {kdf: TEST_KDF, chunkerPolynomial: TEST_POLY, packSize: 256 * 1024})
    const chunks = [randomBytes(200_000), Buffer.from('compressible line\n'.repeat(20_000)), randomBytes(150_000), Buffer.from('tail')]
    const ids: string[] = []
    for (const c of chunks) {
      const r = await repo.saveBlob('data', c)
      expect(r.known).to.equal(false)
      expect(r.id).to.equal(sha(c))
      ids.push(r.id)
    }
    expect((await repo.saveBlob('data', chunks[0])).known).to.equal(true) // dedup while pending
    const file = Buffer.concat(chunks)
    const t = '2024-01-01T00:00:00Z'
    const treeJson =
      JSON.stringify({
        nodes: [
          {name: 'a.txt', type: 'file', mode: 420, mtime: t, atime: t, ctime: t, uid: 0, gid: 0, size: file.length, content: ids},
          {name: 'empty', type: 'file', mode: 420, mtime: t, atime: t, ctime: t, uid: 0, gid: 0, size: 0, content: []},
        ],
      }) + '\n'
    const tree = await repo.saveBlob('tree', Buffer.from(treeJson))
    await repo.flush()
    const sn: Snapshot = {time: formatGoTime(new Date()), tree: tree.id, paths: ['/data'], hostname: 'lifeboat-test', username: 'tester'}
    const snId = await repo.saveSnapshot(sn)

    const packs = await repo.backend.list('pack')
    expect(packs.length).to.be.greaterThan(2)
    await restic(repoDir, pwFile, ['check', '--read-data'])

    const snaps = JSON.parse((await restic(repoDir, pwFile, ['snapshots', '--json'])).stdout)
    expect(snaps.map((s: {id: string}) => s.id)).to.deep.equal([snId])

    const target = path.join(dir, 'restore')
    await restic(repoDir, pwFile, ['restore', snId.slice(0, 8), '--target', target])
    expect((await fs.readFile(path.join(target, 'a.txt'))).equals(file)).to.equal(true)
    expect((await fs.readFile(path.join(target, 'empty'))).length).to.equal(0)

    // and we read it back with a fresh Repository
    const again = await Repository.open(new LocalBackend(repoDir), PW)
    await again.loadIndex()
    const files = await readTree(again, (await again.findSnapshot('latest')).snapshot.tree)
    expect(files.get('/a.txt')!.equals(file)).to.equal(true)
  })

  it('lets restic back up into a repository we created (random polynomial), and we read restic\'s backup back', async () => {
    const repoDir = path.join(dir, 'repo')
    // no polynomial given: init draws a random irreducible one (restic refuses a bad one on open)
    const ours = await Repository.init(new LocalBackend(repoDir), PW, {kdf: TEST_KDF})
    expect(ours.config.chunkerPolynomial).to.not.equal(TEST_POLY)
    const src = path.join(dir, 'src')
    await fs.mkdir(path.join(src, 'sub'), {recursive: true})
    const big = randomBytes(3 * 1024 * 1024 + 123) // several chunks
    const text = Buffer.from('hello from restic\n'.repeat(1000))
    await fs.writeFile(path.join(src, 'big.bin'), big)
    await fs.writeFile(path.join(src, 'sub', 'notes.txt'), text)
    await restic(repoDir, pwFile, ['backup', '--host', 'h1', src])

    const repo = await Repository.open(new LocalBackend(repoDir), PW)
    expect(await repo.loadIndex()).to.be.greaterThan(0)
    const snaps = await repo.listSnapshots()
    expect(snaps).to.have.length(1)
    expect(snaps[0].snapshot.hostname).to.equal('h1')
    const files = await readTree(repo, snaps[0].snapshot.tree)
    const key = (p: string) => [...files.keys()].find((k) => k.endsWith(p))!
    expect(files.get(key('/big.bin'))!.equals(big)).to.equal(true)
    expect(files.get(key('/sub/notes.txt'))!.equals(text)).to.equal(true)

    // every pack header restic wrote parses and agrees with the index
    for (const p of await repo.backend.list('pack')) {
      const blobs = await readPackHeader({backend: repo.backend, id: p.name}, p.size, repo.key)
      for (const b of blobs) {
        const loc = repo.index.lookupAll(b.type, b.id).find((l) => l.packId === p.name)
        expect(loc, `blob ${b.id} of pack ${p.name} in index`).to.not.equal(undefined)
        expect(loc!.offset).to.equal(b.offset)
        expect(loc!.length).to.equal(b.length)
        expect(loc!.uncompressedLength).to.equal(b.uncompressedLength)
      }
    }
  })

  it('finds snapshots by unique prefix and latest; an ambiguous prefix is a clear error', async () => {
    const repo = await Repository.init(new LocalBackend(path.join(dir, 'repo')), PW, {kdf: TEST_KDF, chunkerPolynomial: TEST_POLY})
    const tree = await repo.saveBlob('tree', Buffer.from('{"nodes":[]}\n'))
    await repo.flush()
    const ids: string[] = []
    for (let i = 0; i < 40; i++) {
      ids.push(await repo.saveSnapshot({time: formatGoTime(new Date(Date.UTC(2024, 0, 1 + i))), tree: tree.id, paths: ['/x'], hostname: i % 2 ? 'odd' : 'even'}))
    }
    expect((await repo.findSnapshot('latest')).id).to.equal(ids[39])
    expect((await repo.findSnapshot('latest', {hostname: 'even'})).id).to.equal(ids[38])
    expect((await repo.findSnapshot(ids[5].slice(0, 12))).id).to.equal(ids[5])
    // with 40 IDs, some single hex digit is shared by at least two of them
    const counts = new Map<string, number>()
    for (const id of ids) counts.set(id[0], (counts.get(id[0]) ?? 0) + 1)
    const shared = [...counts].find(([, n]) => n > 1)![0]
    let err: unknown
    try {
      await repo.findSnapshot(shared)
    } catch (error) {
      err = error
    }
    expect(err).to.be.instanceOf(AmbiguousIdError)
    expect((err as Error).message).to.contain('ambiguous')
    const unused = '0123456789abcdef'.split('').find((c) => !counts.has(c)) ?? 'ffffffffffff'
    err = undefined
    try {
      await repo.findSnapshot(unused + 'ffffffffffffff')
    } catch (error) {
      err = error
    }
    expect(err).to.be.instanceOf(SnapshotNotFoundError)
    // restic agrees on what is there
    const list = JSON.parse((await restic(path.join(dir, 'repo'), pwFile, ['snapshots', '--json'])).stdout) as Array<{id: string}>
    expect(list.map((s) => s.id).sort()).to.deep.equal([...ids].sort())
  })

  it('manages keys: add, list, refuse removing the key in use, change password (restic follows)', async () => {
    const repoDir = path.join(dir, 'repo')
    const repo = await Repository.init(new LocalBackend(repoDir), PW, {kdf: TEST_KDF, chunkerPolynomial: TEST_POLY})
    const second = await repo.addKey('second password', TEST_KDF)
    const keys = await repo.listKeys()
    expect(keys).to.have.length(2)
    expect(keys.find((k) => k.current)!.id).to.equal(repo.keyId)
    const pw2 = await writePasswordFile(dir, 'second password')
    await restic(repoDir, pw2, ['cat', 'config']) // restic opens with the added key

    let err: unknown
    try {
      await repo.removeKey(repo.keyId.slice(0, 10))
    } catch (error) {
      err = error
    }
    expect(err).to.be.instanceOf(KeyInUseError)

    const other = await Repository.open(new LocalBackend(repoDir), 'second password')
    expect(other.keyId).to.equal(second)
    const newId = await other.changePassword('third password', TEST_KDF)
    expect((await other.listKeys()).map((k) => k.id).sort()).to.deep.equal([repo.keyId, newId].sort())
    const pw3 = await writePasswordFile(dir, 'third password')
    await restic(repoDir, pw3, ['cat', 'config'])
    err = undefined
    try {
      await Repository.open(new LocalBackend(repoDir), 'second password')
    } catch (error) {
      err = error
    }
    expect(err).to.be.instanceOf(WrongPasswordError)
    // restic's own key list sees exactly our two keys
    const rk = JSON.parse((await restic(repoDir, pw3, ['key', 'list', '--json'])).stdout) as Array<{id: string; current: boolean}>
    expect(rk.map((k) => k.id).sort()).to.deep.equal([repo.keyId, newId].map((id) => id.slice(0, rk[0].id.length)).sort())
  })

  it('writes partial indexes during a long run, each naming only stored packs', async () => {
    const repoDir = path.join(dir, 'repo')
    const repo = await Repository.init(new LocalBackend(repoDir), PW, {
      kdf: TEST_KDF,
      chunkerPolynomial: TEST_POLY,
      packSize: 64 * 1024,
      indexMaxBlobs: 10,
    })
    for (let i = 0; i < 60; i++) await repo.saveBlob('data', randomBytes(20_000))
    // before flush some index files already exist
    const before = await repo.backend.list('index')
    expect(before.length).to.be.greaterThan(0)
    // Uploads go on in the background: read the index first, then list the packs, so every pack an index
    // names must already be there (packs are stored before any index names them).
    const partial = await Repository.open(new LocalBackend(repoDir), PW)
    await partial.loadIndex()
    const stored = new Set((await repo.backend.list('pack')).map((p) => p.name))
    for (const p of partial.index.packs()) expect(stored.has(p.id)).to.equal(true)
    await repo.flush()
    const tree = await repo.saveBlob('tree', Buffer.from('{"nodes":[]}\n'))
    await repo.flush()
    await repo.saveSnapshot({time: formatGoTime(new Date()), tree: tree.id, paths: ['/x']})
    await restic(repoDir, pwFile, ['check', '--read-data'])
    const fresh = await Repository.open(new LocalBackend(repoDir), PW)
    await fresh.loadIndex()
    expect(fresh.index.count('data')).to.equal(60)
  })
})
