import {expect} from 'chai'
import {execFileSync} from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'

import type {JobEvent} from '../../src/notify/event.js'
import type {JobRecordFile} from '../../src/ops/records.js'
import {gatherStatus, type StatusProviders} from '../../src/ops/status.js'
import type {ArrayStatus} from '../../src/raid/engine.js'
import {envelope, lifeboat} from '../helpers/cli.js'
import {ROOT, tempDir} from '../helpers/env.js'
import {hasRestic, restic, writePasswordFile} from '../backup/repo-helpers.js'

const NOW = new Date('2026-03-10T12:00:00Z')

function array(name: string, health: ArrayStatus['health']): ArrayStatus {
  return {engine: 'md', name, level: 'raid5', health, state: health === 'healthy' ? 'clean' : 'clean, degraded', members: [], expectedMembers: 4, status: [], action: []}
}

function rec(name: string, job: string, state: JobEvent['state'], extra: Partial<JobEvent> = {}): JobRecordFile {
  const event: JobEvent = {
    version: 1,
    job,
    name,
    host: 'pi',
    state,
    startedAt: '2026-03-10T02:00:00.000Z',
    finishedAt: '2026-03-10T02:10:00.000Z',
    durationSeconds: 600,
    summary: `${job} ${state}`,
    numbers: {},
    action: '',
    exitCode: state === 'failure' ? 1 : 0,
    ...extra,
  }
  const r = {event, notifications: []}
  return {name, job, last: r, history: [r]}
}

function providers(over: Partial<StatusProviders> = {}): StatusProviders {
  return {
    arrays: async () => [array('md0', 'healthy')],
    repositories: async () => [{name: 'main', location: '/srv/repo', rpoSeconds: 86_400, snapshots: 3, newest: {id: 'a'.repeat(64), time: '2026-03-10T02:00:00Z', ageSeconds: 36_000}, sizeBytes: 1 << 30}],
    schedules: async () => [],
    awsBackup: async () => [{resourceArn: 'arn:aws:rds:us-east-1:123456789012:db:shop', rpoSeconds: 3600, newest: {recoveryPointArn: 'arn:aws:backup:us-east-1:123456789012:recovery-point:1', creationDate: '2026-03-10T11:30:00Z', ageSeconds: 1800}}],
    records: () => [rec('check', 'check', 'success', {repository: '/srv/repo'})],
    now: () => NOW,
    ...over,
  }
}

describe('ops/status: levels and exit codes', () => {
  it('all green → exit 0, with the last check of each repository', async () => {
    const r = await gatherStatus(providers())
    expect(r.level).to.equal('ok')
    expect(r.exitCode).to.equal(0)
    const repo = r.sections.find((s) => s.name === 'repositories')!.items[0]
    expect(repo.detail).to.match(/3 snapshots, newest 10\.0h ago \(RPO 24\.0h\), 1\.00 GiB; last check: success/)
  })

  it('a degraded array alone → exit 4; with anything else red → exit 1', async () => {
    const degraded = await gatherStatus(providers({arrays: async () => [array('md0', 'degraded'), array('md1', 'healthy')]}))
    expect(degraded.sections[0].level).to.equal('red')
    expect(degraded.exitCode).to.equal(4)
    const failed = await gatherStatus(providers({arrays: async () => [array('md0', 'failed')]}))
    expect(failed.exitCode).to.equal(1)
    const both = await gatherStatus(
      providers({
        arrays: async () => [array('md0', 'degraded')],
        records: () => [rec('check', 'check', 'failure', {repository: '/srv/repo'})],
      }),
    )
    expect(both.exitCode).to.equal(1)
  })

  it('a snapshot or recovery point older than its RPO is red → exit 1', async () => {
    const late = await gatherStatus(
      providers({repositories: async () => [{name: 'main', location: '/srv/repo', rpoSeconds: 3600, snapshots: 1, newest: {id: 'b'.repeat(64), time: '2026-03-09T00:00:00Z', ageSeconds: 129_600}}]}),
    )
    expect(late.sections.find((s) => s.name === 'repositories')!.level).to.equal('red')
    expect(late.exitCode).to.equal(1)
    const rp = await gatherStatus(
      providers({awsBackup: async () => [{resourceArn: 'arn:aws:rds:us-east-1:123456789012:db:shop', rpoSeconds: 3600, newest: {recoveryPointArn: 'x', creationDate: '2026-03-10T06:00:00Z', ageSeconds: 21_600}}]}),
    )
    expect(rp.sections.find((s) => s.name === 'awsBackup')!.items[0].detail).to.match(/OLDER THAN THE RPO/)
    expect(rp.exitCode).to.equal(1)
  })

  it('an unreadable source is yellow (exit 3), not hidden and not fatal', async () => {
    const r = await gatherStatus(
      providers({
        awsBackup: async () => {
          throw new Error('Could not load credentials from any providers')
        },
      }),
    )
    const s = r.sections.find((x) => x.name === 'awsBackup')!
    expect(s.level).to.equal('warn')
    expect(s.note).to.match(/credentials/)
    expect(r.exitCode).to.equal(3)
  })

  it('schedules: next run, last result from the job records; a failed last run or a missing unit is red', async () => {
    const sched = {
      version: 1 as const,
      name: 'nightly',
      job: 'backup',
      args: ['backup', 'run'],
      command: [],
      scheduler: 'systemd' as const,
      onCalendar: 'daily',
      calendarSource: 'every 1d',
      randomizedDelaySec: 3600,
      envFile: '/etc/lifeboat/schedules/nightly.env',
      specFile: '/etc/lifeboat/schedules/nightly.json',
      createdAt: '2026-03-01T00:00:00Z',
      installed: true,
      problems: [],
      nextRun: '2026-03-11T00:00:00.000Z',
    }
    const ok = await gatherStatus(providers({schedules: async () => [sched], records: () => [rec('nightly', 'backup', 'success')]}))
    const item = ok.sections.find((s) => s.name === 'schedules')!.items[0]
    expect(item.level).to.equal('ok')
    expect(item.detail).to.match(/next 2026-03-11 00:00Z; last success 2026-03-10 02:10Z/)
    const bad = await gatherStatus(providers({schedules: async () => [sched], records: () => [rec('nightly', 'backup', 'failure', {summary: 'backup failed: disk full'})]}))
    expect(bad.sections.find((s) => s.name === 'schedules')!.items[0].detail).to.match(/disk full/)
    expect(bad.exitCode).to.equal(1)
    const missing = await gatherStatus(providers({schedules: async () => [{...sched, installed: false, problems: ['unit /etc/systemd/system/lifeboat-nightly.timer is missing']}]}))
    expect(missing.exitCode).to.equal(1)
  })

  it('DR readiness comes from the last dr-readiness job record', async () => {
    const none = await gatherStatus(providers())
    expect(none.sections.find((s) => s.name === 'dr')!.note).to.match(/no readiness check/)
    const failed = await gatherStatus(providers({records: () => [rec('dr-readiness', 'dr-readiness', 'failure', {summary: '2 of 9 checks failed: AMI missing in us-west-2'})]}))
    const dr = failed.sections.find((s) => s.name === 'dr')!
    expect(dr.level).to.equal('red')
    expect(dr.items[0].detail).to.match(/AMI missing/)
    expect(failed.exitCode).to.equal(1)
  })
})

describe('lifeboat status on a real repository @integration', function () {
  this.timeout(120_000)
  let dir: string
  let env: NodeJS.ProcessEnv
  let cfg: string

  before(async function () {
    if (!hasRestic()) this.skip()
    dir = tempDir('lb-status-')
    const repo = path.join(dir, 'repo')
    const src = path.join(dir, 'src')
    fs.mkdirSync(src)
    fs.writeFileSync(path.join(src, 'a.txt'), 'status test\n')
    const pw = await writePasswordFile(dir, 'status-pw')
    await restic(repo, pw, ['init'])
    // A snapshot from 2020: far older than any RPO.
    await restic(repo, pw, ['backup', '--time', '2020-01-01 00:00:00', src])
    cfg = path.join(dir, 'config.yaml')
    fs.writeFileSync(cfg, `repositories:\n  main:\n    location: ${repo}\n    rpo: 1d\nops:\n  scheduleRoot: ${path.join(dir, 'root')}\n`)
    env = {LIFEBOAT_CONFIG: cfg, LIFEBOAT_PASSWORD: 'status-pw', XDG_STATE_HOME: path.join(dir, 'state'), XDG_CONFIG_HOME: path.join(dir, 'c'), XDG_DATA_HOME: path.join(dir, 'd'), RESTIC_PASSWORD: '', RESTIC_REPOSITORY: '', LIFEBOAT_REPOSITORY: ''}
  })
  after(() => dir && fs.rmSync(dir, {recursive: true, force: true}))

  it('prints JSON when stdout is not a terminal and exits 1 when the newest snapshot is older than the RPO', async () => {
    const r = await lifeboat(['status'], env)
    expect(r.code, r.stderr).to.equal(1)
    const out = envelope(r.stdout)
    expect(out.ok).to.equal(false)
    const repo = out.result.sections.find((s: any) => s.name === 'repositories')
    expect(repo.level).to.equal('red')
    expect(repo.items[0].data).to.include({name: 'main', snapshots: 1, rpoSeconds: 86_400})
  })

  it('after a backup and a check through lifeboat: green, with the check result; --text prints the screen', async () => {
    const b = await lifeboat(['backup', 'run', '--repo', 'main', path.join(dir, 'src'), '--metrics-file', path.join(dir, 'lb.prom')], env)
    expect(b.code, b.stderr).to.equal(0)
    const c = await lifeboat(['backup', 'check', '--repo', 'main', '--json'], env)
    expect(c.code, c.stderr).to.equal(0)
    const r = await lifeboat(['status', '--json', '--metrics-file', path.join(dir, 'lb.prom')], env)
    expect(r.code, r.stdout).to.equal(0)
    const repo = envelope(r.stdout).result.sections.find((s: any) => s.name === 'repositories')
    expect(repo.level).to.equal('ok')
    expect(repo.items[0].data.lastCheck).to.include({job: 'check', state: 'success'})
    expect(repo.items[0].data.lastBackup).to.include({job: 'backup', state: 'success'})
    const prom = fs.readFileSync(path.join(dir, 'lb.prom'), 'utf8')
    expect(prom).to.match(/^lifeboat_snapshot_age_seconds\{repository="[^"]+\/repo"\} \d+$/m)
    expect(prom).to.match(/^lifeboat_job_success\{job="backup",name="backup",repository="[^"]+\/repo"\} 1$/m)
    const t = await lifeboat(['status', '--text'], env)
    expect(t.code).to.equal(0)
    expect(t.stdout).to.match(/^Repositories {2}ok$/m)
    expect(t.stdout).to.match(/^ {2}ok {3}main: .*2 snapshots, newest \d+s ago \(RPO 24\.0h\)/m)
    expect(t.stdout).not.to.match(/\u001B\[/) // no colours off a terminal
  })

  it('on a terminal: the coloured screen, not JSON (util-linux script gives it a pseudo-terminal)', async function () {
    let hasScript = true
    try {
      execFileSync('script', ['--version'], {stdio: 'ignore'})
    } catch {
      hasScript = false
    }
    if (!hasScript) this.skip()
    const out = execFileSync('script', ['-qec', `${process.execPath} ${path.join(ROOT, 'bin/run.js')} status`, '/dev/null'], {
      env: {...process.env, ...env, TERM: 'xterm', NO_COLOR: undefined} as NodeJS.ProcessEnv,
      encoding: 'utf8',
    })
    expect(out).to.match(/\u001B\[1mRepositories\u001B\[0m {2}\u001B\[32mok\u001B\[0m/)
    expect(out).not.to.match(/"command": "status"/)
  })
})

describe('lifeboat status with the RAID engines on a fake /proc and /sys @integration', function () {
  this.timeout(60_000)
  const roots: string[] = []
  after(() => {
    for (const r of roots) fs.rmSync(r, {recursive: true, force: true})
  })

  /** An md0 RAID5 tree from the captured states (the raid tests' recipe): clean, or vdb faulty. */
  function mdRoot(state: 'clean' | 'failed'): string {
    const root = tempDir('lb-status-md-')
    roots.push(root)
    const put = (rel: string, v: string) => {
      fs.mkdirSync(path.dirname(path.join(root, rel)), {recursive: true})
      fs.writeFileSync(path.join(root, rel), v)
    }
    const fixtures = path.join(ROOT, 'test/fixtures/raid/md')
    const mdstat = fs.readdirSync(fixtures).find((n) => n.startsWith(state === 'clean' ? '13-' : '22-'))!
    put('proc/mdstat', fs.readFileSync(path.join(fixtures, mdstat), 'utf8'))
    const sys = {array_state: 'clean', sync_action: 'idle', degraded: state === 'clean' ? '0' : '1', mismatch_cnt: '0', raid_disks: '4', level: 'raid5', component_size: '64512'}
    for (const [k, v] of Object.entries(sys)) put(`sys/block/md0/md/${k}`, `${v}\n`)
    for (const [i, d] of ['vda', 'vdb', 'vdc', 'vdd'].entries()) {
      const faulty = state === 'failed' && d === 'vdb'
      put(`sys/block/md0/md/dev-${d}/state`, faulty ? 'faulty\n' : 'in_sync\n')
      put(`sys/block/md0/md/dev-${d}/slot`, faulty ? 'none\n' : `${i}\n`)
    }
    return root
  }

  it('a degraded md array alone makes status exit 4 and writes lifeboat_array_degraded 1; healthy is 0', async () => {
    const dir = tempDir('lb-status-raid-')
    roots.push(dir)
    const env = {XDG_STATE_HOME: path.join(dir, 's'), XDG_CONFIG_HOME: path.join(dir, 'c'), XDG_DATA_HOME: path.join(dir, 'd'), LIFEBOAT_CONFIG: '', LIFEBOAT_REPOSITORY: '', RESTIC_REPOSITORY: ''}
    const prom = path.join(dir, 'm.prom')
    const bad = await lifeboat(['status', '--json', '--schedule-root', dir, '--metrics-file', prom], {...env, LIFEBOAT_RAID_ROOT: mdRoot('failed')})
    expect(bad.code, bad.stdout + bad.stderr).to.equal(4)
    const arrays = envelope(bad.stdout).result.sections.find((s: any) => s.name === 'arrays')
    expect(arrays.level).to.equal('red')
    expect(arrays.items.find((i: any) => i.name === 'md0')).to.deep.include({level: 'red', degradedArray: true})
    expect(fs.readFileSync(prom, 'utf8')).to.match(/^lifeboat_array_degraded\{array="md0"\} 1$/m)
    const good = await lifeboat(['status', '--json', '--schedule-root', dir, '--metrics-file', prom], {...env, LIFEBOAT_RAID_ROOT: mdRoot('clean')})
    expect(good.code, good.stdout).to.equal(0)
    expect(fs.readFileSync(prom, 'utf8')).to.match(/^lifeboat_array_degraded\{array="md0"\} 0$/m)
  })
})
