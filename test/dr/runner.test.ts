import {expect} from 'chai'
import fs from 'node:fs'
import path from 'node:path'

import {ApprovalRequiredError} from '../../src/errors.js'
import {RunStore} from '../../src/dr/journal.js'
import {parsePlaybook} from '../../src/dr/playbook.js'
import {buildReport} from '../../src/dr/report.js'
import {cleanupRun, planPlaybook, readinessPlaybook, resumeRun, rollbackRun, startRun, type RunnerDeps, type RunResult} from '../../src/dr/runner.js'
import type {RunMode} from '../../src/dr/step-types.js'
import {tempDir} from '../helpers/env.js'
import {FakeCloud, fakeRegistry, fakeSweep, type FakeOptions} from './fakes.js'

const HEAD = `name: shop
strategy: pilot-light
regions: { primary: us-east-1, dr: us-west-2 }
targets: { rto: 30m, rpo: 1h }
waves:
`

describe('dr runner', () => {
  let root: string
  let cloud: FakeCloud
  beforeEach(() => {
    root = tempDir('lifeboat-dr-')
    cloud = new FakeCloud()
  })
  afterEach(() => fs.rmSync(root, {recursive: true, force: true}))

  function deps(extra: Partial<RunnerDeps> & FakeOptions = {}): RunnerDeps {
    const registry = fakeRegistry(cloud, {hooks: extra.hooks})
    return {registry, sweep: fakeSweep(cloud), ...extra}
  }
  async function start(body: string, mode: RunMode = 'failover', extra: Partial<RunnerDeps> & FakeOptions = {}): Promise<RunResult> {
    const d = deps(extra)
    const loaded = parsePlaybook(HEAD + body, path.join(root, 'p.yaml'), d.registry)
    return startRun({loaded, mode, runRoot: root, deps: d})
  }
  const order = (op: string) => cloud.calls.filter((c) => c.op === op).map((c) => c.step)
  const journalOf = (r: RunResult) => JSON.parse(fs.readFileSync(path.join(r.dir, 'journal.json'), 'utf8'))

  it('runs waves in order, the steps of a wave concurrently, dependsOn first; outputs flow into later params', async () => {
    const r = await start(`  - name: one
    steps:
      - { id: slow, type: fake.create, params: { count: 2, delayMs: 150 } }
      - { id: fast, type: fake.echo, params: { value: a, delayMs: 10 } }
      - { id: after, type: fake.echo, dependsOn: [fast], params: { value: b } }
  - name: two
    steps:
      - { id: use, type: fake.echo, params: { value: "\${steps.slow.instanceIds[1]}" } }
`)
    expect(r.status).to.equal('succeeded')
    const starts = order('start')
    const ends = order('end')
    // Both first-wave steps started before either ended: concurrent.
    expect(starts.slice(0, 2).sort()).to.deep.equal(['fast', 'slow'])
    expect(starts.indexOf('after')).to.be.greaterThan(ends.indexOf('fast'))
    expect(ends.indexOf('after')).to.be.lessThan(ends.indexOf('slow'))
    expect(starts.indexOf('use')).to.be.greaterThan(ends.indexOf('slow'))
    const use = r.steps.find((s) => s.id === 'use')!
    expect(use.outputs).to.deep.equal({value: [...cloud.items.keys()][1]})
    // The journal holds state, times, attempts, outputs, resources and tokens; the playbook is copied.
    const j = journalOf(r)
    expect(j.steps.slow.state).to.equal('succeeded')
    expect(j.steps.slow.attempts).to.equal(1)
    expect(j.steps.slow.resources).to.have.length(2)
    expect(j.steps.slow.tokens.create).to.match(/^lb-[0-9a-f]{40}$/)
    expect(fs.readFileSync(path.join(r.dir, 'playbook.yaml'), 'utf8')).to.contain('name: shop')
  })

  it('a step whose when does not match is skipped with the reason; a failed step blocks its dependents and stops later waves', async () => {
    const r = await start(`  - name: one
    steps:
      - { id: only-drill, type: fake.echo, when: drill, params: { value: 1 } }
      - { id: bad, type: fake.fail, params: { message: capacity } }
      - { id: dep, type: fake.echo, dependsOn: [bad], params: { value: 1 } }
      - { id: free, type: fake.echo, params: { value: 1 } }
  - name: two
    steps:
      - { id: never, type: fake.echo, params: { value: 1 } }
`)
    expect(r.status).to.equal('failed')
    const s = Object.fromEntries(r.steps.map((x) => [x.id, x]))
    expect(s['only-drill'].state).to.equal('skipped')
    expect(s['only-drill'].reason).to.contain('when: drill')
    expect(s.bad.state).to.equal('failed')
    expect(s.bad.error).to.deep.equal({code: 'InsufficientInstanceCapacity', message: 'capacity'})
    expect(s.dep.state).to.equal('blocked')
    expect(s.free.state).to.equal('succeeded')
    expect(s.never.state).to.equal('pending')
    expect(r.error?.message).to.equal('step "bad": capacity')
  })

  it('retries with exponential backoff, then succeeds; a timeout aborts the attempt', async () => {
    let n = 0
    const slept: number[] = []
    const r = await start(
      `  - name: one
    steps:
      - { id: flaky, type: fake.echo, retries: 3, retryDelay: 2s, params: { value: 1 } }
      - { id: stuck, type: fake.echo, timeout: 50ms, params: { value: 1, delayMs: 900 } }
`,
      'failover',
      {
        hooks: {
          flaky() {
            if (++n < 3) throw Object.assign(new Error('Rate exceeded'), {name: 'Throttling'})
          },
        },
        sleep: async (ms, signal) => {
          if (ms >= 1000) return void slept.push(ms)
          await new Promise((res, rej) => {
            const t = setTimeout(res, ms)
            signal?.addEventListener('abort', () => (clearTimeout(t), rej(signal.reason)))
          })
        },
      },
    )
    const s = Object.fromEntries(r.steps.map((x) => [x.id, x]))
    expect(s.flaky.state).to.equal('succeeded')
    expect(s.flaky.attempts).to.equal(3)
    expect(slept).to.deep.equal([2000, 4000])
    expect(s.stuck.state).to.equal('failed')
    expect(s.stuck.error?.code).to.equal('STEP_TIMEOUT')
  })

  it('resume after a crash mid-wave: finished steps are not redone, the running step reuses its token (no duplicate launch)', async () => {
    // The "crash": while `app` is mid-flight (instances created, still waiting), copy the run directory as
    // a killed process would leave it; then stop this process's run and resume the copy.
    let crashDir = ''
    const ctl = new AbortController()
    const body = `  - name: prepare
    steps:
      - { id: image, type: fake.echo, params: { value: ami-1 } }
  - name: launch
    steps:
      - { id: app, type: fake.create, params: { count: 2, delayMs: 60000 } }
      - { id: side, type: fake.echo, params: { value: x } }
  - name: after
    steps:
      - { id: use, type: fake.echo, params: { value: "\${steps.app.instanceIds}" } }
`
    const first = await start(body, 'failover', {
      signal: ctl.signal,
      hooks: {
        async app(ctx) {
          await new Promise((res) => setTimeout(res, 30)) // let `side` finish and its state be journaled
          const src = path.join(root, ctx.runId)
          crashDir = path.join(root, 'crashed')
          fs.cpSync(src, crashDir, {recursive: true})
          ctl.abort()
        },
      },
    })
    expect(first.status).to.equal('aborted')
    const crashed = JSON.parse(fs.readFileSync(path.join(crashDir, 'journal.json'), 'utf8'))
    expect(crashed.steps.app.state).to.equal('running')
    expect(crashed.steps.side.state).to.equal('succeeded')
    expect(crashed.steps.app.resources).to.have.length(2)
    const tokenBefore = crashed.steps.app.tokens.create
    // The first process never finishes `app`; what matters is what a new process does with the copy.
    const callsBefore = cloud.calls.length
    const resumed = await resumeRun(crashDir, {...deps({sleep: async () => {}}), signal: undefined})
    expect(resumed.status).to.equal('succeeded')
    const again = cloud.calls.slice(callsBefore)
    expect(again.filter((c) => c.step === 'image' || c.step === 'side')).to.deep.equal([])
    const creates = again.filter((c) => c.op === 'create')
    expect(creates).to.have.length(1)
    expect(creates[0].token).to.equal(tokenBefore)
    expect(cloud.items.size).to.equal(2) // not 4
    const j = JSON.parse(fs.readFileSync(path.join(crashDir, 'journal.json'), 'utf8'))
    expect(j.steps.app.attempts).to.equal(2)
    expect(j.resumes).to.have.length(1)
    expect(j.steps.use.outputs.value).to.deep.equal(j.steps.app.outputs.instanceIds)
  })

  it('rollback undoes finished steps newest first, stops at a failure and continues when run again', async () => {
    let refuse = true
    const hooks = {
      'rollback:a'() {
        if (refuse) throw new Error('PriorRequestNotComplete')
      },
    }
    const r = await start(`  - name: one
    steps:
      - { id: a, type: fake.echo, params: { value: 1 } }
  - name: two
    steps:
      - { id: b, type: fake.create, params: { count: 1 } }
      - { id: keep, type: fake.echo, rollback: false, params: { value: 1 } }
  - name: three
    steps:
      - { id: c, type: fake.echo, params: { value: 1 } }
`)
    expect(r.status).to.equal('succeeded')
    expect(cloud.items.size).to.equal(1)
    const failed = await rollbackRun(r.dir, deps({hooks}))
    expect(failed.status).to.equal('rollback-failed')
    expect(failed.error?.message).to.contain('rollback of step "a" failed: PriorRequestNotComplete')
    refuse = false
    const rb = await rollbackRun(r.dir, deps({hooks}))
    expect(rb.status).to.equal('rolled-back')
    const undo = cloud.calls.filter((c) => c.op === 'rollback' || c.op.startsWith('remove')).map((c) => c.step)
    expect(undo).to.deep.equal(['c', 'b', 'a'])
    expect(cloud.items.size).to.equal(0)
    const j = journalOf(r)
    expect(j.steps.keep.rollback.state).to.equal('disabled')
    expect(j.steps.b.resources[0].removedAt).to.be.a('string')
    expect(j.status).to.equal('rolled-back')
  })

  it('drill: tags carry the run id, production DNS is skipped, and after a failure every resource is removed (journal, then tag sweep)', async () => {
    // A resource the journal never heard of (the process died between create and record): only the sweep finds it.
    let runId = ''
    const r = await start(
      `  - name: one
    steps:
      - { id: app, type: fake.create, params: { count: 2 } }
      - { id: prod-dns, type: route53.weights, params: { hostedZoneId: Z1, name: app.example.com., weights: { primary: 0, dr: 100 } } }
      - { id: drill-dns, type: route53.weights, params: { hostedZoneId: Z1, name: app.example.com., drillRecord: { name: drill.example.com. }, weights: { primary: 0, dr: 100 } } }
      - { id: drill-url, type: fake.echo, dependsOn: [drill-dns], params: { value: "https://app.example.com/" }, drill: { params: { value: "https://drill.example.com/" } } }
  - name: two
    steps:
      - { id: db, type: fake.create, params: { count: 1 } }
      - { id: boom, type: fake.fail, dependsOn: [db], params: { message: image failed } }
`,
      'drill',
      {
        hooks: {
          db(ctx) {
            runId = ctx.runId
            cloud.create('orphan-token', 'us-west-2', 1, ctx.tags())
          },
        },
      },
    )
    expect(r.status).to.equal('failed')
    expect(cloud.items.size).to.equal(0)
    const s = Object.fromEntries(r.steps.map((x) => [x.id, x]))
    expect(s['prod-dns'].state).to.equal('skipped')
    expect(s['prod-dns'].reason).to.contain('production DNS is never changed in a drill')
    expect(s['drill-url'].outputs!.value).to.equal('https://drill.example.com/')
    expect(cloud.calls.some((c) => c.op.startsWith('weights drill.example.com.'))).to.equal(true)
    expect(cloud.calls.some((c) => c.op.startsWith('weights app.example.com.'))).to.equal(false)
    expect(r.cleanup!.removed.map((x) => x.kind).sort()).to.deep.equal(['fake:instance', 'fake:instance', 'fake:instance', 'route53:record-weights'])
    expect(r.cleanup!.swept).to.have.length(1)
    expect(r.cleanup!.leftovers).to.deep.equal([])
    expect(runId).to.equal(r.runId)
  })

  it('drill: a resource that cannot be removed is a leftover; dr cleanup finishes it later', async () => {
    let broken = true
    const d = deps()
    const create = d.registry['fake.create']
    const remove = create.removeResource!
    create.removeResource = async (res, ctx) => {
      if (broken) throw Object.assign(new Error('You are not authorized'), {name: 'UnauthorizedOperation'})
      return remove(res, ctx)
    }
    // A sweep that cannot delete either (same permission problem) leaves the item in the cloud.
    d.sweep = async (runId, ctx) => {
      if (broken) throw new Error('UnauthorizedOperation')
      return fakeSweep(cloud)(runId, ctx)
    }
    const loaded = parsePlaybook(HEAD + `  - name: one\n    steps:\n      - { id: app, type: fake.create, params: { count: 1 } }\n`, path.join(root, 'p.yaml'), d.registry)
    const r = await startRun({loaded, mode: 'drill', runRoot: root, deps: d})
    expect(r.status).to.equal('succeeded')
    expect(r.cleanup!.leftovers.map((x) => x.kind)).to.deep.equal(['fake:instance', 'sweep'])
    expect(r.cleanup!.leftovers[0].error).to.contain('not authorized')
    expect(cloud.items.size).to.equal(1)
    broken = false
    const c = await cleanupRun(r.dir, d)
    expect(c.cleanup!.leftovers).to.deep.equal([])
    expect(cloud.items.size).to.equal(0)
  })

  it('approval without an answer stops the run with exit 10 naming --approve; resume with --approve continues', async () => {
    const body = `  - name: one
    steps:
      - { id: app, type: fake.create, params: { count: 1 } }
      - { id: go, type: approval, params: { message: "Shift traffic?" } }
  - name: two
    steps:
      - { id: after, type: fake.echo, params: { value: 1 } }
`
    const err = await start(body).catch((error) => error)
    expect(err).to.be.instanceOf(ApprovalRequiredError)
    expect(err.exitCode).to.equal(10)
    expect(err.message).to.contain('"go"')
    expect(err.hint).to.contain('--approve go')
    const dir = err.details.dir as string
    const j = JSON.parse(fs.readFileSync(path.join(dir, 'journal.json'), 'utf8'))
    expect(j.status).to.equal('awaiting-approval')
    expect(j.steps.app.state).to.equal('succeeded')
    expect(j.steps.after.state).to.equal('pending')
    const r = await resumeRun(dir, deps({approved: ['go']}))
    expect(r.status).to.equal('succeeded')
    expect(cloud.items.size).to.equal(1)
    expect(journalOf(r).steps.go.approval).to.include({by: 'flag', answer: true})
    // An interactive "no" is approval not given either: exit 10, resumable.
    const no = await start(body, 'failover', {approve: async () => false}).catch((error) => error)
    expect(no).to.be.instanceOf(ApprovalRequiredError)
  })

  it('failback swaps the regions, literal region names and a two-record weight shift', async () => {
    const r = await start(
      `  - name: one
    steps:
      - { id: app, type: fake.create, params: { count: 1, region: us-east-1 } }
      - { id: dns, type: route53.weights, params: { hostedZoneId: Z1, name: app.example.com., weights: { primary: 0, dr: 100 } } }
      - { id: where, type: fake.echo, params: { value: "\${regions.dr}" } }
      - { id: only-failover, type: fake.echo, when: failover, params: { value: 1 } }
`,
      'failback',
    )
    const s = Object.fromEntries(r.steps.map((x) => [x.id, x]))
    expect(s.app.outputs!.region).to.equal('us-west-2')
    expect(s.where.outputs!.value).to.equal('us-east-1')
    expect(cloud.calls.find((c) => c.step === 'dns')!.op).to.equal('weights app.example.com. {"primary":100,"dr":0}')
    expect(s['only-failover'].state).to.equal('skipped')
  })

  it('the report measures RTO to the first health gate after the DNS shift and RPO from dataAgeSeconds', async () => {
    const r = await start(`  - name: data
    steps:
      - { id: restore, type: fake.echo, params: { value: 1, dataAgeSeconds: 1800 } }
      - { id: early-check, type: http.check, params: { url: "https://x/health" } }
  - name: traffic
    steps:
      - { id: dns, type: route53.weights, params: { hostedZoneId: Z1, name: app.example.com., weights: { a: 0, b: 100 } } }
      - { id: smoke, type: http.check, dependsOn: [dns], params: { url: "https://app.example.com/health" } }
`)
    const j = journalOf(r)
    const rep = buildReport(j)
    expect(rep.rto.gateStep).to.equal('smoke')
    expect(rep.rto.dnsStep).to.equal('dns')
    expect(rep.rto.achievedSeconds).to.equal((Date.parse(j.steps.smoke.finishedAt) - Date.parse(j.startedAt)) / 1000)
    expect(rep.rto.met).to.equal(true)
    expect(rep.rpo).to.include({achievedSeconds: 1800, targetSeconds: 3600, met: true, sourceStep: 'restore'})
  })

  it('plan and readiness are read-only: no run directory, no resources; readiness fails on a failed check', async () => {
    const d = deps()
    const {playbook} = parsePlaybook(
      HEAD + `  - name: one\n    steps:\n      - { id: app, type: fake.create, params: { count: 2 } }\n      - { id: use, type: fake.echo, dependsOn: [app], params: { value: "\${steps.app.instanceIds[0]}" } }\n`,
      'p.yaml',
      d.registry,
    )
    const plan = await planPlaybook(playbook, 'failover', d)
    expect(plan.map((p) => [p.step, p.action, p.summary])).to.deep.equal([
      ['app', 'create', 'create 2 in us-west-2'],
      ['use', 'none', 'echo "${steps.app.instanceIds[0]}"'],
    ])
    const ok = await readinessPlaybook(playbook, 'failover', {...d, identity: async () => ({account: '123456789012', arn: 'arn:aws:iam::123456789012:user/dr'})})
    expect(ok.ok).to.equal(true)
    expect(ok.checks.map((c) => c.name)).to.deep.equal(['credentials in primary region us-east-1', 'credentials in dr region us-west-2', 'region reachable'])
    const bad = await readinessPlaybook(playbook, 'failover', {
      ...d,
      identity: async (region) => {
        if (region === 'us-west-2') throw Object.assign(new Error('The security token included in the request is invalid.'), {name: 'InvalidClientTokenId'})
        return {account: '1'}
      },
    })
    expect(bad.ok).to.equal(false)
    expect(bad.checks[1]).to.include({ok: false, detail: 'The security token included in the request is invalid.'})
    expect(fs.readdirSync(root)).to.deep.equal([])
    expect(cloud.items.size).to.equal(0)
  })

  it('a second process cannot work on a run that a live process holds', async () => {
    const r = await start(`  - name: one\n    steps:\n      - { id: a, type: fake.fail, params: {} }\n`)
    const store = await RunStore.open(r.dir)
    fs.writeFileSync(path.join(r.dir, 'lock'), `${process.ppid}\n`)
    const err = await resumeRun(r.dir, deps()).catch((error) => error)
    expect(err.code).to.equal('RUN_LOCKED')
    expect(store.journal.status).to.equal('failed')
  })
})
