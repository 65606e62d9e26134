import {expect} from 'chai'
import {execFile, spawn} from 'node:child_process'
import {createHash, randomBytes} from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {promisify} from 'node:util'

import {LocalBackend} from '../../src/backup/backend/local.js'
import {lockRepository} from '../../src/backup/lock.js'
import {Repository} from '../../src/backup/repository.js'
import {envelope, lifeboat} from '../helpers/cli.js'
import {ROOT} from '../helpers/env.js'

const exec = promisify(execFile)
const PW = 'prune test'

/** Every file under a folder with its size and SHA-256 (what "byte-identical" compares). */
function digest(dir: string): Record<string, string> {
  const out: Record<string, string> = {}
  const walk = (d: string, rel: string): void => {
    for (const e of fs.readdirSync(d, {withFileTypes: true})) {
      const p = path.join(d, e.name)
      const r = rel ? `${rel}/${e.name}` : e.name
      if (e.isDirectory()) walk(p, r)
      else if (e.isFile()) out[r] = createHash('sha256').update(fs.readFileSync(p)).digest('hex')
    }
  }
  walk(dir, '')
  return out
}

/** Names (and sizes) of every file of a repository: "nothing changed" compares these. */
function listing(repo: string): string[] {
  const out: string[] = []
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, {withFileTypes: true})) {
      const p = path.join(d, e.name)
      if (e.isDirectory()) walk(p)
      else out.push(`${path.relative(repo, p)} ${fs.statSync(p).size}`)
    }
  }
  walk(repo)
  return out.sort()
}

const packCount = (repo: string) => listing(repo).filter((l) => l.startsWith('data/')).length

describe('backup prune against restic @integration', function () {
  this.timeout(300_000)
  let dir: string
  let env: NodeJS.ProcessEnv
  /** A repository: restic and lifeboat snapshots, the oldest (with the most data) forgotten. */
  let base: string
  /** Paths of the sources of the snapshots that stay, with their digests. */
  let kept: Record<string, Record<string, string>>

  const restic = async (repository: string, ...args: string[]) =>
    (await exec('restic', ['-r', repository, '--no-cache', ...args], {env: {...process.env, ...env}, maxBuffer: 64 << 20})).stdout
  const lb = async (repository: string, ...args: string[]) => {
    const r = await lifeboat(args, {...env, LIFEBOAT_REPOSITORY: repository})
    return {...r, out: args.includes('--json') ? envelope(r.stdout) : undefined}
  }
  const copyRepo = (name: string): string => {
    const to = path.join(dir, name)
    fs.cpSync(base, to, {recursive: true})
    return to
  }
  /** restic's own verdict after our prune: check --read-data passes; restic's dry run finds nothing to remove. */
  const resticAccepts = async (repository: string, readData = true) => {
    const out = await restic(repository, 'check', ...(readData ? ['--read-data'] : []))
    expect(out).to.match(/no errors were found/)
  }
  const resticFindsNothing = async (repository: string) => {
    const out = await restic(repository, 'prune', '--dry-run')
    expect(out, out).to.match(/to repack:\s+0 blobs \/ 0 B/)
    expect(out, out).to.match(/to delete:\s+0 blobs \/ 0 B/)
    expect(out, out).to.not.match(/unreferenced/i)
  }
  /** Every remaining snapshot restores (with restic) to exactly its source. */
  const restoresIdentical = async (repository: string) => {
    const snaps = JSON.parse(await restic(repository, 'snapshots', '--json')) as Array<{short_id: string; paths: string[]}>
    expect(snaps).to.have.length(Object.keys(kept).length)
    for (const s of snaps) {
      const target = path.join(dir, `restore-${s.short_id}-${randomBytes(3).toString('hex')}`)
      await restic(repository, 'restore', s.short_id, '--target', target)
      for (const p of s.paths) expect(digest(path.join(target, p)), p).to.deep.equal(kept[p])
      fs.rmSync(target, {recursive: true, force: true})
    }
  }

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lb-prune-'))
    base = path.join(dir, 'base')
    env = {
      TZ: 'UTC',
      RESTIC_PASSWORD: PW,
      RESTIC_REPOSITORY: '',
      LIFEBOAT_PASSWORD: PW,
      XDG_CONFIG_HOME: path.join(dir, 'config'),
      XDG_DATA_HOME: path.join(dir, 'data'),
    }
    // Sources: a (random data + text), b (random data), c (text, backed up by lifeboat).
    const src = (n: string) => path.join(dir, 'src', n)
    for (const n of ['a', 'b', 'c']) fs.mkdirSync(src(n), {recursive: true})
    for (let i = 0; i < 6; i++) fs.writeFileSync(path.join(src('a'), `r${i}`), randomBytes(3 * 1024 * 1024 + i))
    for (let i = 0; i < 40; i++) fs.writeFileSync(path.join(src('a'), `t${i}.txt`), `a text ${i}\n`.repeat(200 + i))
    for (let i = 0; i < 6; i++) fs.writeFileSync(path.join(src('b'), `r${i}`), randomBytes(3 * 1024 * 1024 + 7 * i))
    for (let i = 0; i < 30; i++) fs.writeFileSync(path.join(src('c'), `c${i}.txt`), `c text ${i}\n`.repeat(100 + i))
    await restic(base, 'init')
    // Snapshot 1 mixes a and b in the same packs; it is forgotten, so packs become partly used.
    await restic(base, 'backup', '-q', '--pack-size', '4', src('a'), src('b'))
    await restic(base, 'backup', '-q', '--pack-size', '4', src('a'))
    const r = await lb(base, 'backup', 'run', src('c'))
    expect(r.code, r.stderr).to.equal(0)
    const snaps = JSON.parse(await restic(base, 'snapshots', '--json')) as Array<{id: string; time: string}>
    snaps.sort((x, y) => (x.time < y.time ? -1 : 1))
    await restic(base, 'forget', snaps[0].id)
    kept = {[src('a')]: digest(src('a')), [src('c')]: digest(src('c'))}
  })
  after(() => fs.rmSync(dir, {recursive: true, force: true}))

  it('prune removes what no snapshot needs; restic check --read-data passes, snapshots restore identical, restic finds nothing more to prune', async () => {
    const repo = copyRepo('plain')
    const packsBefore = packCount(repo)
    // Leftovers of killed runs: a pack in no index, an old temporary file, and a fresh one that must stay.
    const junk = randomBytes(5000)
    const junkId = createHash('sha256').update(junk).digest('hex')
    fs.writeFileSync(path.join(repo, 'data', junkId.slice(0, 2), junkId), junk)
    const oldTmp = path.join(repo, 'data', '00', `${'0'.repeat(64)}-tmp-abcdef`)
    const newTmp = path.join(repo, 'data', '01', `${'1'.repeat(64)}-tmp-abcdef`)
    fs.writeFileSync(oldTmp, 'x')
    fs.writeFileSync(newTmp, 'y')
    const twoHoursAgo = new Date(Date.now() - 2 * 3600 * 1000)
    fs.utimesSync(oldTmp, twoHoursAgo, twoHoursAgo)

    const r = await lb(repo, 'backup', 'prune', '--json')
    expect(r.code, r.stderr).to.equal(0)
    const res = r.out.result
    expect(res.dryRun).to.equal(false)
    expect(res.snapshots).to.equal(2)
    expect(res.blobs.unused).to.be.greaterThan(0)
    expect(res.packs.unreferenced).to.equal(1)
    expect(res.packs.repack + res.packs.delete).to.be.greaterThan(0)
    expect(res.freed).to.be.greaterThan(5 * 1024 * 1024)
    expect(res.sizeAfter).to.be.lessThan(res.sizeBefore)
    expect(res.tmpFilesRemoved).to.equal(1)
    expect(fs.existsSync(path.join(repo, 'data', junkId.slice(0, 2), junkId))).to.equal(false)
    expect(fs.existsSync(oldTmp)).to.equal(false)
    expect(fs.existsSync(newTmp)).to.equal(true)
    fs.rmSync(newTmp)
    expect(packCount(repo)).to.equal(packsBefore - res.packs.repack - res.packs.delete + res.packs.written)
    expect(fs.readdirSync(path.join(repo, 'locks'))).to.deep.equal([])

    await resticAccepts(repo)
    await restoresIdentical(repo)
    await resticFindsNothing(repo)

    // A second prune has nothing to do, and says so in its human summary.
    const again = await lb(repo, 'backup', 'prune')
    expect(again.code, again.stderr).to.equal(0)
    expect(again.stdout).to.match(/to repack:\s+0 blobs \/ 0 packs/)
    expect(again.stdout).to.match(/this removes:\s+0 blobs/)
  })

  it('--dry-run reports the plan and changes nothing', async () => {
    const repo = copyRepo('dry')
    const before = listing(repo)
    const r = await lb(repo, 'backup', 'prune', '--dry-run', '--json')
    expect(r.code, r.stderr).to.equal(0)
    const res = r.out.result
    expect(res.dryRun).to.equal(true)
    expect(res.blobs.unused).to.be.greaterThan(0)
    expect(res.freed).to.be.greaterThan(5 * 1024 * 1024)
    expect(res.packs.written).to.equal(0)
    expect(listing(repo)).to.deep.equal(before)
    const human = await lb(repo, 'backup', 'prune', '--dry-run')
    expect(human.code, human.stderr).to.equal(0)
    expect(human.stdout).to.match(/would free:\s+\d/)
    expect(human.stdout).to.match(/dry run: nothing was changed/)
    expect(listing(repo)).to.deep.equal(before)
  })

  it('--max-unused unlimited deletes only wholly unused packs; a second prune with --max-unused 0% repacks the rest', async () => {
    const repo = copyRepo('unlimited')
    const r = await lb(repo, 'backup', 'prune', '--max-unused', 'unlimited', '--json')
    expect(r.code, r.stderr).to.equal(0)
    // Nothing that still holds used data was rewritten for the sake of space: only data packs whose every blob
    // is unused went (tree packs are always repacked, as restic does).
    const leftUnused = r.out.result.unusedAfter as number
    await resticAccepts(repo, false)
    const r2 = await lb(repo, 'backup', 'prune', '--max-unused', '0%', '--json')
    expect(r2.code, r2.stderr).to.equal(0)
    // Whether restic happened to mix the forgotten data into packs with kept data decides if anything is partly
    // used; whatever is left unused, 0 % must repack it all away.
    if (leftUnused > 0) expect(r2.out.result.packs.repack).to.be.greaterThan(0)
    else expect(r2.out.result.packs.repack).to.equal(0)
    expect(r2.out.result.unusedAfter).to.equal(0)
    await resticAccepts(repo)
    await resticFindsNothing(repo)
  })

  it('refuses with a clear message while another lock is held; --retry-lock waits until it is released', async () => {
    const repo = copyRepo('locked')
    const r = await Repository.open(new LocalBackend(repo), PW)
    const held = await lockRepository(r, {exclusive: false, refreshMs: 0})
    try {
      const before = listing(repo).filter((l) => !l.startsWith('locks/'))
      const refused = await lb(repo, 'backup', 'prune')
      expect(refused.code).to.equal(1)
      expect(refused.stderr).to.match(/repository is already locked: non-exclusive lock [0-9a-f]{8} held by .*\(PID \d+\)/)
      expect(refused.stderr).to.match(/what to do:/)
      expect(listing(repo).filter((l) => !l.startsWith('locks/'))).to.deep.equal(before)
      const json = await lb(repo, 'backup', 'prune', '--json')
      expect(json.code).to.equal(1)
      expect(json.out.error.code).to.equal('LOCKED')

      const started = Date.now()
      const waiting = lb(repo, 'backup', 'prune', '--retry-lock', '1m', '--json')
      setTimeout(() => void held.release(), 2500)
      const w = await waiting
      expect(w.code, w.stderr).to.equal(0)
      expect(Date.now() - started).to.be.greaterThan(2500)
      expect(w.out.result.freed).to.be.greaterThan(0)
    } finally {
      await held.release()
      await r.close()
    }
    await resticAccepts(repo, false)
  })

  it('forget --prune removes the snapshot and its data in one run', async () => {
    const repo = copyRepo('forget-prune')
    const r = await lb(repo, 'backup', 'forget', '--keep-last', '1', '--group-by', '', '--prune', '--json')
    expect(r.code, r.stderr).to.equal(0)
    expect(r.out.result.removed).to.have.length(1)
    expect(r.out.result.prune.snapshots).to.equal(1)
    expect(r.out.result.prune.freed).to.be.greaterThan(0)
    await resticAccepts(repo)
    await resticFindsNothing(repo)
  })

  for (const ms of [600, 800, 1000, 1200, 1500]) {
    it(`SIGKILL after ${ms} ms leaves a repository restic accepts, and a second prune completes`, async () => {
      const repo = copyRepo(`kill-${ms}`)
      const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'run.js'), 'backup', 'prune'], {
        env: {...process.env, ...env, LIFEBOAT_REPOSITORY: repo},
        stdio: 'ignore',
      })
      const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()))
      await new Promise((res) => setTimeout(res, ms))
      child.kill('SIGKILL')
      await exited
      // restic leaves stale locks to `restic unlock` (ours are judged stale by PID, restic's way too).
      await restic(repo, 'unlock')
      await resticAccepts(repo, false)
      const r = await lb(repo, 'backup', 'prune', '--json')
      expect(r.code, r.stderr).to.equal(0)
      await resticAccepts(repo)
      await restoresIdentical(repo)
      await resticFindsNothing(repo)
    })
  }
})
