import {expect} from 'chai'
import fs from 'node:fs'
import http from 'node:http'
import type {AddressInfo} from 'node:net'
import path from 'node:path'

import {LifeboatError} from '../../src/errors.js'
import {readJobRecords} from '../../src/ops/records.js'
import {reportJob, type ReportIO} from '../../src/ops/report.js'
import {gatherStatus} from '../../src/ops/status.js'
import {tempDir} from '../helpers/env.js'

describe('ops/report: reportJob', () => {
  let dir: string
  let io: ReportIO
  const warnings: string[] = []
  beforeEach(() => {
    dir = tempDir('lb-report-')
    warnings.length = 0
    io = {
      sinks: [],
      stateDir: path.join(dir, 'state'),
      metricsFile: path.join(dir, 'lifeboat.prom'),
      logFile: path.join(dir, 'lifeboat.log'),
      env: {},
      host: 'pi-home',
      onWarning: (m) => warnings.push(m),
    }
  })
  afterEach(() => fs.rmSync(dir, {recursive: true, force: true}))

  const logLines = () =>
    fs
      .readFileSync(path.join(dir, 'lifeboat.log'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))

  it('returns the work\'s result and records, measures and logs the success', async () => {
    const result = await reportJob({job: 'check', repository: '/srv/repo', io}, async () => ({ok: true, packs: 7}), (r) => ({summary: `${r.packs} packs fine`, numbers: {packs: r.packs}, bytes: 4096, files: 3}))
    expect(result).to.deep.equal({ok: true, packs: 7})
    const [rec] = readJobRecords(io.stateDir)
    expect(rec.name).to.equal('check')
    expect(rec.last.event).to.include({job: 'check', state: 'success', summary: '7 packs fine', repository: '/srv/repo', host: 'pi-home', exitCode: 0})
    expect(rec.last.event.numbers).to.deep.equal({packs: 7, bytes: 4096, files: 3})
    const prom = fs.readFileSync(io.metricsFile!, 'utf8')
    expect(prom).to.match(/^lifeboat_job_success\{job="check",name="check",repository="\/srv\/repo"\} 1$/m)
    expect(prom).to.match(/^lifeboat_job_bytes\{job="check",name="check",repository="\/srv\/repo"\} 4096$/m)
    expect(prom).to.match(/^lifeboat_job_files\{.*\} 3$/m)
    const lines = logLines()
    expect(lines.map((l) => l.event)).to.deep.equal(['job.start', 'job.end'])
    expect(lines[1]).to.include({level: 'info', job: 'check'})
  })

  it('re-throws the work\'s error unchanged and records the failure with its code and hint', async () => {
    const boom = new LifeboatError('the repository is locked', {code: 'LOCKED', hint: 'wait for the other job'})
    let caught: unknown
    await reportJob({job: 'backup', name: 'nightly', io}, async () => {
      throw boom
    }).catch((error) => (caught = error))
    expect(caught).to.equal(boom)
    const [rec] = readJobRecords(io.stateDir)
    expect(rec.name).to.equal('nightly')
    expect(rec.last.event).to.include({state: 'failure', exitCode: 1})
    expect(rec.last.event.error).to.deep.equal({code: 'LOCKED', message: 'the repository is locked', hint: 'wait for the other job'})
    expect(rec.last.event.action).to.match(/wait for the other job/)
    expect(fs.readFileSync(io.metricsFile!, 'utf8')).to.match(/^lifeboat_job_success\{job="backup",name="nightly"\} 0$/m)
    expect(logLines()[1]).to.include({level: 'error', event: 'job.end'})
  })

  it('a failing notifier never fails the job: it is logged, recorded and shown by status (no secret in the log)', async () => {
    // A webhook that always answers 500, signed with a secret that must never reach the log.
    const server = http.createServer((req, res) => {
      req.resume()
      req.on('end', () => {
        res.statusCode = 500
        res.end()
      })
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`
      io.sinks = [{name: 'ops-hook', type: 'webhook', url, secret: 'hunter2-secret', retries: 1}]
      io.notify = {sleep: async () => {}}
      const out = await reportJob({job: 'backup', io}, async () => 'done')
      expect(out).to.equal('done')
      expect(warnings.join('\n')).to.match(/ops-hook.*HTTP 500/)
      const [rec] = readJobRecords(io.stateDir)
      expect(rec.last.event.state).to.equal('success')
      expect(rec.last.notifications).to.deep.equal([{sink: 'ops-hook', type: 'webhook', sent: true, ok: false, attempts: 2, error: `POST ${url}: HTTP 500 Internal Server Error`}])
      const log = fs.readFileSync(io.logFile!, 'utf8')
      expect(log).to.match(/"event":"notify.failed"/)
      expect(log).not.to.include('hunter2')
      const status = await gatherStatus({records: () => readJobRecords(io.stateDir)})
      const notif = status.sections.find((s) => s.name === 'notifications')!
      expect(notif.level).to.equal('warn')
      expect(notif.items[0].name).to.equal('ops-hook')
      expect(status.exitCode).to.equal(3)
    } finally {
      await new Promise<void>((r) => server.close(() => r()))
    }
  })

  it('an unwritable metrics file is a warning in the record, not a failed job', async () => {
    fs.mkdirSync(path.join(dir, 'blocked'))
    io.metricsFile = path.join(dir, 'blocked') // a folder: rename onto it fails
    const out = await reportJob({job: 'prune', io}, async () => 1)
    expect(out).to.equal(1)
    const [rec] = readJobRecords(io.stateDir)
    expect(rec.last.metricsError).to.be.a('string')
    expect(warnings.join()).to.match(/metrics file/)
  })
})

describe('cli/job-flags: where a job reports to', () => {
  it('flag > env (through the flag) > config for the files; sinks and the state folder from the config', async () => {
    const {jobIO} = await import('../../src/cli/job-flags.js')
    const config = {
      ops: {metricsFile: '/var/lib/node_exporter/lifeboat.prom', logFile: '~/lifeboat.log', stateDir: '/var/lib/lifeboat/jobs'},
      notifications: {sinks: [{name: 'c', type: 'command' as const, command: ['true']}]},
    }
    const env = {HOME: '/home/pi'}
    const fromConfig = jobIO({}, config, undefined, env)
    expect(fromConfig).to.include({metricsFile: '/var/lib/node_exporter/lifeboat.prom', logFile: '/home/pi/lifeboat.log', stateDir: '/var/lib/lifeboat/jobs'})
    expect(fromConfig.sinks.map((s) => s.name)).to.deep.equal(['c'])
    const fromFlags = jobIO({'metrics-file': '/tmp/x.prom', 'log-file': '/tmp/x.log'}, config, undefined, env)
    expect(fromFlags).to.include({metricsFile: '/tmp/x.prom', logFile: '/tmp/x.log'})
    expect(jobIO({}, {}, undefined, {XDG_STATE_HOME: '/st'}).stateDir).to.equal('/st/lifeboat/jobs')
  })
})

describe('ops/records: repository keys', () => {
  it('local folders are absolute (./r, ~/r, local:r), other locations stay as written', async () => {
    const {repositoryKey} = await import('../../src/ops/records.js')
    expect(repositoryKey('/srv/repo')).to.equal('/srv/repo')
    expect(repositoryKey('local:/srv/repo')).to.equal('/srv/repo')
    expect(repositoryKey('repo')).to.equal(path.resolve('repo'))
    expect(repositoryKey('s3:https://s3.example.com/b/p')).to.equal('s3:https://s3.example.com/b/p')
    expect(repositoryKey('s3://b/p')).to.equal('s3://b/p')
  })
})
