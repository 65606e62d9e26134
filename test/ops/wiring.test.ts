import {BackupClient, DescribeBackupJobCommand, ListRecoveryPointsByResourceCommand, StartBackupJobCommand} from '@aws-sdk/client-backup'
import {GetCallerIdentityCommand, STSClient} from '@aws-sdk/client-sts'
import {runCommand} from '@oclif/test'
import {type AwsClientStub, mockClient} from 'aws-sdk-client-mock'
import {expect} from 'chai'
import fs from 'node:fs'
import path from 'node:path'

import JobStart from '../../src/commands/aws-backup/job/start.js'
import PointsLatest from '../../src/commands/aws-backup/points/latest.js'
import {setRegistryForTests} from '../../src/dr/registry.js'
import {steps} from '../../src/dr/steps/index.js'
import {sweepRunResources} from '../../src/dr/sweep.js'
import {readJobRecords} from '../../src/ops/records.js'
import {run} from '../awsbackup/helpers.js'
import {envelope, lifeboat} from '../helpers/cli.js'
import {ROOT, isolateEnv, tempDir} from '../helpers/env.js'
import {installFakeAws, type FakeAws} from '../dr/fake-aws.js'
import {jsonEnvelope, SHOP} from '../dr/fakes.js'
import {md} from '../raid/fixtures.js'

/**
 * The jobs wired into reporting (docs/operations.md "Wired jobs"): each run leaves what its owner sees — the
 * JSON-lines log entry, the metrics in the textfile-collector file, the record `lifeboat status` reads, the
 * notification sinks — and keeps its own result and exit code.
 */


/** The JSON lines of a log file. */
const logLines = (file: string): any[] =>
  fs
    .readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
const jobEnd = (file: string, job: string): any => logLines(file).findLast((l) => l.event === 'job.end' && l.job === job)?.result

/** An md0 RAID5 tree from the captured states (the raid tests' recipe). */
function mdRoot(dir: string, state: 'clean' | 'failed'): string {
  const root = path.join(dir, `md-${state}`)
  const put = (rel: string, v: string) => {
    fs.mkdirSync(path.dirname(path.join(root, rel)), {recursive: true})
    fs.writeFileSync(path.join(root, rel), v)
  }
  put('proc/mdstat', md(state === 'clean' ? '13' : '22'))
  const sys = {array_state: 'clean', sync_action: 'idle', degraded: state === 'clean' ? '0' : '1', mismatch_cnt: '0', raid_disks: '4', level: 'raid5', component_size: '64512'}
  for (const [k, v] of Object.entries(sys)) put(`sys/block/md0/md/${k}`, `${v}\n`)
  for (const [i, d] of ['vda', 'vdb', 'vdc', 'vdd'].entries()) {
    const faulty = state === 'failed' && d === 'vdb'
    put(`sys/block/md0/md/dev-${d}/state`, faulty ? 'faulty\n' : 'in_sync\n')
    put(`sys/block/md0/md/dev-${d}/slot`, faulty ? 'none\n' : `${i}\n`)
  }
  return root
}

/** Waits (polling the fake sysfs) until the command under test has started the check. */
async function untilChecking(root: string): Promise<void> {
  const file = path.join(root, 'sys/block/md0/md/sync_action')
  for (let i = 0; i < 600; i++) {
    if (fs.readFileSync(file, 'utf8').trim() === 'check') return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error('the scrub never wrote "check" to sync_action')
}

describe('ops wiring: raid scrub --wait and raid monitor report (built CLI, fake /proc and /sys)', function () {
  this.timeout(60_000)
  let dir: string
  let env: NodeJS.ProcessEnv
  before(() => {
    dir = tempDir('lb-wiring-raid-')
    env = {XDG_STATE_HOME: path.join(dir, 'state'), XDG_CONFIG_HOME: path.join(dir, 'c'), XDG_DATA_HOME: path.join(dir, 'd'), LIFEBOAT_CONFIG: '', LIFEBOAT_REPOSITORY: '', RESTIC_REPOSITORY: '', CI: '1'}
    if (!fs.existsSync(path.join(ROOT, 'dist', 'ops', 'raid-events.js'))) throw new Error('run `npm run build` first')
  })
  after(() => fs.rmSync(dir, {recursive: true, force: true}))

  it('scrub start --wait: mismatches → a warning record that `status` shows, a log line and the job metrics; the result and exit code stay', async () => {
    const root = mdRoot(dir, 'clean')
    const log = path.join(dir, 'scrub.log')
    const prom = path.join(dir, 'scrub.prom')
    const running = lifeboat(['raid', 'scrub', 'start', 'md0', '--engine', 'md', '--wait', '--json', '--log-file', log, '--metrics-file', prom], {...env, LIFEBOAT_RAID_ROOT: root})
    // The kernel finishes the check and counts mismatches.
    await untilChecking(root)
    fs.writeFileSync(path.join(root, 'sys/block/md0/md/mismatch_cnt'), '128\n')
    fs.writeFileSync(path.join(root, 'sys/block/md0/md/sync_action'), 'idle\n')
    const r = await running
    expect(r.code, r.stderr).to.equal(0)
    expect(envelope(r.stdout).result.array).to.deep.include({name: 'md0', health: 'healthy', mismatchCount: 128})

    const end = jobEnd(log, 'scrub')
    expect(end).to.deep.include({job: 'scrub', array: 'md0', state: 'warning', exitCode: 3})
    expect(end.numbers).to.have.keys(['mismatches', 'durationSeconds'])
    expect(end.numbers.mismatches).to.equal(128)
    expect(end.summary).to.equal('scrub of md0 found 128 mismatched sectors')
    const text = fs.readFileSync(prom, 'utf8')
    expect(text).to.match(/^lifeboat_job_success\{array="md0",job="scrub",name="scrub"\} 1$/m)
    expect(text).to.match(/^lifeboat_job_duration_seconds\{array="md0",job="scrub",name="scrub"\} [\d.]+$/m)

    const st = await lifeboat(['status', '--json', '--schedule-root', dir], {...env, LIFEBOAT_RAID_ROOT: root})
    const item = envelope(st.stdout).result.sections.find((s: any) => s.name === 'arrays').items.find((i: any) => i.name === 'md0')
    expect(item.data.lastScrub).to.deep.include({state: 'warning', summary: 'scrub of md0 found 128 mismatched sectors'})
    expect(item.detail).to.contain('last scrub:')
  })

  it('scrub start --wait: a disk that fails during the check → a failure record (exit code of the command unchanged)', async () => {
    const root = mdRoot(dir, 'clean')
    const log = path.join(dir, 'scrub-fail.log')
    const running = lifeboat(['raid', 'scrub', 'start', 'md0', '--engine', 'md', '--wait', '--log-file', log], {...env, LIFEBOAT_RAID_ROOT: root})
    await untilChecking(root)
    // vdb drops out: md stops the check and marks the array degraded (the captured "failed" state).
    const failed = mdRoot(dir, 'failed')
    fs.writeFileSync(path.join(failed, 'sys/block/md0/md/sync_action'), 'check\n')
    fs.cpSync(path.join(failed, 'proc'), path.join(root, 'proc'), {recursive: true})
    fs.cpSync(path.join(failed, 'sys'), path.join(root, 'sys'), {recursive: true})
    fs.writeFileSync(path.join(root, 'sys/block/md0/md/sync_action'), 'idle\n') // last: the check is over
    const r = await running
    expect(r.code, r.stderr).to.equal(0)
    const end = jobEnd(log, 'scrub')
    expect(end).to.deep.include({array: 'md0', state: 'failure', exitCode: 1})
    expect(end.summary).to.equal('md0 is degraded after the scrub')
    expect(end.action).to.contain('lifeboat raid replace md0 /dev/vdb')
  })

  it('raid monitor: every event goes to the sinks; a failing sink is reported and the monitor carries on', async () => {
    const root = mdRoot(dir, 'failed')
    const got = path.join(dir, 'events.jsonl')
    const config = path.join(dir, 'monitor.yaml')
    fs.writeFileSync(
      config,
      [
        'notifications:',
        '  - name: broken',
        '    type: command',
        '    command: [sh, -c, "cat >/dev/null; exit 3"]',
        '  - name: collector',
        '    type: command',
        `    command: [sh, -c, "cat >> ${got}"]`,
        '',
      ].join('\n'),
    )
    const log = path.join(dir, 'monitor.log')
    const prom = path.join(dir, 'monitor.prom')
    const r = await lifeboat(['raid', 'monitor', '--once', '--engine', 'md', '--log-file', log, '--metrics-file', prom], {...env, LIFEBOAT_RAID_ROOT: root, LIFEBOAT_CONFIG: config})
    // Exit and stdout as before: 4 (needs attention), one JSON line per event.
    expect(r.code, r.stderr).to.equal(4)
    expect(r.stdout.trim().split('\n').map((l) => JSON.parse(l).event)).to.deep.equal(['DegradedArray', 'Fail'])
    const events = fs.readFileSync(got, 'utf8').trim().split('\n').map((l) => JSON.parse(l))
    expect(events.map((e) => [e.job, e.state, e.array, e.numbers.event])).to.deep.equal([
      ['raid-monitor', 'failure', 'md0', 'DegradedArray'],
      ['raid-monitor', 'failure', 'md0', 'Fail'],
    ])
    expect(events[1]).to.deep.include({resource: '/dev/vdb', summary: 'Fail: /dev/vdb of md0 is faulty'})
    expect(events[1].action).to.contain('lifeboat raid replace md0 /dev/vdb NEW --wait')
    expect(r.stderr).to.match(/notification sink "broken" \(command\) failed for DegradedArray on md0: .*\(monitoring goes on\)/)
    const lines = logLines(log)
    expect(lines.filter((l) => l.event === 'raid.event').map((l) => l.raid.event)).to.deep.equal(['DegradedArray', 'Fail'])
    expect(lines.filter((l) => l.event === 'notify.failed').map((l) => l.sink)).to.deep.equal(['broken', 'broken'])
    expect(fs.readFileSync(prom, 'utf8')).to.match(/^lifeboat_array_degraded\{array="md0"\} 1$/m)
  })
})

describe('ops wiring: dr readiness / drill / failover report (in-process, mocked AWS)', () => {
  let env: ReturnType<typeof isolateEnv>
  let aws: FakeAws
  let sts: AwsClientStub<STSClient>
  let file: string
  let runs: string
  let health: number
  const realFetch = globalThis.fetch
  let offset = 0
  const clock = {
    now: () => new Date(Date.now() + offset),
    sleep: async (ms: number, signal?: AbortSignal) => {
      if (signal?.aborted) throw signal.reason ?? new Error('aborted')
      offset += ms
      await new Promise((r) => setImmediate(r))
    },
  }

  beforeEach(() => {
    env = isolateEnv()
    offset = 0
    process.env.AWS_ACCESS_KEY_ID = 'AKIAIOSFODNN7EXAMPLE'
    process.env.AWS_SECRET_ACCESS_KEY = 'test-secret'
    aws = installFakeAws()
    sts = mockClient(STSClient)
    sts.on(GetCallerIdentityCommand).resolves({Account: '111122223333', Arn: 'arn:aws:iam::111122223333:user/dr', UserId: 'AIDAEXAMPLE'})
    aws.ec2.addImage('us-east-1', {ImageId: 'ami-0123456789abcdef0', Name: 'shop'})
    aws.ec2.addAddress('us-west-2', 'eipalloc-0123456789abcdef0', '203.0.113.10')
    aws.r53.addZone('Z0123456789ABC', [
      {Name: 'app.example.com.', Type: 'A', SetIdentifier: 'primary', Weight: 100, TTL: 60, ResourceRecords: [{Value: '198.51.100.1'}]},
      {Name: 'app.example.com.', Type: 'A', SetIdentifier: 'dr', Weight: 0, TTL: 60, ResourceRecords: [{Value: '203.0.113.10'}]},
    ])
    health = 200
    globalThis.fetch = (async () => new Response(health === 200 ? 'ok' : 'unavailable', {status: health})) as unknown as typeof fetch
    setRegistryForTests({steps, sweep: sweepRunResources, ...clock})
    file = path.join(env.dir, 'shop.yaml')
    fs.writeFileSync(file, SHOP)
    runs = path.join(env.dir, 'runs')
  })
  afterEach(() => {
    globalThis.fetch = realFetch
    setRegistryForTests(undefined)
    sts.restore()
    aws.restore()
    delete process.env.AWS_ACCESS_KEY_ID
    delete process.env.AWS_SECRET_ACCESS_KEY
    env.restore()
  })

  it('dr readiness: `lifeboat status` shows the result as the DR readiness summary (red when a check fails), plus log and metrics', async () => {
    const log = path.join(env.dir, 'dr.log')
    const prom = path.join(env.dir, 'dr.prom')
    const schedRoot = path.join(env.dir, 'sched')
    const statusDr = async () => {
      const s = await runCommand(['status', '--json', '--schedule-root', schedRoot], {root: ROOT})
      return jsonEnvelope(s.stdout).result.sections.find((x: any) => x.name === 'dr')
    }
    expect((await statusDr()).items).to.deep.equal([])

    const ok = await runCommand(['dr', 'readiness', '-f', file, '--json', '--log-file', log, '--metrics-file', prom], {root: ROOT})
    expect(ok.error).to.equal(undefined)
    expect(jsonEnvelope(ok.stdout).result.ok).to.equal(true)
    let dr = await statusDr()
    expect(dr.level).to.not.equal('red')
    expect(dr.items[0].data).to.deep.include({job: 'dr-readiness', resource: 'shop-pilot-light'})
    expect(dr.items[0].detail).to.match(/^shop-pilot-light ready for failover: \d+ of \d+ checks passed/)
    expect(fs.readFileSync(prom, 'utf8')).to.match(/^lifeboat_job_success\{job="dr-readiness",name="dr-readiness",resource="shop-pilot-light"\} 1$/m)

    aws.ec2.addresses.delete('eipalloc-0123456789abcdef0')
    const bad = await runCommand(['dr', 'readiness', '-f', file, '--json', '--log-file', log, '--metrics-file', prom], {root: ROOT})
    expect(bad.error?.oclif?.exit).to.equal(1)
    dr = await statusDr()
    expect(dr.level).to.equal('red')
    expect(dr.items[0].detail).to.match(/^shop-pilot-light NOT ready for failover: 1 of \d+ checks failed: eip /)
    expect(dr.items[0].data.numbers).to.deep.include({failed: 1})
    expect(jobEnd(log, 'dr-readiness')).to.deep.include({state: 'failure', resource: 'shop-pilot-light'})
    expect(fs.readFileSync(prom, 'utf8')).to.match(/^lifeboat_job_success\{job="dr-readiness",name="dr-readiness",resource="shop-pilot-light"\} 0$/m)
  })

  it('dr failover: a success record with the achieved RTO and the run\'s numbers', async () => {
    const log = path.join(env.dir, 'run.log')
    const prom = path.join(env.dir, 'run.prom')
    const fo = await runCommand(['dr', 'failover', '-f', file, '--approve', 'go', '--run-dir', runs, '--json', '--log-file', log, '--metrics-file', prom], {root: ROOT})
    const e = jsonEnvelope(fo.stdout)
    expect(fo.error, JSON.stringify(e.error ?? e.result?.error)).to.equal(undefined)
    expect(e.result.status).to.equal('succeeded') // the result shape is the run's, as before
    const f = jobEnd(log, 'dr-failover')
    expect(f).to.deep.include({state: 'success', resource: 'shop-pilot-light', exitCode: 0})
    expect(f.numbers).to.include.keys(['rtoSeconds', 'rpoSeconds', 'steps', 'leakedResources'])
    expect(f.numbers.rtoSeconds).to.be.a('number')
    expect(f.numbers).to.deep.include({rpoSeconds: 'not measured', steps: 6, leakedResources: 0})
    expect(f.summary).to.match(/^failover of shop-pilot-light succeeded \(6 steps\); RTO .* of 30m/)
    expect(fs.readFileSync(prom, 'utf8')).to.match(/^lifeboat_job_success\{job="dr-failover",name="dr-failover",resource="shop-pilot-light"\} 1$/m)
    expect(readJobRecords(path.join(process.env.XDG_STATE_HOME!, 'lifeboat', 'jobs')).map((r) => r.name)).to.deep.equal(['dr-failover'])
  })

  it('dr failover waiting for an approval is a failure record with exit 10; dr resume of it reports as dr-failover again', async () => {
    const log = path.join(env.dir, 'resume.log')
    const first = await runCommand(['dr', 'failover', '-f', file, '--run-dir', runs, '--json', '--log-file', log], {root: ROOT})
    expect(first.error?.oclif?.exit).to.equal(10)
    const waiting = jobEnd(log, 'dr-failover')
    expect(waiting).to.deep.include({state: 'failure', exitCode: 10, resource: 'shop-pilot-light'})
    expect(waiting.error.code).to.equal('APPROVAL_REQUIRED')
    const [runId] = fs.readdirSync(runs)
    const resumed = await runCommand(['dr', 'resume', runId, '--approve', 'go', '--run-dir', runs, '--json', '--log-file', log], {root: ROOT})
    expect(resumed.error).to.equal(undefined)
    expect(jsonEnvelope(resumed.stdout).result.status).to.equal('succeeded')
    expect(jobEnd(log, 'dr-failover')).to.deep.include({state: 'success', exitCode: 0})
    expect(logLines(log).filter((l) => l.event === 'job.end').map((l) => l.job)).to.deep.equal(['dr-failover', 'dr-failover'])
  })

  it('dr drill whose health check fails: a failure record naming the step, no leaked resources; exit 1 and the result as before', async () => {
    const log = path.join(env.dir, 'run.log')
    const prom = path.join(env.dir, 'run.prom')
    health = 503
    const drill = await runCommand(['dr', 'drill', '-f', file, '--approve', 'go', '--run-dir', runs, '--json', '--log-file', log, '--metrics-file', prom], {root: ROOT})
    expect(drill.error?.oclif?.exit).to.equal(1)
    expect(jsonEnvelope(drill.stdout).result.status).to.equal('failed')
    const d = jobEnd(log, 'dr-drill')
    expect(d).to.deep.include({state: 'failure', resource: 'shop-pilot-light'})
    expect(d.summary).to.match(/^drill of shop-pilot-light failed at smoke/)
    expect(d.numbers).to.deep.include({leakedResources: 0, steps: 6, failedSteps: 1})
    expect(fs.readFileSync(prom, 'utf8')).to.match(/^lifeboat_job_success\{job="dr-drill",name="dr-drill",resource="shop-pilot-light"\} 0$/m)
  })
})

describe('ops wiring: aws-backup job start --wait and points latest report (in-process, aws-sdk-client-mock)', () => {
  const RDS = 'arn:aws:rds:us-east-1:123456789012:db:shop'
  const ROLE = 'arn:aws:iam::123456789012:role/service-role/AWSBackupDefaultServiceRole'
  const POINT = 'arn:aws:backup:us-east-1:123456789012:recovery-point:1EB3B5E7-9EB0-435A-A80B-108B488B0D45'
  const JOB = 'a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d'
  let mock: AwsClientStub<BackupClient>
  let env: ReturnType<typeof isolateEnv>
  before(() => {
    mock = mockClient(BackupClient)
    env = isolateEnv()
    process.env.AWS_ACCESS_KEY_ID = 'AKIAIOSFODNN7EXAMPLE'
    process.env.AWS_SECRET_ACCESS_KEY = 'test-secret'
    process.env.AWS_REGION = 'us-east-1'
  })
  after(() => {
    mock.restore()
    env.restore()
    delete process.env.AWS_ACCESS_KEY_ID
    delete process.env.AWS_SECRET_ACCESS_KEY
    delete process.env.AWS_REGION
  })
  beforeEach(() => mock.reset())

  const point = (id: string, ageSeconds: number) => ({
    RecoveryPointArn: `arn:aws:backup:us-east-1:123456789012:recovery-point:${id}`,
    BackupVaultName: 'shop-vault',
    BackupVaultArn: 'arn:aws:backup:us-east-1:123456789012:backup-vault:shop-vault',
    ResourceArn: RDS,
    ResourceType: 'RDS',
    Status: 'COMPLETED' as const,
    CreationDate: new Date(Date.now() - ageSeconds * 1000),
  })

  it('points latest: the metrics file gets lifeboat_recovery_point_age_seconds{resource}; older than --max-age → a failure record', async () => {
    const prom = path.join(env.dir, 'rpo.prom')
    const log = path.join(env.dir, 'rpo.log')
    mock.on(ListRecoveryPointsByResourceCommand).resolves({RecoveryPoints: [point('NEW', 1800)]})
    const fresh = await run(PointsLatest, ['--resource', RDS, '--max-age', '1h', '--json', '--metrics-file', prom, '--log-file', log])
    expect(fresh.code).to.equal(0)
    expect(fresh.json.result).to.include({ok: true, resourceArn: RDS})
    const age = (text: string) => Number(new RegExp(`^lifeboat_recovery_point_age_seconds\\{resource="${RDS}"\\} (\\d+)$`, 'm').exec(text)?.[1])
    expect(age(fs.readFileSync(prom, 'utf8'))).to.be.within(1800, 1830)
    expect(jobEnd(log, 'aws-backup-rpo')).to.deep.include({state: 'success', resource: RDS})

    mock.on(ListRecoveryPointsByResourceCommand).resolves({RecoveryPoints: [point('OLD', 90_000)]})
    const stale = await run(PointsLatest, ['--resource', RDS, '--max-age', '1h', '--json', '--metrics-file', prom, '--log-file', log])
    expect(stale.code).to.equal(1)
    expect(stale.json.result).to.include({ok: false, reason: 'stale'})
    const text = fs.readFileSync(prom, 'utf8')
    expect(age(text)).to.be.within(90_000, 90_030)
    expect(text).to.match(new RegExp(`^lifeboat_job_success\\{job="aws-backup-rpo",name="aws-backup-rpo",resource="${RDS}"\\} 0$`, 'm'))
    const end = jobEnd(log, 'aws-backup-rpo')
    expect(end).to.deep.include({state: 'failure', exitCode: 1})
    expect(end.summary).to.equal(`newest recovery point of ${RDS} is 1d1h old (max 1h00m): TOO OLD`)
    expect(end.numbers).to.deep.include({maxAgeSeconds: 3600})
    const rec = readJobRecords(path.join(process.env.XDG_STATE_HOME!, 'lifeboat', 'jobs')).find((r) => r.name === 'aws-backup-rpo')
    expect(rec?.last.event.state).to.equal('failure')
  })

  it('job start --wait: COMPLETED → a success record with the size; FAILED → a failure record with AWS\'s message', async () => {
    const log = path.join(env.dir, 'job.log')
    const prom = path.join(env.dir, 'job.prom')
    const described = (State: string, extra: Record<string, unknown> = {}) => ({
      AccountId: '123456789012',
      BackupJobId: JOB,
      BackupVaultName: 'shop-vault',
      ResourceArn: RDS,
      ResourceType: 'RDS',
      IamRoleArn: ROLE,
      CreationDate: new Date('2026-11-22T05:00:00Z'),
      State,
      PercentDone: State === 'COMPLETED' ? '100.0' : '42.0',
      ...extra,
    })
    mock.on(StartBackupJobCommand).resolves({BackupJobId: JOB, RecoveryPointArn: POINT, CreationDate: new Date()})
    mock
      .on(DescribeBackupJobCommand)
      .resolvesOnce(described('RUNNING') as any)
      .resolves(described('COMPLETED', {RecoveryPointArn: POINT, BackupSizeInBytes: 5_368_709_120}) as any)
    const ok = await run(JobStart, ['--resource', RDS, '--vault', 'shop-vault', '--role', ROLE, '--wait', '--poll-interval', '0s', '--json', '--log-file', log, '--metrics-file', prom])
    expect(ok.code, ok.stderr).to.equal(0)
    expect(ok.json.result.final).to.include({state: 'COMPLETED'})
    const s = jobEnd(log, 'aws-backup-job')
    expect(s).to.deep.include({state: 'success', resource: RDS})
    expect(s.numbers).to.deep.include({jobId: JOB, state: 'COMPLETED', backupSizeBytes: 5_368_709_120, recoveryPoint: POINT})
    expect(fs.readFileSync(prom, 'utf8')).to.match(new RegExp(`^lifeboat_job_bytes\\{job="aws-backup-job",name="aws-backup-job",resource="${RDS}"\\} 5368709120$`, 'm'))

    mock.reset()
    mock.on(StartBackupJobCommand).resolves({BackupJobId: JOB, RecoveryPointArn: POINT, CreationDate: new Date()})
    mock.on(DescribeBackupJobCommand).resolves(described('FAILED', {StatusMessage: 'IAM Role does not have sufficient permissions to execute the backup'}) as any)
    const bad = await run(JobStart, ['--resource', RDS, '--vault', 'shop-vault', '--role', ROLE, '--wait', '--poll-interval', '0s', '--json', '--log-file', log])
    expect(bad.code).to.equal(1)
    expect(bad.json.error.code).to.equal('JOB_FAILED')
    const f = jobEnd(log, 'aws-backup-job')
    expect(f).to.deep.include({state: 'failure', exitCode: 1})
    expect(f.error).to.deep.include({code: 'JOB_FAILED', message: `backup job ${JOB} FAILED: IAM Role does not have sufficient permissions to execute the backup`})
  })
})
