import {expect} from 'chai'
import {execFile} from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {promisify} from 'node:util'

import {envelope, lifeboat} from '../helpers/cli.js'
import {listRepoFiles} from '../helpers/fs-compare.js'

const run = promisify(execFile)

describe('backup commands @integration', function () {
  this.timeout(120_000)
  let dir: string
  let repo: string
  let src: string
  let env: NodeJS.ProcessEnv
  const lb = async (...args: string[]) => {
    const r = await lifeboat(args, env)
    return {...r, out: args.includes('--json') ? envelope(r.stdout) : undefined}
  }

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lb-cli-'))
    repo = path.join(dir, 'repo')
    src = path.join(dir, 'src')
    fs.mkdirSync(path.join(src, 'cache'), {recursive: true})
    fs.mkdirSync(path.join(src, 'docs'))
    fs.writeFileSync(path.join(src, 'docs', 'a.txt'), 'a')
    fs.writeFileSync(path.join(src, 'docs', 'b.tmp'), 'b')
    fs.writeFileSync(path.join(src, 'cache', 'c.bin'), 'c')
    env = {LIFEBOAT_PASSWORD: 'first', LIFEBOAT_REPOSITORY: repo, XDG_CONFIG_HOME: path.join(dir, 'c'), XDG_DATA_HOME: path.join(dir, 'd'), RESTIC_PASSWORD: '', RESTIC_REPOSITORY: ''}
    expect((await lb('backup', 'init', '--json')).code).to.equal(0)
  })
  afterEach(() => fs.rmSync(dir, {recursive: true, force: true}))

  it('--exclude and --exclude-file leave matching paths out; --dry-run writes nothing', async () => {
    const excludes = path.join(dir, 'excludes')
    fs.writeFileSync(excludes, '# caches\ncache\n')
    const before = listRepoFiles(repo)
    const dry = await lb('backup', 'run', src, '--dry-run', '--json')
    expect(dry.code).to.equal(0)
    expect(dry.out.result.dry_run).to.equal(true)
    expect(dry.out.result.files_new).to.equal(3)
    expect(listRepoFiles(repo)).to.deep.equal(before)
    const r = await lb('backup', 'run', src, '--exclude', '*.tmp', '--exclude-file', excludes, '--json')
    expect(r.code, r.stderr).to.equal(0)
    const ls = (await lb('backup', 'ls', 'latest', '--json')).out.result.nodes.map((n: any) => n.path)
    expect(ls).to.include(path.join(src, 'docs', 'a.txt'))
    expect(ls).not.to.include(path.join(src, 'docs', 'b.tmp'))
    expect(ls.some((p: string) => p.includes('cache'))).to.equal(false)
  })

  it('snapshots filter by host, tag and path, and --latest keeps the newest of each group', async () => {
    await lb('backup', 'run', src, '--host', 'alpha', '--tag', 'daily')
    await lb('backup', 'run', src, '--host', 'alpha', '--tag', 'daily,important')
    await lb('backup', 'run', path.join(src, 'docs'), '--host', 'beta')
    const all = (await lb('backup', 'snapshots', '--json')).out.result.snapshots
    expect(all).to.have.length(3)
    expect((await lb('backup', 'snapshots', '--host', 'beta', '--json')).out.result.snapshots.map((s: any) => s.hostname)).to.deep.equal(['beta'])
    expect((await lb('backup', 'snapshots', '--tag', 'important', '--json')).out.result.snapshots).to.have.length(1)
    expect((await lb('backup', 'snapshots', '--path', path.join(src, 'docs'), '--json')).out.result.snapshots).to.have.length(1)
    const latest = (await lb('backup', 'snapshots', '--latest', '1', '--json')).out.result.snapshots
    expect(latest.map((s: any) => s.id)).to.deep.equal([all[1].id, all[2].id])
    // An ID prefix works; an unknown one is a clear error.
    const byPrefix = await lb('backup', 'ls', all[0].id.slice(0, 8), '--json')
    expect(byPrefix.out.result.snapshot).to.equal(all[0].id)
    const none = await lifeboat(['backup', 'ls', 'ffffffffffff'], env)
    expect(none.code).to.equal(1)
    expect(none.stderr).to.contain('no snapshot matches')
  })

  it('keys: add a second password, change the first, refuse to remove the key in use; restic agrees', async () => {
    fs.writeFileSync(path.join(dir, 'second'), 'second-password\n')
    fs.writeFileSync(path.join(dir, 'third'), 'third-password\n')
    const added = await lb('backup', 'key', 'add', '--new-password-file', path.join(dir, 'second'), '--json')
    expect(added.code, added.stderr).to.equal(0)
    const keys = (await lb('backup', 'key', 'list', '--json')).out.result.keys
    expect(keys).to.have.length(2)
    expect(keys.filter((k: any) => k.current)).to.have.length(1)
    await run('restic', ['-r', repo, 'snapshots'], {env: {...process.env, RESTIC_PASSWORD: 'second-password'}})

    const current = keys.find((k: any) => k.current).id
    const refused = await lifeboat(['backup', 'key', 'remove', current.slice(0, 10)], env)
    expect(refused.code).to.equal(2)
    expect(refused.stderr).to.contain('it is the key in use')
    expect(refused.stderr).to.contain('lifeboat backup key passwd')

    const changed = await lb('backup', 'key', 'passwd', '--new-password-file', path.join(dir, 'third'), '--json')
    expect(changed.code, changed.stderr).to.equal(0)
    const wrong = await lifeboat(['backup', 'snapshots'], env)
    expect(wrong.code).to.equal(1)
    const ok = await lifeboat(['backup', 'snapshots'], {...env, LIFEBOAT_PASSWORD: 'third-password'})
    expect(ok.code, ok.stderr).to.equal(0)
    const nonTtyAdd = await lifeboat(['backup', 'key', 'add'], {...env, LIFEBOAT_PASSWORD: 'third-password'})
    expect(nonTtyAdd.code).to.equal(2)
    expect(nonTtyAdd.stderr).to.contain('--new-password-file')
  })

  it('unlock removes a stale lock and leaves a live one unless --remove-all', async () => {
    await lb('backup', 'run', src)
    // A stale lock: restic's format, a dead PID on this host.
    const {Repository} = await import('../../src/backup/repository.js')
    const {LocalBackend} = await import('../../src/backup/backend/local.js')
    const r = await Repository.open(new LocalBackend(repo), 'first')
    const lockJson = (pid: number) => ({time: new Date().toISOString(), exclusive: false, hostname: os.hostname(), username: 'root', pid, uid: 0, gid: 0})
    await r.saveUnpacked('lock', lockJson(2 ** 22 + 12_345))
    await r.saveUnpacked('lock', lockJson(process.pid))
    expect(fs.readdirSync(path.join(repo, 'locks'))).to.have.length(2)
    const u = await lb('backup', 'unlock', '--json')
    expect(u.out.result.removed).to.have.length(1)
    expect(fs.readdirSync(path.join(repo, 'locks'))).to.have.length(1)
    const all = await lb('backup', 'unlock', '--remove-all', '--json')
    expect(all.out.result.removed).to.have.length(1)
    expect(fs.readdirSync(path.join(repo, 'locks'))).to.have.length(0)
  })
})
