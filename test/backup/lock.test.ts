import {expect} from 'chai'
import {spawn} from 'node:child_process'
import os from 'node:os'
import path from 'node:path'

import {LocalBackend} from '../../src/backup/backend/local.js'
import {LockConflictError} from '../../src/backup/errors.js'
import {isStale, listLocks, lockRepository, removeAllLocks, removeStaleLocks, type LockInfo} from '../../src/backup/lock.js'
import {Repository} from '../../src/backup/repository.js'
import {formatGoTime} from '../../src/backup/unpacked.js'
import {removeTree, restic, tempDir, TEST_KDF, TEST_POLY, writePasswordFile} from './repo-helpers.js'

const PW = 'lock test'

/** A PID that certainly does not run: a child that has exited. */
async function deadPid(): Promise<number> {
  const c = spawn(process.execPath, ['-e', ''])
  await new Promise((r) => c.on('exit', r))
  return c.pid!
}

function lockInfo(over: Partial<LockInfo>): LockInfo {
  return {time: formatGoTime(new Date()), exclusive: false, hostname: os.hostname(), username: 'x', pid: process.pid, uid: 0, gid: 0, ...over}
}

async function conflict(p: Promise<unknown>): Promise<LockConflictError> {
  try {
    await p
  } catch (error) {
    expect(error).to.be.instanceOf(LockConflictError)
    return error as LockConflictError
  }
  throw new Error('expected a LockConflictError')
}

describe('backup/lock', () => {
  let dir: string
  let repo: Repository
  beforeEach(async () => {
    dir = await tempDir()
    repo = await Repository.init(new LocalBackend(path.join(dir, 'repo')), PW, {kdf: TEST_KDF, chunkerPolynomial: TEST_POLY})
  })
  afterEach(() => removeTree(dir))

  it('lets non-exclusive locks coexist and refuses an exclusive one while they are held', async () => {
    const a = await lockRepository(repo, {waitMs: 10})
    const b = await lockRepository(repo, {waitMs: 10})
    expect((await listLocks(repo)).map((l) => l.id).sort()).to.deep.equal([a.id, b.id].sort())
    const err = await conflict(lockRepository(repo, {exclusive: true, waitMs: 10}))
    expect(err.message).to.contain(os.hostname()).and.contain(`PID ${process.pid}`)
    expect(await listLocks(repo)).to.have.length(2) // the refused lock left nothing behind
    await a.release()
    await b.release()
    const x = await lockRepository(repo, {exclusive: true, waitMs: 10})
    const e2 = await conflict(lockRepository(repo, {waitMs: 10}))
    expect(e2.message).to.contain('exclusive')
    await x.release()
    expect(await listLocks(repo)).to.deep.equal([])
  })

  it('ignores and removes stale locks: too old, or a dead process on this host', async () => {
    const old = await repo.saveUnpacked('lock', lockInfo({exclusive: true, time: formatGoTime(new Date(Date.now() - 31 * 60 * 1000)), hostname: 'elsewhere'}))
    const dead = await repo.saveUnpacked('lock', lockInfo({exclusive: true, pid: await deadPid()}))
    const live = await repo.saveUnpacked('lock', lockInfo({exclusive: false, hostname: 'elsewhere', pid: 1}))
    const locks = await listLocks(repo)
    expect(Object.fromEntries(locks.map((l) => [l.id, l.stale]))).to.deep.equal({[old]: true, [dead]: true, [live]: false})
    const l = await lockRepository(repo, {waitMs: 10}) // the stale exclusive locks do not block
    await l.release()
    expect((await removeStaleLocks(repo)).sort()).to.deep.equal([old, dead].sort())
    expect((await listLocks(repo)).map((e) => e.id)).to.deep.equal([live])
    expect(await removeAllLocks(repo)).to.deep.equal([live])
    expect(await listLocks(repo)).to.deep.equal([])
    expect(isStale(lockInfo({time: 'garbage'}))).to.equal(true)
  })

  it('refreshes a held lock with a new time and file', async () => {
    const l = await lockRepository(repo, {waitMs: 0, refreshMs: 0})
    const first = l.id
    await new Promise((r) => setTimeout(r, 5))
    await l.refresh()
    expect(l.id).to.not.equal(first)
    expect((await listLocks(repo)).map((e) => e.id)).to.deep.equal([l.id])
    await l.release()
    expect(l.released).to.equal(true)
  })
})

describe('backup/lock @integration (restic 0.14 as judge)', function () {
  this.timeout(120_000)
  let dir: string
  let repoDir: string
  let repo: Repository
  let pwFile: string
  beforeEach(async () => {
    dir = await tempDir()
    repoDir = path.join(dir, 'repo')
    pwFile = await writePasswordFile(dir, PW)
    repo = await Repository.init(new LocalBackend(repoDir), PW, {kdf: TEST_KDF, chunkerPolynomial: TEST_POLY})
  })
  afterEach(() => removeTree(dir))

  it('restic honours our exclusive lock (surviving its SIGHUP liveness probe), and `restic unlock` removes only our stale lock', async () => {
    const x = await lockRepository(repo, {exclusive: true, waitMs: 10})
    let failed = false
    try {
      await restic(repoDir, pwFile, ['backup', dir])
    } catch (error) {
      failed = true
      expect(String((error as {stderr?: string}).stderr)).to.contain('locked')
    }
    expect(failed).to.equal(true)
    const {stdout} = await restic(repoDir, pwFile, ['list', 'locks'])
    expect(stdout.trim()).to.equal(x.id)
    await x.release()

    const live = await lockRepository(repo, {waitMs: 10})
    const dead = await repo.saveUnpacked('lock', lockInfo({pid: await deadPid()}))
    await restic(repoDir, pwFile, ['unlock'])
    expect((await listLocks(repo)).map((e) => e.id)).to.deep.equal([live.id])
    await live.release()
    expect(dead).to.match(/^[0-9a-f]{64}$/)
    expect(process.listenerCount('SIGHUP')).to.equal(0) // no lock held: default behaviour restored
  })
})
