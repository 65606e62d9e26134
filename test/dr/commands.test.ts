import {runCommand} from '@oclif/test'
import {expect} from 'chai'
import fs from 'node:fs'
import path from 'node:path'

import {setRegistryForTests} from '../../src/dr/registry.js'
import {ROOT, isolateEnv} from '../helpers/env.js'
import {FakeCloud, fakeRegistry, fakeSweep, jsonEnvelope as envelope} from './fakes.js'

const PLAYBOOK = `name: shop
strategy: pilot-light
regions: { primary: us-east-1, dr: us-west-2 }
targets: { rto: 30m, rpo: 1h }
waves:
  - name: launch
    steps:
      - { id: app, type: fake.create, params: { count: 2 } }
      - { id: go, type: approval, params: { message: "Shift traffic?" } }
  - name: traffic
    steps:
      - { id: dns, type: route53.weights, params: { hostedZoneId: Z1, name: app.example.com., weights: { primary: 0, dr: 100 } } }
      - { id: smoke, type: http.check, dependsOn: [dns], params: { url: "https://app.example.com/health" } }
`


describe('dr commands (in-process)', () => {
  let env: ReturnType<typeof isolateEnv>
  let cloud: FakeCloud
  let file: string
  let runs: string
  beforeEach(() => {
    env = isolateEnv()
    cloud = new FakeCloud()
    setRegistryForTests({steps: fakeRegistry(cloud), sweep: fakeSweep(cloud)})
    file = path.join(env.dir, 'shop.yaml')
    fs.writeFileSync(file, PLAYBOOK)
    runs = path.join(env.dir, 'runs')
  })
  afterEach(() => {
    setRegistryForTests(undefined)
    env.restore()
  })

  it('validate: ok with a summary; an invalid playbook is exit 2 with file:line', async () => {
    const ok = await runCommand(['dr', 'validate', '-f', file, '--json'], {root: ROOT})
    const e = envelope(ok.stdout)
    expect(e.ok).to.equal(true)
    expect(e.result.approvals).to.deep.equal(['go'])
    expect(e.result.targets).to.deep.equal({rtoSeconds: 1800, rpoSeconds: 3600})
    fs.writeFileSync(file, PLAYBOOK.replace('type: fake.create', 'type: fake.craete'))
    const bad = await runCommand(['dr', 'validate', '-f', file], {root: ROOT})
    expect(bad.error?.oclif?.exit).to.equal(2)
    expect(bad.stderr).to.contain(`${file}:8:26: waves[0].steps[0].type: unknown step type "fake.craete"`)
  })

  it('failover in a script without --approve: exit 10 naming the flag; resume --approve finishes the same run', async () => {
    const first = await runCommand(['dr', 'failover', '-f', file, '--run-dir', runs, '--json'], {root: ROOT})
    expect(first.error?.oclif?.exit).to.equal(10)
    const e = envelope(first.stdout)
    expect(e.ok).to.equal(false)
    expect(e.error.code).to.equal('APPROVAL_REQUIRED')
    expect(e.error.hint).to.contain('--approve go')
    const runId = e.error.details.runId as string
    expect(cloud.items.size).to.equal(2)

    const listed = envelope((await runCommand(['dr', 'runs', '--run-dir', runs, '--json'], {root: ROOT})).stdout)
    expect(listed.result.runs.map((r: any) => [r.runId, r.status])).to.deep.equal([[runId, 'awaiting-approval']])

    const resumed = await runCommand(['dr', 'resume', runId, '--run-dir', runs, '--approve', 'go', '--json'], {root: ROOT})
    expect(resumed.error).to.equal(undefined)
    const r = envelope(resumed.stdout)
    expect(r.result.status).to.equal('succeeded')
    expect(r.result.steps.map((s: any) => s.state)).to.deep.equal(['succeeded', 'succeeded', 'succeeded', 'succeeded'])
    expect(cloud.items.size).to.equal(2) // app was not launched again

    const rep = envelope((await runCommand(['dr', 'report', runId, '--run-dir', runs, '--json', '--html', path.join(env.dir, 'r.html')], {root: ROOT})).stdout)
    expect(rep.result.rto.gateStep).to.equal('smoke')
    expect(fs.readFileSync(path.join(env.dir, 'r.html'), 'utf8')).to.contain('<svg')
  })

  it('failover --approve go runs unattended; human output is a table; rollback needs --confirm RUN', async () => {
    const out = await runCommand(['dr', 'failover', '-f', file, '--run-dir', runs, '--approve', 'go'], {root: ROOT})
    expect(out.error).to.equal(undefined)
    expect(out.stdout).to.match(/STEP\s+TYPE\s+STATE/)
    expect(out.stdout).to.match(/run \S+: succeeded/)
    const runId = /run (\S+): succeeded/.exec(out.stdout)![1]
    const noConfirm = await runCommand(['dr', 'rollback', runId, '--run-dir', runs], {root: ROOT})
    expect(noConfirm.error?.oclif?.exit).to.equal(2)
    expect(noConfirm.stderr).to.contain(`--confirm ${runId}`)
    expect(cloud.items.size).to.equal(2)
    const dry = envelope((await runCommand(['dr', 'rollback', runId, '--run-dir', runs, '--dry-run', '--json'], {root: ROOT})).stdout)
    // Newest finished first: the traffic wave, then the launch wave (app and go finished at about the same time).
    const order = dry.result.order.map((o: any) => o.step)
    expect(order.slice(0, 2)).to.deep.equal(['smoke', 'dns'])
    expect(order.slice(2).sort()).to.deep.equal(['app', 'go'])
    const rb = envelope((await runCommand(['dr', 'rollback', runId, '--run-dir', runs, '--confirm', runId, '--json'], {root: ROOT})).stdout)
    expect(rb.result.status).to.equal('rolled-back')
    expect(cloud.items.size).to.equal(0)
  })

  it('drill: a failure still cleans up (zero left); cleanup refuses a failover run', async () => {
    fs.writeFileSync(file, PLAYBOOK.replace('type: http.check, dependsOn: [dns], params: { url: "https://app.example.com/health" }', 'type: fake.fail, dependsOn: [dns], params: { message: "503 Service Unavailable" }'))
    const out = await runCommand(['dr', 'drill', '-f', file, '--run-dir', runs, '--approve', 'go', '--json'], {root: ROOT})
    expect(out.error?.oclif?.exit).to.equal(1)
    const e = envelope(out.stdout)
    expect(e.ok).to.equal(false)
    expect(e.result.status).to.equal('failed')
    expect(e.result.steps.find((s: any) => s.id === 'dns').state).to.equal('skipped')
    expect(e.result.cleanup.leftovers).to.deep.equal([])
    expect(cloud.items.size).to.equal(0)

    fs.writeFileSync(file, PLAYBOOK)
    const fo = envelope((await runCommand(['dr', 'failover', '-f', file, '--run-dir', runs, '--approve', 'go', '--json'], {root: ROOT})).stdout)
    const refused = await runCommand(['dr', 'cleanup', fo.result.runId, '--run-dir', runs, '--json'], {root: ROOT})
    expect(refused.error?.oclif?.exit).to.equal(2)
    expect(envelope(refused.stdout).error.code).to.equal('NOT_A_DRILL')
  })

  it('failover --dry-run prints the plan and starts nothing; failback mirrors the weights; no approval step means confirm by name', async () => {
    const dry = envelope((await runCommand(['dr', 'failover', '-f', file, '--run-dir', runs, '--dry-run', '--json'], {root: ROOT})).stdout)
    expect(dry.result.dryRun).to.equal(true)
    expect(dry.result.plan.find((p: any) => p.step === 'dns').summary).to.contain('{"primary":0,"dr":100}')
    expect(fs.existsSync(runs)).to.equal(false)

    const back = envelope((await runCommand(['dr', 'failback', '-f', file, '--run-dir', runs, '--approve', 'go', '--json'], {root: ROOT})).stdout)
    expect(back.result.mode).to.equal('failback')
    expect(back.result.status).to.equal('succeeded')
    expect(cloud.calls.find((c) => c.step === 'dns')!.op).to.equal('weights app.example.com. {"primary":100,"dr":0}')
    expect(back.result.steps.find((s: any) => s.id === 'app').outputs.region).to.equal('us-east-1')

    fs.writeFileSync(file, PLAYBOOK.replace('type: approval', 'type: fake.echo').replace('params: { message: "Shift traffic?" }', 'params: { value: 1 }'))
    const unconfirmed = await runCommand(['dr', 'failover', '-f', file, '--run-dir', runs, '--json'], {root: ROOT})
    expect(unconfirmed.error?.oclif?.exit).to.equal(2)
    expect(envelope(unconfirmed.stdout).error.message).to.contain('--confirm shop')
    const confirmed = await runCommand(['dr', 'failover', '-f', file, '--run-dir', runs, '--confirm', 'shop', '--json'], {root: ROOT})
    expect(envelope(confirmed.stdout).result.status).to.equal('succeeded')
  })

  it('plan prints each step\'s intended action and writes nothing', async () => {
    const out = envelope((await runCommand(['dr', 'plan', '-f', file, '--mode', 'drill', '--json'], {root: ROOT})).stdout)
    expect(out.result.steps.map((s: any) => [s.step, s.action])).to.deep.equal([
      ['app', 'create'],
      ['go', 'ask'],
      ['dns', 'skip'],
      ['smoke', 'check'],
    ])
    expect(fs.existsSync(runs)).to.equal(false)
    expect(cloud.items.size).to.equal(0)
  })
})
