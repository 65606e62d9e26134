import {expect} from 'chai'
import {randomBytes} from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'

import {LocalBackend} from '../../src/backup/backend/local.js'
import {Repository} from '../../src/backup/repository.js'
import {exactPattern, restoreTest, verifyFile} from '../../src/backup/restore-test.js'
import {listNodes} from '../../src/backup/ls.js'
import {envelope, lifeboat} from '../helpers/cli.js'
import {removeTree, tempDir} from './repo-helpers.js'

const PW = 'restore-test-pw'

describe('backup restore-test on a real repository', function () {
  this.timeout(180_000)
  let dir: string
  let repoDir: string
  let src: string
  let env: NodeJS.ProcessEnv
  const sizes = new Map<string, number>()
  const lb = (...args: string[]) => lifeboat(args, env)

  before(async () => {
    dir = await tempDir('lb-rtest-')
    repoDir = path.join(dir, 'repo')
    src = path.join(dir, 'src')
    const w = (rel: string, data: Buffer | string) => {
      const p = path.join(src, rel)
      fs.mkdirSync(path.dirname(p), {recursive: true})
      fs.writeFileSync(p, data)
      sizes.set(p, Buffer.byteLength(data))
    }
    for (let i = 0; i < 24; i++) w(`docs/file-${i}.bin`, randomBytes(1000 + i * 3000))
    w('big/multi-chunk.bin', randomBytes(5 << 20)) // several content blobs
    w('odd/we*ird [name]?.txt', 'glob characters in the name\n')
    w('odd/empty', '')
    fs.symlinkSync('docs/file-1.bin', path.join(src, 'link'))
    fs.mkdirSync(path.join(dir, 'tmp'))
    env = {LIFEBOAT_PASSWORD: PW, LIFEBOAT_REPOSITORY: repoDir, XDG_STATE_HOME: path.join(dir, 'state'), XDG_CONFIG_HOME: path.join(dir, 'c'), XDG_DATA_HOME: path.join(dir, 'd'), RESTIC_PASSWORD: '', RESTIC_REPOSITORY: '', LIFEBOAT_CONFIG: ''}
    for (const args of [['backup', 'init'], ['backup', 'run', src]]) {
      const r = await lb(...args)
      expect(r.code, r.stderr).to.equal(0)
    }
  })
  after(() => dir && removeTree(dir))

  it('restores a seeded random sample, verifies it, reports throughput and cleans up (exit 0, job recorded)', async () => {
    const r = await lb('backup', 'restore-test', '--sample', '6', '--seed', 'first', '--tmp-dir', path.join(dir, 'tmp'), '--json')
    expect(r.code, r.stderr).to.equal(0)
    const res = envelope(r.stdout).result
    expect(res).to.include({mode: 'sample', seed: 'first', files: 6, candidates: 27, ok: true, cleanedUp: true})
    expect(res.mismatches).to.deep.equal([])
    expect(res.paths).to.have.length(6)
    expect(res.bytes).to.equal(res.paths.reduce((a: number, p: string) => a + sizes.get(p)!, 0))
    expect(res.bytesPerSecond).to.be.greaterThan(0)
    expect(fs.readdirSync(path.join(dir, 'tmp'))).to.deep.equal([])
    const again = envelope((await lb('backup', 'restore-test', '--sample', '6', '--seed', 'first', '--json')).stdout).result
    expect(again.paths).to.deep.equal(res.paths)
    const other = envelope((await lb('backup', 'restore-test', '--sample', '6', '--seed', 'second', '--json')).stdout).result
    expect(other.paths).not.to.deep.equal(res.paths)
    const record = JSON.parse(fs.readFileSync(path.join(dir, 'state/lifeboat/jobs/restore-test.json'), 'utf8'))
    expect(record.last.event).to.include({job: 'restore-test', state: 'success', repository: repoDir})
  })

  it('--path tests every file at and below a path, names with glob characters included; a missing path is a usage error', async () => {
    const r = await lb('backup', 'restore-test', '--path', path.join(src, 'odd'), '--json')
    expect(r.code, r.stderr).to.equal(0)
    const res = envelope(r.stdout).result
    expect(res.mode).to.equal('path')
    expect([...res.paths].sort()).to.deep.equal([path.join(src, 'odd/empty'), path.join(src, 'odd/we*ird [name]?.txt')])
    const big = envelope((await lb('backup', 'restore-test', '--path', path.join(src, 'big/multi-chunk.bin'), '--json')).stdout).result
    expect(big).to.include({files: 1, bytes: 5 << 20, ok: true})
    const missing = await lb('backup', 'restore-test', '--path', '/no/such/place', '--json')
    expect(missing.code).to.equal(2)
    expect(envelope(missing.stdout).error.message).to.match(/not in snapshot/)
  })

  it('the verifier notices a changed byte or a wrong size in a restored file', async () => {
    const repo = await Repository.open(new LocalBackend(repoDir), PW)
    try {
      const [snap] = await repo.listSnapshots()
      const file = path.join(src, 'big/multi-chunk.bin')
      const res = await restoreTest(repo, {snapshot: snap, path: file, keep: true, tmpDir: path.join(dir, 'tmp')})
      expect(res.ok).to.equal(true)
      expect(res.cleanedUp).to.equal(false)
      let node
      for await (const w of listNodes(repo, snap.snapshot.tree, file)) node = w.node
      expect(node!.content!.length).to.be.greaterThan(1)
      const restored = path.join(res.target, file)
      expect(verifyFile(repo, restored, node!)).to.equal(undefined)
      const fd = fs.openSync(restored, 'r+')
      const b = Buffer.alloc(1)
      fs.readSync(fd, b, 0, 1, 3 << 20)
      b[0] ^= 0xff
      fs.writeSync(fd, b, 0, 1, 3 << 20)
      fs.closeSync(fd)
      expect(verifyFile(repo, restored, node!)).to.match(/do not match content blob \d/)
      fs.truncateSync(restored, 100)
      expect(verifyFile(repo, restored, node!)).to.match(/size 100 bytes, the snapshot says 5242880/)
      fs.rmSync(restored)
      expect(verifyFile(repo, restored, node!)).to.match(/not restored/)
      removeTree(res.target)
    } finally {
      await repo.close()
    }
    expect(exactPattern('/a/we*ird [x]?.txt')).to.equal('/a/we\\*ird \\[x\\]\\?.txt')
  })

  it('damaged repository data: mismatches are reported and the exit code is 1', async () => {
    for (const sub of fs.readdirSync(path.join(repoDir, 'data'))) {
      for (const name of fs.readdirSync(path.join(repoDir, 'data', sub))) {
        const p = path.join(repoDir, 'data', sub, name)
        const size = fs.statSync(p).size
        if (size < (1 << 20)) continue // damage only the big packs (data of the large file)
        fs.chmodSync(p, 0o600)
        const fd = fs.openSync(p, 'r+')
        fs.writeSync(fd, Buffer.from('XXXXXXXX'), 0, 8, Math.floor(size / 2))
        fs.closeSync(fd)
      }
    }
    const r = await lb('backup', 'restore-test', '--path', path.join(src, 'big/multi-chunk.bin'), '--json')
    expect(r.code).to.equal(1)
    const res = envelope(r.stdout).result
    expect(res.ok).to.equal(false)
    expect(res.mismatches.length).to.be.greaterThan(0)
    expect(res.mismatches.map((m: any) => m.path)).to.include(path.join(src, 'big/multi-chunk.bin'))
    const record = JSON.parse(fs.readFileSync(path.join(dir, 'state/lifeboat/jobs/restore-test.json'), 'utf8'))
    expect(record.last.event.state).to.equal('failure')
  })
})
