import {expect} from 'chai'
import {execFile, spawn} from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {promisify} from 'node:util'

import {envelope, lifeboat} from '../helpers/cli.js'
import {compareTrees, listRepoFiles} from '../helpers/fs-compare.js'
import {makeVariedTree} from './fixtures/varied-tree.js'

const run = promisify(execFile)

describe('backup run against restic 0.14 @integration', function () {
  this.timeout(180_000)
  let dir: string
  let env: NodeJS.ProcessEnv
  const restic = async (repo: string, args: string[]) =>
    (await run('restic', ['-r', repo, ...args], {env: {...process.env, RESTIC_PASSWORD: 'pw-test', RESTIC_CACHE_DIR: path.join(dir, 'rcache')}, maxBuffer: 64 << 20})).stdout

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lb-backup-'))
    env = {
      LIFEBOAT_PASSWORD: 'pw-test',
      XDG_CONFIG_HOME: path.join(dir, 'config'),
      XDG_DATA_HOME: path.join(dir, 'data'),
      LIFEBOAT_REPOSITORY: '',
      RESTIC_REPOSITORY: '',
      RESTIC_PASSWORD: '',
    }
  })
  afterEach(() => {
    fs.rmSync(dir, {recursive: true, force: true})
  })

  function sourceTree(): string {
    const src = path.join(dir, 'src')
    fs.mkdirSync(src)
    makeVariedTree(src)
    // Several chunks, a sparse file and many small files.
    fs.writeFileSync(path.join(src, 'random.bin'), Buffer.from(Array.from({length: 3 << 20}, (_, i) => (i * 2_654_435_761) >>> 24)))
    const fd = fs.openSync(path.join(src, 'sparse.img'), 'w')
    fs.writeSync(fd, Buffer.from('start'), 0, 5, 0)
    fs.writeSync(fd, Buffer.from('end'), 0, 3, 9 << 20)
    fs.closeSync(fd)
    fs.mkdirSync(path.join(src, 'many'))
    for (let i = 0; i < 300; i++) fs.writeFileSync(path.join(src, 'many', `f${i}.txt`), `file ${i}\n`.repeat(i))
    return src
  }

  it('writes a repository that restic checks, lists and restores identically', async () => {
    const src = sourceTree()
    const repo = path.join(dir, 'repo')
    expect((await lifeboat(['backup', 'init', '--repo', repo], env)).code).to.equal(0)
    const r = await lifeboat(['backup', 'run', '--repo', repo, src, '--tag', 'nightly', '--tag', 'pi', '--host', 'pi4', '--json'], env)
    expect(r.code, r.stderr).to.equal(0)
    const summary = envelope(r.stdout).result
    expect(summary.message_type).to.equal('summary')
    expect(summary.files_new).to.be.greaterThan(300)

    await restic(repo, ['check', '--read-data'])
    const snaps = JSON.parse(await restic(repo, ['snapshots', '--json']))
    expect(snaps).to.have.length(1)
    expect(snaps[0].hostname).to.equal('pi4')
    expect(snaps[0].tags).to.deep.equal(['nightly', 'pi'])
    expect(snaps[0].paths).to.deep.equal([src])
    expect(snaps[0].id).to.equal(summary.snapshot_id)

    const target = path.join(dir, 'restored')
    await restic(repo, ['restore', 'latest', '--target', target])
    // restic 0.14 cannot restore a symlink whose target is not UTF-8 (it stores U+FFFD); our snapshot keeps
    // the raw bytes in linktarget_raw, which newer restic and our restorer use.
    const diffs = compareTrees(src, path.join(target, src), {nanoseconds: true, owners: true, xattrs: true, skip: ['badlink']})
    expect(diffs).to.deep.equal([])
  })

  it('deduplicates against what restic stored: a second backup of the same folder adds no data', async () => {
    const src = sourceTree()
    const repo = path.join(dir, 'repo')
    await run('restic', ['-r', repo, 'init', '-q'], {env: {...process.env, RESTIC_PASSWORD: 'pw-test'}})
    await restic(repo, ['backup', '-q', src])
    const r = await lifeboat(['backup', 'run', '--repo', repo, src, '--json', '--force'], env)
    expect(r.code, r.stderr).to.equal(0)
    const s = envelope(r.stdout).result
    expect(s.data_blobs, 'new data blobs').to.equal(0)
    expect(s.data_added).to.equal(0)
    // Trees below the backed-up folder are byte-identical to restic's; only the ancestors (whose times moved) are new.
    expect(s.tree_blobs).to.be.at.most(src.split('/').length)
    await restic(repo, ['check'])
  })

  it('an unchanged second run reads nothing and reuses the parent snapshot', async () => {
    const src = sourceTree()
    const repo = path.join(dir, 'repo')
    await lifeboat(['backup', 'init', '--repo', repo], env)
    const first = envelope((await lifeboat(['backup', 'run', '--repo', repo, src, '--json'], env)).stdout).result
    fs.appendFileSync(path.join(src, 'many', 'f7.txt'), 'changed\n')
    const second = envelope((await lifeboat(['backup', 'run', '--repo', repo, src, '--json'], env)).stdout).result
    expect(second.parent).to.equal(first.snapshot_id)
    expect(second.files_changed).to.equal(1)
    expect(second.files_new).to.equal(0)
    expect(second.files_unmodified).to.equal(first.files_new - 1)
    expect(second.data_blobs).to.equal(1)
    await restic(repo, ['check', '--read-data'])
  })

  it('creates the default repository on first use and says so; an explicit missing --repo is an error', async () => {
    const src = path.join(dir, 'small')
    fs.mkdirSync(src)
    fs.writeFileSync(path.join(src, 'a'), 'a')
    const r = await lifeboat(['backup', 'run', src], env)
    expect(r.code, r.stderr).to.equal(0)
    expect(r.stderr).to.contain(`created the default repository at ${path.join(dir, 'data', 'lifeboat', 'repo')}`)
    expect(fs.existsSync(path.join(dir, 'data', 'lifeboat', 'repo', 'config'))).to.equal(true)
    const missing = await lifeboat(['backup', 'run', '--repo', path.join(dir, 'nope'), src], env)
    expect(missing.code).to.equal(1)
    expect(missing.stderr).to.contain('no repository found at')
    expect(missing.stderr).to.contain('lifeboat backup init')
    expect(fs.existsSync(path.join(dir, 'nope'))).to.equal(false)
  })

  it('a wrong password is a clear error and writes nothing', async () => {
    const src = path.join(dir, 'small')
    fs.mkdirSync(src)
    fs.writeFileSync(path.join(src, 'a'), 'a')
    const repo = path.join(dir, 'repo')
    await lifeboat(['backup', 'init', '--repo', repo], env)
    const before = listRepoFiles(repo)
    const r = await lifeboat(['backup', 'run', '--repo', repo, src], {...env, LIFEBOAT_PASSWORD: 'wrong'})
    expect(r.code).to.equal(1)
    expect(r.stderr).to.match(/wrong password|no key/i)
    expect(r.stderr).not.to.match(/\n\s+at /)
    expect(listRepoFiles(repo)).to.deep.equal(before)
  })

  it('without a password in a script, names the ways to give one (exit 2)', async () => {
    const r = await lifeboat(['backup', 'snapshots', '--repo', path.join(dir, 'x')], {...env, LIFEBOAT_PASSWORD: ''})
    // The repository does not exist: that is reported before asking for a password.
    expect(r.code).to.equal(1)
    const repo = path.join(dir, 'repo')
    await lifeboat(['backup', 'init', '--repo', repo], env)
    const r2 = await lifeboat(['backup', 'snapshots', '--repo', repo], {...env, LIFEBOAT_PASSWORD: ''})
    expect(r2.code).to.equal(2)
    expect(r2.stderr).to.contain('--password-file')
  })

  it('an unreadable file is a warning: the snapshot is written without it, exit 3', async () => {
    const src = path.join(dir, 'src')
    fs.mkdirSync(src)
    fs.writeFileSync(path.join(src, 'ok.txt'), 'fine')
    fs.writeFileSync(path.join(src, 'secret.txt'), 'hidden')
    fs.chmodSync(src, 0o755)
    fs.chmodSync(path.join(src, 'secret.txt'), 0)
    const repo = path.join(dir, 'repo')
    fs.chmodSync(dir, 0o755)
    await lifeboat(['backup', 'init', '--repo', repo], env)
    // Root reads everything: run the backup as "nobody", who may read ok.txt but not secret.txt.
    fs.cpSync(repo, path.join(dir, 'repo-nobody'), {recursive: true})
    execChown(path.join(dir, 'repo-nobody'))
    const r = await lifeboat(['backup', 'run', '--repo', path.join(dir, 'repo-nobody'), src, '--json'], {...env, HOME: dir}, {uid: 65_534, gid: 65_534})
    expect(r.code, r.stderr + r.stdout).to.equal(3)
    const out = envelope(r.stdout)
    expect(out.ok).to.equal(true)
    expect(out.warnings.join('\n')).to.contain('secret.txt')
    expect(out.result.snapshot_id).to.match(/^[0-9a-f]{64}$/)
    const ls = await restic(path.join(dir, 'repo-nobody'), ['ls', 'latest'])
    expect(ls).to.contain(path.join(src, 'ok.txt'))
    expect(ls).not.to.contain('secret.txt')
    await restic(path.join(dir, 'repo-nobody'), ['check', '--read-data'])
  })

  it('a file growing during the backup is reported and stored as read; the repository stays valid', async () => {
    const src = path.join(dir, 'src')
    fs.mkdirSync(src)
    const growing = path.join(src, 'growing.log')
    fs.writeFileSync(growing, Buffer.alloc(4 << 20, 1))
    const repo = path.join(dir, 'repo')
    await lifeboat(['backup', 'init', '--repo', repo], env)
    const writer = spawn('sh', ['-c', `while true; do printf 'line of log text\\n' >> '${growing}'; done`], {stdio: 'ignore'})
    try {
      await new Promise((r) => setTimeout(r, 200))
      const r = await lifeboat(['backup', 'run', '--repo', repo, src, '--json'], env)
      const out = envelope(r.stdout)
      expect(out.ok).to.equal(true)
      if (r.code === 3) expect(out.warnings.join('\n')).to.contain('changed while it was read')
      else expect(r.code).to.equal(0)
    } finally {
      writer.kill('SIGKILL')
    }
    await restic(repo, ['check', '--read-data'])
  })
})

describe('lifeboat on a restic-written repository @integration', function () {
  this.timeout(180_000)
  let dir: string
  afterEach(() => fs.rmSync(dir, {recursive: true, force: true}))

  it('snapshots, ls, restore and check give what restic gives; a flipped byte is found and named', async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lb-fromrestic-'))
    const src = path.join(dir, 'src')
    fs.mkdirSync(src)
    makeVariedTree(src)
    fs.writeFileSync(path.join(src, 'victim.bin'), Buffer.from(Array.from({length: 2 << 20}, (_, i) => (i * 7919) & 0xff)))
    fs.writeFileSync(path.join(src, 'innocent.txt'), 'safe and sound\n'.repeat(1000))
    const repo = path.join(dir, 'repo')
    const rEnv = {...process.env, RESTIC_PASSWORD: 'pw', RESTIC_CACHE_DIR: path.join(dir, 'rc')}
    await run('restic', ['-r', repo, 'init', '-q'], {env: rEnv})
    await run('restic', ['-r', repo, 'backup', '-q', '--tag', 'from-restic', '--host', 'oldbox', src], {env: rEnv})
    const env = {LIFEBOAT_PASSWORD: '', RESTIC_PASSWORD: 'pw', RESTIC_REPOSITORY: repo, XDG_CONFIG_HOME: path.join(dir, 'c'), XDG_DATA_HOME: path.join(dir, 'd')}

    const snaps = envelope((await lifeboat(['backup', 'snapshots', '--json'], env)).stdout).result.snapshots
    const resticSnaps = JSON.parse((await run('restic', ['-r', repo, 'snapshots', '--json'], {env: rEnv})).stdout)
    expect(snaps.map((s: any) => [s.id, s.hostname, s.tags, s.paths, s.tree])).to.deep.equal(resticSnaps.map((s: any) => [s.id, s.hostname, s.tags, s.paths, s.tree]))

    const ours = envelope((await lifeboat(['backup', 'ls', snaps[0].id.slice(0, 6), '--json'], env)).stdout).result.nodes.map((n: any) => n.path)
    const theirs = (await run('restic', ['-r', repo, 'ls', 'latest', '--json'], {env: rEnv})).stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .filter((j) => j.struct_type === 'node')
      .map((j) => j.path)
    expect(ours.filter((p: string) => !p.includes('bad'))).to.deep.equal(theirs.filter((p: string) => !p.includes('bad')))

    const check = await lifeboat(['backup', 'check', '--read-data', '--json'], env)
    expect(check.code, check.stderr).to.equal(0)
    const restored = path.join(dir, 'restored')
    const r = await lifeboat(['backup', 'restore', 'latest', '--target', restored, '--verify'], env)
    expect(r.code, r.stderr).to.equal(0)
    // restic 0.14 stored the non-UTF-8 symlink target as U+FFFD: those bytes are gone for every reader.
    expect(compareTrees(src, path.join(restored, src), {nanoseconds: true, owners: true, xattrs: true, skip: ['badlink']})).to.deep.equal([])

    // Flip one byte in the pack holding victim.bin's first blob.
    const {pack: victimPack, offset} = await packOfFile(repo, rEnv, path.join(src, 'victim.bin'))
    const packPath = path.join(repo, 'data', victimPack.slice(0, 2), victimPack)
    fs.chmodSync(packPath, 0o600)
    const bytes = fs.readFileSync(packPath)
    bytes[offset + 100] ^= 0xff
    fs.writeFileSync(packPath, bytes)

    const bad = await lifeboat(['backup', 'check', '--read-data', '--json'], env)
    expect(bad.code).to.equal(1)
    const result = envelope(bad.stdout).result
    expect(result.damagedPacks).to.include(victimPack)
    expect(result.affected.map((a: any) => a.path)).to.deep.equal([path.join(src, 'victim.bin')])

    const partial = path.join(dir, 'partial')
    const ok = await lifeboat(['backup', 'restore', 'latest', '--target', partial, '--include', path.join(src, 'innocent.txt')], env)
    expect(ok.code, ok.stderr).to.equal(0)
    expect(fs.readFileSync(path.join(partial, src, 'innocent.txt'), 'utf8')).to.equal('safe and sound\n'.repeat(1000))
  })
})

/** The pack holding the first data blob of a file, found through restic's own view of the repository. */
async function packOfFile(repo: string, env: NodeJS.ProcessEnv, file: string): Promise<{pack: string; offset: number}> {
  const restic = async (...args: string[]) => (await run('restic', ['-r', repo, ...args], {env, maxBuffer: 64 << 20})).stdout
  let tree = JSON.parse(await restic('snapshots', '--json', 'latest'))[0].tree as string
  let blob: string | undefined
  for (const comp of file.split('/').filter(Boolean)) {
    const node = JSON.parse(await restic('cat', 'blob', tree)).nodes.find((n: any) => n.name === comp)
    if (node.type === 'file') blob = node.content[0]
    else tree = node.subtree
  }
  for (const idx of (await restic('list', 'index')).trim().split('\n')) {
    for (const p of JSON.parse(await restic('cat', 'index', idx)).packs) {
      const b = p.blobs.find((x: any) => x.id === blob)
      if (b) return {pack: p.id, offset: b.offset}
    }
  }
  throw new Error(`no pack holds the first blob of ${file}`)
}

describe('backup crash safety @integration', function () {
  this.timeout(600_000)
  let dir: string
  afterEach(() => fs.rmSync(dir, {recursive: true, force: true}))
  const rEnv = () => ({...process.env, RESTIC_PASSWORD: 'pw', RESTIC_CACHE_DIR: path.join(dir, 'rc')})
  const storedPacks = (repo: string) => {
    let bytes = 0
    for (const sub of fs.readdirSync(path.join(repo, 'data'))) {
      for (const f of fs.readdirSync(path.join(repo, 'data', sub))) if (/^[0-9a-f]{64}$/.test(f)) bytes += fs.statSync(path.join(repo, 'data', sub, f)).size
    }
    return bytes
  }
  const startBackup = (repo: string, src: string, env: NodeJS.ProcessEnv) => {
    const child = spawn(process.execPath, [path.join(process.cwd(), 'bin', 'run.js'), 'backup', 'run', '--repo', repo, src], {env: {...process.env, ...env}, stdio: 'ignore'})
    const exited = new Promise<void>((r) => child.on('close', () => r()))
    return {child, exited}
  }

  it('a backup killed half-way leaves a repository restic accepts; the next run re-uploads < 10% of what was stored', async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lb-crash-'))
    const src = path.join(dir, 'src')
    fs.mkdirSync(src)
    const crypto = await import('node:crypto')
    const total = 384 * 2 ** 20
    for (let i = 0; i < 24; i++) fs.writeFileSync(path.join(src, `part${String(i).padStart(2, '0')}.bin`), crypto.randomBytes(16 << 20))
    const repo = path.join(dir, 'repo')
    const env = {LIFEBOAT_PASSWORD: 'pw', XDG_CONFIG_HOME: path.join(dir, 'c'), XDG_DATA_HOME: path.join(dir, 'd')}
    await lifeboat(['backup', 'init', '--repo', repo], env)
    const {child, exited} = startBackup(repo, src, env)
    let done = false
    void exited.then(() => (done = true))
    // Kill once a good part is stored (finished packs), well before the end.
    const deadline = Date.now() + 120_000
    while (storedPacks(repo) < total / 3 && Date.now() < deadline && !done) await new Promise((r) => setTimeout(r, 20))
    expect(done, 'the backup finished before it could be killed half-way').to.equal(false)
    child.kill('SIGKILL')
    await exited
    const stored = storedPacks(repo)
    expect(fs.readdirSync(path.join(repo, 'snapshots'))).to.deep.equal([])
    await run('restic', ['-r', repo, 'unlock'], {env: rEnv()})
    await run('restic', ['-r', repo, 'check', '--read-data'], {env: rEnv()})

    const again = await lifeboat(['backup', 'run', '--repo', repo, src, '--json'], env)
    expect(again.code, again.stderr).to.equal(0)
    const s = envelope(again.stdout).result
    expect(s.total_bytes_processed).to.equal(total)
    // What the second run stored beyond what was still missing: the re-upload.
    const reuploaded = s.data_added_packed - Math.max(0, total * 1.001 - stored)
    expect(reuploaded, `stored ${stored}, second run added ${s.data_added_packed}`).to.be.lessThan(0.1 * stored)
    await run('restic', ['-r', repo, 'check', '--read-data'], {env: rEnv()})
  })

  it('backups killed at 22 random moments: after every kill restic check passes, and the next run completes', async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lb-kills-'))
    const src = path.join(dir, 'src')
    fs.mkdirSync(path.join(src, 'many'), {recursive: true})
    const crypto = await import('node:crypto')
    for (let i = 0; i < 4; i++) fs.writeFileSync(path.join(src, `big${i}.bin`), crypto.randomBytes(12 << 20))
    for (let i = 0; i < 400; i++) fs.writeFileSync(path.join(src, 'many', `f${i}.txt`), `line ${i}\n`.repeat(50 + i))
    const repo = path.join(dir, 'repo')
    const env = {LIFEBOAT_PASSWORD: 'pw', XDG_CONFIG_HOME: path.join(dir, 'c'), XDG_DATA_HOME: path.join(dir, 'd')}
    await lifeboat(['backup', 'init', '--repo', repo], env)
    // How long a run that stores one round's new content takes here, whole: the kills are drawn over that span
    // (a fixed window let most runs finish first once backups got fast).
    fs.writeFileSync(path.join(src, 'warmup.bin'), crypto.randomBytes(16 << 20))
    const t0 = Date.now()
    const warm = await lifeboat(['backup', 'run', '--repo', repo, src], env)
    expect(warm.code, warm.stderr).to.equal(0)
    const span = Date.now() - t0
    let kills = 0
    let completed = 0
    for (let round = 0; kills < 22 && round < 45; round++) {
      // New content each round, so every run has something to store.
      fs.writeFileSync(path.join(src, `round${round}.bin`), crypto.randomBytes(16 << 20))
      const {child, exited} = startBackup(repo, src, env)
      let done = false
      void exited.then(() => (done = true))
      await new Promise((r) => setTimeout(r, 30 + Math.floor(Math.random() * span * 0.9)))
      if (done) completed++
      else {
        child.kill('SIGKILL')
        kills++
      }
      await exited
      // The killed run's lock is stale (dead PID on this host): restic's unlock removes it, check then runs.
      await run('restic', ['-r', repo, 'unlock'], {env: rEnv()})
      await run('restic', ['-r', repo, 'check'], {env: rEnv()})
    }
    expect(kills, `${kills} kills, ${completed} runs finished before their kill`).to.be.at.least(20)
    const last = await lifeboat(['backup', 'run', '--repo', repo, src, '--json'], env)
    expect(last.code, last.stderr).to.equal(0)
    await run('restic', ['-r', repo, 'check', '--read-data'], {env: rEnv()})
    const restored = path.join(dir, 'restored')
    await run('restic', ['-r', repo, 'restore', 'latest', '--target', restored], {env: rEnv()})
    expect(compareTrees(src, path.join(restored, src))).to.deep.equal([])
  })
})

function execChown(p: string): void {
  for (const e of fs.readdirSync(p, {recursive: true, withFileTypes: true})) fs.lchownSync(path.join(e.parentPath, e.name), 65_534, 65_534)
  fs.chownSync(p, 65_534, 65_534)
}
