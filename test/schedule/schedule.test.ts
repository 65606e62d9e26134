import {expect} from 'chai'
import {execFileSync} from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'

import {UsageError} from '../../src/errors.js'
import type {Runner, RunOptions, RunResult} from '../../src/exec/runner.js'
import {calendarFromEvery, cronFromOnCalendar, nextCronTime, nextOnCalendar} from '../../src/schedule/calendar.js'
import {addSchedule, listSchedules, removeSchedule, runSchedule} from '../../src/schedule/schedules.js'
import {parseEnvFile, systemdWord} from '../../src/schedule/units.js'
import {envelope, lifeboat} from '../helpers/cli.js'
import {tempDir, withTZ} from '../helpers/env.js'

function hasSystemdAnalyze(): boolean {
  try {
    execFileSync('systemd-analyze', ['--version'], {stdio: 'ignore'})
    return true
  } catch {
    return false
  }
}

/** systemd-analyze verify on unit files (dependencies such as timers.target come from this machine's systemd). */
function verify(files: string[]): {ok: boolean; output: string} {
  try {
    const out = execFileSync('systemd-analyze', ['verify', ...files], {encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: {...process.env, SYSTEMD_LOG_LEVEL: 'warning'}})
    return {ok: true, output: out}
  } catch (error) {
    const e = error as {stdout?: string; stderr?: string}
    return {ok: false, output: `${e.stdout ?? ''}${e.stderr ?? ''}`}
  }
}

/** A stand-in for bin/run.js that records the argv and environment it was started with. */
function fakeLifeboat(dir: string): {bin: string; out: string} {
  const out = path.join(dir, 'ran.json')
  const bin = path.join(dir, 'fake-run.mjs')
  fs.writeFileSync(bin, `import fs from 'node:fs'\nfs.writeFileSync(${JSON.stringify(out)}, JSON.stringify({argv: process.argv.slice(2), execArgv: process.execArgv, env: process.env}))\nprocess.exit(Number(process.env.FAKE_EXIT ?? 0))\n`)
  return {bin, out}
}

/** A Runner that plays crontab -l / crontab - against an in-memory crontab. */
class FakeCrontab implements Runner {
  text: string | undefined = undefined
  calls: string[][] = []
  async run(command: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
    this.calls.push([command, ...args])
    const base = {command, args, stdout: '', stderr: '', durationMs: 1}
    if (command !== 'crontab') throw new Error(`unexpected ${command}`)
    if (args[0] === '-l') return this.text === undefined ? {...base, code: 1, stderr: 'no crontab for pi\n'} : {...base, code: 0, stdout: this.text}
    this.text = String(opts.input ?? '')
    return {...base, code: 0}
  }
}

describe('schedule: calendars', () => {
  it('--every maps to systemd OnCalendar and to crontab fields', () => {
    expect(calendarFromEvery('15m', 'x')).to.include({onCalendar: '*-*-* *:00/15:00', cron: '*/15 * * * *', intervalSeconds: 900})
    const h = calendarFromEvery('1h', 'backup')
    expect(h.onCalendar).to.equal('hourly')
    expect(h.cron).to.match(/^\d{1,2} \* \* \* \*$/)
    expect(calendarFromEvery('6h', 'x').onCalendar).to.equal('*-*-* 00/6:00:00')
    expect(calendarFromEvery('1d', 'x').onCalendar).to.equal('daily')
    expect(calendarFromEvery('24h', 'x').onCalendar).to.equal('daily')
    expect(calendarFromEvery('7d', 'x').onCalendar).to.equal('weekly')
    expect(calendarFromEvery('1w', 'x').cron).to.match(/ \* \* 1$/)
  })

  it('refuses intervals without an exact calendar form, naming --on-calendar', () => {
    for (const bad of ['7m', '5h', '3d', '2w', 'often', '1y']) {
      expect(() => calendarFromEvery(bad, 'x'), bad).to.throw(UsageError, /--every/)
    }
  })

  it('next run from cron fields, in local time like cron and systemd', () => {
    withTZ('UTC', () => {
      const from = new Date('2026-03-10T10:17:30Z')
      expect(nextCronTime('*/15 * * * *', from)?.toISOString()).to.equal('2026-03-10T10:30:00.000Z')
      expect(nextCronTime('5 3 * * *', from)?.toISOString()).to.equal('2026-03-11T03:05:00.000Z')
      expect(nextCronTime('0 0 * * 1', from)?.toISOString()).to.equal('2026-03-16T00:00:00.000Z') // a Monday
      expect(nextCronTime('0 */6 * * *', from)?.toISOString()).to.equal('2026-03-10T12:00:00.000Z')
    })
    expect(cronFromOnCalendar('Mon,Thu 03:30')).to.equal('30 3 * * 1,4')
    expect(cronFromOnCalendar('*-*-* 02:05:00')).to.equal('5 2 * * *')
    expect(cronFromOnCalendar('Mon..Fri *-*-1/2 3:00')).to.equal(undefined)
  })

  it('next run of a free-form OnCalendar spec through systemd-analyze', async function () {
    if (!hasSystemdAnalyze()) this.skip()
    const next = await nextOnCalendar('*-*-01 04:00:00 UTC', new Date('2026-03-10T10:00:00Z'))
    expect(next?.toISOString()).to.equal('2026-04-01T04:00:00.000Z')
  })

  it('quotes ExecStart words for systemd (% and $ are specifiers/variables there)', () => {
    expect(systemdWord('/srv/data')).to.equal('/srv/data')
    expect(systemdWord('/srv/my data')).to.equal('"/srv/my data"')
    expect(systemdWord('100%')).to.equal('100%%')
    expect(systemdWord('$HOME')).to.equal('$$HOME')
  })
})

describe('schedule: systemd units and cron lines under --root', function () {
  this.timeout(60_000)
  let dir: string
  let root: string
  let fake: {bin: string; out: string}
  const base = () => ({
    config: {backup: {paths: ['/srv/data']}, notifications: {sinks: [{name: 'hook', type: 'webhook' as const, url: 'https://hooks.example.com/x', secretEnv: 'LB_TEST_HOOK_SECRET'}]}},
    lifeboatBin: fake.bin,
    node: process.execPath,
    root,
    env: {HOME: '/home/pi', PATH: '/usr/bin:/bin', LIFEBOAT_PASSWORD: 'correct horse battery', LB_TEST_HOOK_SECRET: 'hook-secret-value', UNRELATED: 'x'},
  })

  beforeEach(() => {
    dir = tempDir('lb-sched-')
    root = path.join(dir, 'root')
    fake = fakeLifeboat(dir)
  })
  afterEach(() => fs.rmSync(dir, {recursive: true, force: true}))

  it('writes a timer and service that systemd-analyze verify accepts; secrets only in the 0600 env file', async function () {
    const r = await addSchedule({...base(), job: 'backup', every: '1h', extraArgs: ['--tag', 'nightly 1'], metricsFile: path.join(dir, 'lb.prom')})
    const unitDir = path.join(root, 'etc/systemd/system')
    const service = fs.readFileSync(path.join(unitDir, 'lifeboat-backup.service'), 'utf8')
    const timer = fs.readFileSync(path.join(unitDir, 'lifeboat-backup.timer'), 'utf8')
    expect(timer).to.match(/^OnCalendar=hourly$/m)
    expect(timer).to.match(/^Persistent=true$/m)
    expect(timer).to.match(/^RandomizedDelaySec=360$/m)
    expect(timer).to.match(/^WantedBy=timers.target$/m)
    expect(service).to.match(/^Type=oneshot$/m)
    expect(service).to.match(/^EnvironmentFile=\/etc\/lifeboat\/schedules\/backup.env$/m)
    expect(service).to.include(`ExecStart=${process.execPath} --max-semi-space-size=1 ${fake.bin} backup run --no-input --tag "nightly 1"`)
    for (const text of [service, timer, JSON.stringify(r)]) {
      expect(text).not.to.include('correct horse')
      expect(text).not.to.include('hook-secret-value')
    }
    const envFile = path.join(root, 'etc/lifeboat/schedules/backup.env')
    expect(fs.statSync(envFile).mode & 0o777).to.equal(0o600)
    const env = parseEnvFile(fs.readFileSync(envFile, 'utf8'))
    expect(env).to.include({LIFEBOAT_PASSWORD: 'correct horse battery', LB_TEST_HOOK_SECRET: 'hook-secret-value', LIFEBOAT_JOB_NAME: 'backup', HOME: '/home/pi', LIFEBOAT_METRICS_FILE: path.join(dir, 'lb.prom')})
    expect(env).not.to.have.property('UNRELATED')
    expect(r.activated).to.equal(false)
    expect(r.notes.join()).not.to.match(/no repository password/)
    const noPw = await addSchedule({...base(), env: {HOME: '/home/pi'}, job: 'check', every: '1d'})
    expect(noPw.notes.join()).to.match(/no repository password source/)

    if (!hasSystemdAnalyze()) this.skip()
    const v = verify([path.join(unitDir, 'lifeboat-backup.timer'), path.join(unitDir, 'lifeboat-backup.service')])
    expect(v.ok, v.output).to.equal(true)
  })

  it('systemd-analyze verify catches a broken unit (the check can fail)', async function () {
    if (!hasSystemdAnalyze()) this.skip()
    await addSchedule({...base(), job: 'check', every: '1d'})
    const timer = path.join(root, 'etc/systemd/system/lifeboat-check.timer')
    fs.writeFileSync(timer, fs.readFileSync(timer, 'utf8').replace('OnCalendar=daily', 'OnCalendar=someday'))
    expect(verify([timer]).ok).to.equal(false)
  })

  it('--on-calendar is validated by systemd-analyze; a bad spec is a usage error', async function () {
    if (!hasSystemdAnalyze()) this.skip()
    const r = await addSchedule({...base(), job: 'check', onCalendar: 'Sun *-*-* 04:00', name: 'weekly-check'})
    expect(fs.readFileSync(path.join(root, 'etc/systemd/system/lifeboat-weekly-check.timer'), 'utf8')).to.match(/^OnCalendar=Sun \*-\*-\* 04:00$/m)
    expect(r.spec.randomizedDelaySec).to.equal(300)
    let err: unknown
    try {
      await addSchedule({...base(), job: 'check', onCalendar: 'every other tuesday', name: 'bad'})
    } catch (error) {
      err = error
    }
    expect(err).to.be.instanceOf(UsageError)
    expect(fs.existsSync(path.join(root, 'etc/lifeboat/schedules/bad.json'))).to.equal(false)
  })

  it('refuses a second schedule of the same name unless forced, and jobs that lack their target', async () => {
    await addSchedule({...base(), job: 'check', every: '1d'})
    let err: any
    await addSchedule({...base(), job: 'check', every: '6h'}).catch((error) => (err = error))
    expect(err).to.be.instanceOf(UsageError)
    expect(err.message).to.match(/exists already/)
    const r = await addSchedule({...base(), job: 'check', every: '6h', force: true})
    expect(r.spec.onCalendar).to.equal('*-*-* 00/6:00:00')
    for (const job of ['scrub', 'dr-readiness', 'aws-backup-rpo', 'forget-prune']) {
      err = undefined
      await addSchedule({...base(), job, every: '1d'}).catch((error) => (err = error))
      expect(err, job).to.be.instanceOf(UsageError)
    }
    const s = await addSchedule({...base(), job: 'scrub', every: '1w', name: 'scrub-md0', extraArgs: ['md0']})
    expect(s.spec.args).to.deep.equal(['raid', 'scrub', 'start', '--no-input', '--wait', 'md0'])
    const rt = await addSchedule({...base(), job: 'restore-test', every: '1w'})
    expect(rt.spec.args).to.deep.equal(['backup', 'restore-test', '--no-input', '--sample', '20'])
  })

  it('list shows what was scheduled and notices a missing unit; remove deletes units, env file and record', async () => {
    await addSchedule({...base(), job: 'backup', every: '1h'})
    await addSchedule({...base(), job: 'check', every: '1d'})
    let list = await listSchedules({root})
    expect(list[1].nextRun).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:00\.000Z$/)
    expect(list.map((s) => [s.name, s.job, s.installed])).to.deep.equal([
      ['backup', 'backup', true],
      ['check', 'check', true],
    ])
    fs.rmSync(path.join(root, 'etc/systemd/system/lifeboat-check.timer'))
    list = await listSchedules({root})
    expect(list[1].installed).to.equal(false)
    expect(list[1].problems.join()).to.match(/lifeboat-check.timer is missing/)
    const removed = await removeSchedule('backup', {root})
    expect(removed.removed.map((f) => path.basename(f))).to.have.members(['lifeboat-backup.service', 'lifeboat-backup.timer', 'backup.env', 'backup.json'])
    expect((await listSchedules({root})).map((s) => s.name)).to.deep.equal(['check'])
    let err: unknown
    await removeSchedule('backup', {root}).catch((error) => (err = error))
    expect(err).to.be.instanceOf(UsageError)
  })

  it('schedule run starts the same argv with only the env file as environment, and returns its exit code', async () => {
    await addSchedule({...base(), job: 'backup', every: '1h', extraArgs: ['/srv/my data'], envNames: ['FAKE_EXIT'], env: {...base().env, FAKE_EXIT: '3'}})
    const r = await runSchedule('backup', {root, capture: true})
    expect(r.exitCode).to.equal(3)
    const ran = JSON.parse(fs.readFileSync(fake.out, 'utf8'))
    expect(ran.argv).to.deep.equal(['backup', 'run', '--no-input', '/srv/my data'])
    expect(ran.execArgv).to.deep.equal(['--max-semi-space-size=1'])
    expect(ran.env).to.include({LIFEBOAT_PASSWORD: 'correct horse battery', LIFEBOAT_JOB_NAME: 'backup', UV_THREADPOOL_SIZE: '16', HOME: '/home/pi'})
    expect(ran.env).not.to.have.property('UNRELATED')
    // The service's ExecStart is the same command line.
    const service = fs.readFileSync(path.join(root, 'etc/systemd/system/lifeboat-backup.service'), 'utf8')
    expect(service).to.include(`ExecStart=${process.execPath} --max-semi-space-size=1 ${fake.bin} backup run --no-input "/srv/my data"`)
  })

  it('crontab fallback under --root: a marked line that calls `schedule run`, replaced not duplicated', async () => {
    const r = await addSchedule({...base(), job: 'backup', every: '1d', scheduler: 'cron', user: 'pi'})
    const tab = path.join(root, 'var/spool/cron/crontabs/pi')
    expect(fs.statSync(tab).mode & 0o777).to.equal(0o600)
    let lines = fs.readFileSync(tab, 'utf8').trim().split('\n')
    expect(lines).to.have.length(1)
    expect(lines[0]).to.match(new RegExp(`^\\d+ \\d \\* \\* \\* ${process.execPath} ${fake.bin} schedule run backup --root ${root} # lifeboat-schedule:backup$`))
    expect(lines[0]).to.include(r.spec.cron!)
    expect(lines[0]).not.to.include('correct horse')
    fs.appendFileSync(tab, '0 1 * * * /usr/local/bin/other-job\n')
    await addSchedule({...base(), job: 'backup', every: '1h', scheduler: 'cron', user: 'pi', force: true})
    lines = fs.readFileSync(tab, 'utf8').trim().split('\n')
    expect(lines.filter((l) => l.includes('lifeboat-schedule:backup'))).to.have.length(1)
    expect(lines).to.include('0 1 * * * /usr/local/bin/other-job')
    expect((await listSchedules({root}))[0]).to.include({scheduler: 'cron', installed: true})
    await removeSchedule('backup', {root})
    expect(fs.readFileSync(tab, 'utf8')).to.equal('0 1 * * * /usr/local/bin/other-job\n')
  })

  it('crontab fallback on a running system without systemd: crontab -l, then crontab - with the line added / removed', async () => {
    const cron = new FakeCrontab()
    cron.text = 'MAILTO=me@example.com\n0 1 * * * /usr/local/bin/other-job\n'
    // live: the root counts as the running system (as "/" does), so crontab is used instead of a file.
    const r = await addSchedule({...base(), job: 'check', every: '6h', scheduler: 'auto', runner: cron, systemdRunning: false, live: true})
    expect(r.spec.scheduler).to.equal('cron')
    expect(r.activated).to.equal(true)
    expect(cron.calls).to.deep.equal([
      ['crontab', '-l'],
      ['crontab', '-'],
    ])
    const lines = cron.text!.trim().split('\n')
    expect(lines.slice(0, 2)).to.deep.equal(['MAILTO=me@example.com', '0 1 * * * /usr/local/bin/other-job'])
    expect(lines[2]).to.match(/^\d+ \*\/6 \* \* \* \S+ \S+ schedule run check --root \S+ # lifeboat-schedule:check$/)
    expect((await listSchedules({root, runner: cron}))[0]).to.include({name: 'check', installed: true})
    await removeSchedule('check', {root, runner: cron, systemdRunning: false, live: true})
    expect(cron.text).to.equal('MAILTO=me@example.com\n0 1 * * * /usr/local/bin/other-job\n')
  })

  it('on a running systemd: daemon-reload and enable --now the timer; remove disables it first', async () => {
    const calls: string[][] = []
    const systemctl: Runner = {
      async run(command, args) {
        calls.push([command, ...args])
        return {command, args, code: 0, stdout: '', stderr: '', durationMs: 1}
      },
    }
    const r = await addSchedule({...base(), job: 'check', every: '1d', runner: systemctl, systemdRunning: true, live: true})
    expect(r.activated).to.equal(true)
    expect(calls).to.deep.equal([
      ['systemctl', 'daemon-reload'],
      ['systemctl', 'enable', '--now', 'lifeboat-check.timer'],
    ])
    calls.length = 0
    await removeSchedule('check', {root, runner: systemctl, systemdRunning: true, live: true})
    expect(calls).to.deep.equal([
      ['systemctl', 'disable', '--now', 'lifeboat-check.timer'],
      ['systemctl', 'daemon-reload'],
    ])
    expect(fs.existsSync(path.join(root, 'etc/systemd/system/lifeboat-check.timer'))).to.equal(false)
  })
})

describe('schedule commands end to end: a scheduled check runs and reports @integration', function () {
  this.timeout(120_000)
  let dir: string
  let env: NodeJS.ProcessEnv

  before(async () => {
    dir = tempDir('lb-sched-cli-')
    env = {
      LIFEBOAT_PASSWORD: 'sched-pw',
      LIFEBOAT_REPOSITORY: path.join(dir, 'repo'),
      XDG_STATE_HOME: path.join(dir, 'state'),
      XDG_CONFIG_HOME: path.join(dir, 'c'),
      XDG_DATA_HOME: path.join(dir, 'd'),
      LIFEBOAT_CONFIG: '',
      RESTIC_PASSWORD: '',
      RESTIC_REPOSITORY: '',
    }
    const r = await lifeboat(['backup', 'init'], env)
    expect(r.code, r.stderr).to.equal(0)
  })
  after(() => dir && fs.rmSync(dir, {recursive: true, force: true}))

  it('schedule add → list → run: the job gets the env file, records its result and writes metrics; remove cleans up', async () => {
    const root = path.join(dir, 'root')
    const prom = path.join(dir, 'lifeboat.prom')
    const add = await lifeboat(['schedule', 'add', 'check', '--every', '1d', '--root', root, '--metrics-file', prom, '--json'], env)
    expect(add.code, add.stderr).to.equal(0)
    const spec = envelope(add.stdout).result.spec
    expect(spec).to.include({name: 'check', job: 'check', scheduler: 'systemd', onCalendar: 'daily'})
    expect(add.stdout).not.to.include('sched-pw')
    const list = envelope((await lifeboat(['schedule', 'list', '--root', root, '--json'], env)).stdout).result.schedules
    expect(list.map((s: any) => [s.name, s.installed])).to.deep.equal([['check', true]])
    // The environment of `schedule run` is only the env file: drop the repository/password from ours to prove it.
    const run = await lifeboat(['schedule', 'run', 'check', '--root', root, '--json'], {...env, LIFEBOAT_PASSWORD: '', LIFEBOAT_REPOSITORY: ''})
    expect(run.code, run.stdout + run.stderr).to.equal(0)
    expect(envelope(run.stdout).result.stdout).to.match(/no errors were found/)
    const record = JSON.parse(fs.readFileSync(path.join(dir, 'state/lifeboat/jobs/check.json'), 'utf8'))
    expect(record.last.event).to.include({job: 'check', name: 'check', state: 'success', repository: path.join(dir, 'repo')})
    expect(fs.readFileSync(prom, 'utf8')).to.match(/^lifeboat_job_success\{job="check",name="check",repository="[^"]+"\} 1$/m)
    const status = envelope((await lifeboat(['status', '--json', '--schedule-root', root], env)).stdout).result
    const sched = status.sections.find((s: any) => s.name === 'schedules').items[0]
    expect(sched.data.last).to.include({state: 'success'})
    expect(sched.data.nextRun).to.match(/T\d\d:\d\d:00\.000Z$/)
    const rm = await lifeboat(['schedule', 'remove', 'check', '--root', root, '--json'], env)
    expect(rm.code).to.equal(0)
    expect(fs.readdirSync(path.join(root, 'etc/systemd/system'))).to.deep.equal([])
    const again = await lifeboat(['schedule', 'run', 'check', '--root', root, '--json'], env)
    expect(again.code).to.equal(2)
    expect(envelope(again.stdout).error.message).to.match(/no schedule named "check"/)
  })
})
