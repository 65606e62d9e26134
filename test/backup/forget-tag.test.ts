import {expect} from 'chai'
import {execFile} from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {promisify} from 'node:util'

import {envelope, lifeboat} from '../helpers/cli.js'

const exec = promisify(execFile)

describe('backup forget and tag against restic @integration', function () {
  this.timeout(120_000)
  let dir: string
  let repo: string
  let env: NodeJS.ProcessEnv

  const lb = async (...args: string[]) => {
    const r = await lifeboat(args, env)
    return {...r, out: args.includes('--json') ? envelope(r.stdout) : undefined}
  }
  const restic = async (repository: string, ...args: string[]) => (await exec('restic', ['-r', repository, '--no-cache', ...args], {env: {...process.env, ...env}})).stdout
  const resticSnapshots = async (repository = repo): Promise<any[]> => JSON.parse(await restic(repository, 'snapshots', '--json'))
  const snapshotFiles = () => fs.readdirSync(path.join(repo, 'snapshots')).sort()
  /** A restic backup of `src` recorded at `time` (local time of TZ=UTC); returns the snapshot ID. */
  const backupAt = async (src: string, time: string, ...extra: string[]) => {
    const before = new Set(snapshotFiles())
    await restic(repo, 'backup', '-q', '--host', 'box', '--time', time, ...extra, src)
    return snapshotFiles().find((f) => !before.has(f))!
  }

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lb-forget-'))
    repo = path.join(dir, 'repo')
    for (const d of ['a', 'b']) {
      fs.mkdirSync(path.join(dir, d))
      fs.writeFileSync(path.join(dir, d, 'f.txt'), d)
    }
    env = {
      TZ: 'UTC',
      RESTIC_PASSWORD: 'forget test',
      RESTIC_REPOSITORY: '',
      LIFEBOAT_PASSWORD: 'forget test',
      LIFEBOAT_REPOSITORY: repo,
      XDG_CONFIG_HOME: path.join(dir, 'config'),
      XDG_DATA_HOME: path.join(dir, 'data'),
    }
    await restic(repo, 'init')
  })
  afterEach(() => fs.rmSync(dir, {recursive: true, force: true}))

  it('forget --keep-daily 2 decides as restic forget does, per group; --dry-run removes nothing', async () => {
    const a = path.join(dir, 'a')
    const b = path.join(dir, 'b')
    const ids: Record<string, string> = {}
    for (const t of ['2024-01-01 10:00:00', '2024-01-02 09:00:00', '2024-01-02 18:00:00', '2024-01-03 08:00:00', '2024-01-03 20:00:00']) ids[t] = await backupAt(a, t)
    ids['b 2024-01-01'] = await backupAt(b, '2024-01-01 12:00:00')
    ids['b 2024-01-05'] = await backupAt(b, '2024-01-05 12:00:00')

    // restic's own decision, on a copy of the repository.
    const copy = path.join(dir, 'copy')
    fs.cpSync(repo, copy, {recursive: true})
    const theirs = JSON.parse(await restic(copy, 'forget', '--keep-daily', '2', '--dry-run', '--json')) as any[]
    const theirKept = theirs.flatMap((g) => (g.keep ?? []).map((s: any) => s.id)).sort()

    const before = snapshotFiles()
    const dry = await lb('backup', 'forget', '--keep-daily', '2', '--dry-run', '--json')
    expect(dry.code, dry.stderr).to.equal(0)
    expect(snapshotFiles()).to.deep.equal(before)
    const r = dry.out.result
    expect(r.dryRun).to.equal(true)
    expect(r.removed).to.deep.equal([])
    expect(r.groups).to.have.length(2)
    const ga = r.groups.find((g: any) => g.key.paths[0] === a)
    expect(ga.key).to.deep.equal({hostname: 'box', paths: [a]})
    expect(ga.keep.map((s: any) => [s.id, s.reasons])).to.deep.equal([
      [ids['2024-01-03 20:00:00'], ['daily snapshot']],
      [ids['2024-01-02 18:00:00'], ['daily snapshot']],
    ])
    expect(ga.remove.map((s: any) => s.id)).to.deep.equal([ids['2024-01-03 08:00:00'], ids['2024-01-02 09:00:00'], ids['2024-01-01 10:00:00']])
    expect(ga.remove.every((s: any) => s.reasons.length === 0)).to.equal(true)
    const ourKept = r.groups.flatMap((g: any) => g.keep.map((s: any) => s.id)).sort()
    expect(ourKept).to.deep.equal(theirKept)

    const human = await lb('backup', 'forget', '--keep-daily', '2', '--dry-run')
    expect(human.stdout).to.include(`snapshots for (host [box], paths [${a}])`)
    expect(human.stdout).to.match(/would remove\s/)
    expect(human.stdout).to.include('daily snapshot')
    expect(human.stdout).to.include('would remove 3 snapshots (dry run)')

    const real = await lb('backup', 'forget', '--keep-daily', '2', '--json')
    expect(real.code, real.stderr).to.equal(0)
    expect([...real.out.result.removed].sort()).to.deep.equal(before.filter((id) => !theirKept.includes(id)).sort())
    expect((await resticSnapshots()).map((s) => s.id).sort()).to.deep.equal(theirKept)
    expect(fs.readdirSync(path.join(repo, 'locks'))).to.deep.equal([])
  })

  it('forget without keep flags takes backup.keep from the config; with no policy at all it removes nothing', async () => {
    const a = path.join(dir, 'a')
    for (const t of ['2024-02-01 10:00:00', '2024-02-02 10:00:00', '2024-02-03 10:00:00']) await backupAt(a, t)
    const before = snapshotFiles()
    const none = await lb('backup', 'forget', '--json')
    expect(none.code, none.stderr).to.equal(0)
    expect(none.out.result.policyEmpty).to.equal(true)
    const noneHuman = await lb('backup', 'forget')
    expect(noneHuman.stderr).to.include('no policy was specified, no snapshots will be removed')
    expect(snapshotFiles()).to.deep.equal(before)

    fs.mkdirSync(path.join(dir, 'config', 'lifeboat'), {recursive: true})
    fs.writeFileSync(path.join(dir, 'config', 'lifeboat', 'config.yaml'), 'backup:\n  keep:\n    last: 1\n    within: 1d\n')
    const cfg = await lb('backup', 'forget', '--json')
    expect(cfg.code, cfg.stderr).to.equal(0)
    expect(cfg.out.result.policy).to.deep.equal({last: 1, within: '1d'})
    expect(cfg.out.result.groups[0].keep.map((s: any) => s.reasons)).to.deep.equal([['within 1d', 'last snapshot']])
    expect(snapshotFiles()).to.have.length(1)
    // A keep flag replaces the config's policy.
    expect((await lb('backup', 'forget', '--keep-tag', 'x', '--dry-run', '--json')).out.result.policy).to.deep.equal({keepTags: [['x']]})
  })

  it('forget ID… removes exactly the named snapshots (prefixes, latest); a wrong ID removes nothing; IDs and --keep-* do not mix', async () => {
    const a = path.join(dir, 'a')
    const ids: string[] = []
    for (const t of ['2024-04-01 10:00:00', '2024-04-02 10:00:00', '2024-04-03 10:00:00']) ids.push(await backupAt(a, t))
    const bad = await lb('backup', 'forget', ids[0].slice(0, 8), 'ffffffff', '--json')
    expect(bad.code).to.equal(1)
    expect(bad.out.error.message).to.match(/no snapshot matches ID ffffffff/)
    expect(snapshotFiles()).to.deep.equal([...ids].sort())
    const mixed = await lb('backup', 'forget', ids[0].slice(0, 8), '--keep-last', '1')
    expect(mixed.code).to.equal(2)
    expect(mixed.stderr).to.match(/either snapshot IDs or --keep-\* rules/)
    const dry = await lb('backup', 'forget', ids[0].slice(0, 8), 'latest', '--dry-run', '--json')
    expect(dry.out.result.groups[0].remove.map((s: any) => s.id)).to.deep.equal([ids[0], ids[2]])
    expect(snapshotFiles()).to.have.length(3)
    const real = await lb('backup', 'forget', ids[0].slice(0, 8), 'latest', '--json')
    expect(real.code, real.stderr).to.equal(0)
    expect(real.out.result.removed).to.deep.equal([ids[0], ids[2]])
    expect((await resticSnapshots()).map((s) => s.id)).to.deep.equal([ids[1]])
  })

  it('tag --add/--remove/--set rewrite snapshots restic reads, with original set once', async () => {
    const a = path.join(dir, 'a')
    const first = await backupAt(a, '2024-03-01 10:00:00', '--tag', 'nightly')
    const second = await backupAt(a, '2024-03-02 10:00:00')

    const add = await lb('backup', 'tag', '--add', 'keep,important', first.slice(0, 8), '--json')
    expect(add.code, add.stderr).to.equal(0)
    const c1 = add.out.result.changed
    expect(c1).to.have.length(1)
    expect(c1[0].old).to.equal(first)
    let sn = await resticSnapshots()
    expect(sn.map((s) => s.id)).to.not.include(first)
    const added = sn.find((s) => s.id === c1[0].id)
    expect(added.tags).to.deep.equal(['nightly', 'keep', 'important'])
    expect(added.original).to.equal(first)

    // No IDs: every snapshot matching the filter; original stays the first ID.
    const rm = await lb('backup', 'tag', '--remove', 'nightly', '--tag', 'keep', '--json')
    expect(rm.code, rm.stderr).to.equal(0)
    expect(rm.out.result.changed).to.have.length(1)
    sn = await resticSnapshots()
    const removed = sn.find((s) => s.id === rm.out.result.changed[0].id)
    expect(removed.tags).to.deep.equal(['keep', 'important'])
    expect(removed.original).to.equal(first)

    // A change that changes nothing writes nothing.
    const noop = await lb('backup', 'tag', '--remove', 'absent', second, '--json')
    expect(noop.out.result.changed).to.deep.equal([])
    expect(noop.out.result.unchanged).to.deep.equal([second])

    const set = await lb('backup', 'tag', '--set', 'x', '--set', 'y', '--json')
    expect(set.code, set.stderr).to.equal(0)
    sn = await resticSnapshots()
    expect(sn).to.have.length(2)
    expect(sn.map((s) => s.tags)).to.deep.equal([['x', 'y'], ['x', 'y']])
    expect(sn.map((s) => s.original)).to.deep.equal([first, second])

    const clear = await lb('backup', 'tag', '--set', '', 'latest', '--json')
    expect(clear.code, clear.stderr).to.equal(0)
    sn = await resticSnapshots()
    expect(sn[1].tags).to.equal(undefined)
    expect(sn[1].original).to.equal(second)

    const bad = await lb('backup', 'tag', '--set', 'a', '--add', 'b', '--json')
    expect(bad.code).to.equal(2)
    expect(bad.out.error.message).to.include('--set and --add/--remove cannot be given at the same time')
    expect(fs.readdirSync(path.join(repo, 'locks'))).to.deep.equal([])
    await restic(repo, 'check')
  })
})
