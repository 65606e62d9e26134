import {GetCallerIdentityCommand, STSClient} from '@aws-sdk/client-sts'
import {runCommand} from '@oclif/test'
import {mockClient} from 'aws-sdk-client-mock'
import {expect} from 'chai'
import fs from 'node:fs'
import path from 'node:path'

import {parsePlaybook} from '../../src/dr/playbook.js'
import {setRegistryForTests} from '../../src/dr/registry.js'
import {resumeRun, startRun, type RunnerDeps} from '../../src/dr/runner.js'
import {steps} from '../../src/dr/steps/index.js'
import {sweepRunResources} from '../../src/dr/sweep.js'
import {playbookTemplate} from '../../src/dr/templates.js'
import {STRATEGIES} from '../../src/dr/schema.js'
import {ROOT, isolateEnv} from '../helpers/env.js'
import {installFakeAws, type FakeAws} from './fake-aws.js'
import {jsonEnvelope as envelope, SHOP} from './fakes.js'



describe('dr: the issue\'s example playbook against mocked AWS (real steps)', () => {
  let env: ReturnType<typeof isolateEnv>
  let aws: FakeAws
  let file: string
  let runs: string
  let health: number
  let fetches: string[]
  const realFetch = globalThis.fetch
  // A fake clock: steps poll through ctx.sleep; nothing waits for real.
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
    aws.ec2.addImage('us-east-1', {ImageId: 'ami-0123456789abcdef0', Name: 'shop'})
    aws.ec2.addAddress('us-west-2', 'eipalloc-0123456789abcdef0', '203.0.113.10')
    aws.r53.addZone('Z0123456789ABC', [
      {Name: 'app.example.com.', Type: 'A', SetIdentifier: 'primary', Weight: 100, TTL: 60, ResourceRecords: [{Value: '198.51.100.1'}]},
      {Name: 'app.example.com.', Type: 'A', SetIdentifier: 'dr', Weight: 0, TTL: 60, ResourceRecords: [{Value: '203.0.113.10'}]},
    ])
    health = 200
    fetches = []
    globalThis.fetch = (async (url: string | URL) => {
      fetches.push(String(url))
      return new Response(health === 200 ? 'ok' : 'unavailable', {status: health})
    }) as typeof fetch
    setRegistryForTests({steps, sweep: sweepRunResources, ...clock})
    file = path.join(env.dir, 'shop.yaml')
    fs.writeFileSync(file, SHOP)
    runs = path.join(env.dir, 'runs')
  })
  afterEach(() => {
    globalThis.fetch = realFetch
    setRegistryForTests(undefined)
    aws.restore()
    delete process.env.AWS_ACCESS_KEY_ID
    delete process.env.AWS_SECRET_ACCESS_KEY
    env.restore()
  })

  it('validates as written, and every `dr init` strategy template validates too', async () => {
    const v = await runCommand(['dr', 'validate', '-f', file, '--json'], {root: ROOT})
    expect(v.error).to.equal(undefined)
    expect(envelope(v.stdout).result.waves.map((w: any) => w.name)).to.deep.equal(['prepare', 'launch', 'network', 'traffic'])
    for (const s of STRATEGIES) parsePlaybook(playbookTemplate(s), `${s}.yaml`, steps)
    const out = path.join(env.dir, 'pl.yaml')
    const init = await runCommand(['dr', 'init', '--strategy', 'pilot-light', '-o', out, '--no-input'], {root: ROOT})
    expect(init.error).to.equal(undefined)
    expect(fs.readFileSync(out, 'utf8')).to.match(/^# Lifeboat DR playbook \(pilot-light\)/)
    const again = await runCommand(['dr', 'init', '--strategy', 'pilot-light', '-o', out, '--no-input'], {root: ROOT})
    expect(again.error?.oclif?.exit).to.equal(2)
  })

  it('`dr failover -f shop.yaml --approve go` runs unattended: CopyImage on us-west-2, one launch, EIP, one atomic weight batch, health check', async () => {
    const out = await runCommand(['dr', 'failover', '-f', file, '--approve', 'go', '--run-dir', runs, '--json'], {root: ROOT})
    const e = envelope(out.stdout)
    expect(out.error, JSON.stringify(e.error ?? e.result?.error)).to.equal(undefined)
    expect(e.result.status).to.equal('succeeded')
    const copy = aws.ec2.calls.filter((c) => c.command === 'CopyImage')
    expect(copy.map((c) => [c.region, c.input.SourceRegion, c.input.SourceImageId, c.input.Name])).to.deep.equal([['us-west-2', 'us-east-1', 'ami-0123456789abcdef0', 'shop-dr']])
    const launches = aws.ec2.calls.filter((c) => c.command === 'RunInstances')
    expect(launches).to.have.length(1)
    const imageId = e.result.steps.find((s: any) => s.id === 'copy-ami').outputs.imageId
    expect(launches[0].input).to.include({ImageId: imageId, InstanceType: 't3.small', MinCount: 2, MaxCount: 2})
    expect(launches[0].input.ClientToken).to.match(/^lb-/)
    const ids = e.result.steps.find((s: any) => s.id === 'app').outputs.instanceIds
    expect(aws.ec2.addresses.get('eipalloc-0123456789abcdef0')!.InstanceId).to.equal(ids[0])
    expect(aws.r53.batches).to.have.length(1)
    expect(aws.r53.batches[0].changes.map((c: any) => [c.Action, c.ResourceRecordSet.SetIdentifier, c.ResourceRecordSet.Weight])).to.deep.equal([
      ['UPSERT', 'primary', 0],
      ['UPSERT', 'dr', 100],
    ])
    expect(fetches).to.deep.equal(['https://app.example.com/health'])
    const rep = envelope((await runCommand(['dr', 'report', e.result.runId, '--run-dir', runs, '--json'], {root: ROOT})).stdout)
    expect(rep.result.rto).to.include({gateStep: 'smoke', dnsStep: 'dns', met: true})
  })

  it('readiness: a pass/fail table over credentials and each step\'s prerequisites; a missing EIP fails it (exit 1)', async () => {
    const sts = mockClient(STSClient)
    sts.on(GetCallerIdentityCommand).resolves({Account: '111122223333', Arn: 'arn:aws:iam::111122223333:user/dr', UserId: 'AIDAEXAMPLE'})
    try {
      const ok = await runCommand(['dr', 'readiness', '-f', file, '--json'], {root: ROOT})
      const e = envelope(ok.stdout)
      expect(ok.error, JSON.stringify(e.result?.checks?.filter((c: any) => !c.ok))).to.equal(undefined)
      expect(e.result.ok).to.equal(true)
      const steps = new Set(e.result.checks.map((c: any) => c.step))
      expect([...steps]).to.include.members(['(run)', 'copy-ami', 'eip', 'dns'])
      const human = await runCommand(['dr', 'readiness', '-f', file], {root: ROOT})
      expect(human.stdout).to.match(/STEP\s+CHECK\s+RESULT\s+DETAIL/)
      expect(human.stdout).to.contain('ready:')

      aws.ec2.addresses.delete('eipalloc-0123456789abcdef0')
      const bad = await runCommand(['dr', 'readiness', '-f', file, '--json'], {root: ROOT})
      expect(bad.error?.oclif?.exit).to.equal(1)
      const b = envelope(bad.stdout)
      expect(b.ok).to.equal(false)
      expect(b.result.checks.filter((c: any) => !c.ok && c.severity === 'error').map((c: any) => c.step)).to.deep.equal(['eip'])
      // Warnings (records without health checks) are shown but do not fail readiness.
      expect(e.result.checks.filter((c: any) => !c.ok).every((c: any) => c.severity === 'warn')).to.equal(true)
      // Nothing was created: readiness is read-only.
      expect(aws.ec2.calls.filter((c) => /^(Run|Copy|Associate|Create|Terminate|Deregister)/.test(c.command))).to.deep.equal([])
      expect(aws.r53.batches).to.have.length(0)
      expect(fs.existsSync(runs)).to.equal(false)
    } finally {
      sts.restore()
    }
  })

  it('resume after a crash mid-launch: the same ClientToken, no duplicate instances', async () => {
    const ctl = new AbortController()
    let crashDir = ''
    const deps: RunnerDeps = {
      registry: steps,
      sweep: sweepRunResources,
      approved: ['go'],
      now: clock.now,
      signal: ctl.signal,
      // The first wait after RunInstances is the moment the process "dies": copy the run directory as a
      // SIGKILL would leave it, then stop this process's run.
      sleep: async (ms, signal) => {
        if (!crashDir && aws.ec2.calls.some((c) => c.command === 'RunInstances')) {
          const [run] = fs.readdirSync(runs)
          crashDir = path.join(env.dir, 'crashed')
          fs.cpSync(path.join(runs, run), crashDir, {recursive: true})
          ctl.abort()
        }
        return clock.sleep(ms, signal)
      },
    }
    const loaded = parsePlaybook(SHOP, file, steps)
    const first = await startRun({loaded, mode: 'failover', runRoot: runs, deps})
    expect(first.status).to.equal('aborted')
    const crashed = JSON.parse(fs.readFileSync(path.join(crashDir, 'journal.json'), 'utf8'))
    expect(crashed.steps.app.state).to.equal('running')
    expect(crashed.steps['copy-ami'].state).to.equal('succeeded')
    const resumed = await resumeRun(crashDir, {registry: steps, sweep: sweepRunResources, now: clock.now, sleep: clock.sleep})
    expect(resumed.status).to.equal('succeeded')
    const launches = aws.ec2.calls.filter((c) => c.command === 'RunInstances')
    expect(launches).to.have.length(2)
    expect(launches[1].input.ClientToken).to.equal(launches[0].input.ClientToken)
    expect(aws.ec2.live('us-west-2').instances).to.have.length(2)
    expect(aws.ec2.calls.filter((c) => c.command === 'CopyImage')).to.have.length(1)
  })

  it('a drill whose health check fails removes everything it made: zero resources left in the mock', async () => {
    health = 503
    const out = await runCommand(['dr', 'drill', '-f', file, '--approve', 'go', '--run-dir', runs, '--json'], {root: ROOT})
    const e = envelope(out.stdout)
    expect(out.error?.oclif?.exit).to.equal(1)
    expect(e.result.status).to.equal('failed')
    const byId = Object.fromEntries(e.result.steps.map((s: any) => [s.id, s]))
    expect(byId.dns.state).to.equal('skipped')
    expect(aws.r53.batches).to.have.length(0) // production DNS untouched
    // dns was skipped (no drillRecord); smoke still ran, got 503 on every try and failed the run.
    expect(byId.smoke.state).to.equal('failed')
    expect(e.result.cleanup.leftovers).to.deep.equal([])
    const removedKinds = new Set(e.result.cleanup.removed.map((x: any) => x.kind))
    expect(removedKinds.size, JSON.stringify(e.result.cleanup.removed)).to.be.greaterThan(2)
    expect(aws.ec2.calls.filter((c) => c.command === 'TerminateInstances')).to.not.have.length(0)
    expect(aws.ec2.calls.filter((c) => c.command === 'DeregisterImage')).to.not.have.length(0)
    const live = aws.ec2.live()
    expect(live.instances, 'instances').to.have.length(0)
    expect(live.images.filter((i) => i.ImageId !== 'ami-0123456789abcdef0'), 'images').to.have.length(0)
    expect(live.snapshots.filter((s) => !/ami-0123456789abcdef0/.test(s.Description ?? '')), 'snapshots').to.have.length(0)
    expect(live.volumes, 'volumes').to.have.length(0)
    expect(aws.ec2.addresses.get('eipalloc-0123456789abcdef0')!.AssociationId).to.equal(undefined)
  })

  it('a drill with a drill record shifts only that record and, at the end, puts it back and removes everything: exit 0', async () => {
    aws.r53.addZone('Z0123456789ABC', [
      ...aws.r53.zones.get('Z0123456789ABC')!.records,
      {Name: 'drill.example.com.', Type: 'A', SetIdentifier: 'primary', Weight: 100, TTL: 60, ResourceRecords: [{Value: '198.51.100.1'}]},
      {Name: 'drill.example.com.', Type: 'A', SetIdentifier: 'dr', Weight: 0, TTL: 60, ResourceRecords: [{Value: '203.0.113.10'}]},
    ])
    fs.writeFileSync(file, SHOP.replace('weights: { primary: 0, dr: 100 } }', 'weights: { primary: 0, dr: 100 }, drillRecord: { name: drill.example.com. } }'))
    const out = await runCommand(['dr', 'drill', '-f', file, '--approve', 'go', '--run-dir', runs, '--json'], {root: ROOT})
    const e = envelope(out.stdout)
    expect(out.error, JSON.stringify(e.error ?? e.result?.error)).to.equal(undefined)
    expect(e.result.status).to.equal('succeeded')
    // Only the drill record was changed; production kept its weights throughout.
    const changed = aws.r53.batches.flatMap((b) => b.changes.map((c: any) => c.ResourceRecordSet.Name))
    expect(changed.length).to.be.greaterThan(0)
    expect(new Set(changed)).to.deep.equal(new Set(['drill.example.com.']))
    expect(aws.r53.record('Z0123456789ABC', 'app.example.com.', 'A', 'primary')!.Weight).to.equal(100)
    // Cleanup put the drill record back and left nothing running.
    expect(aws.r53.record('Z0123456789ABC', 'drill.example.com.', 'A', 'primary')!.Weight).to.equal(100)
    expect(aws.r53.record('Z0123456789ABC', 'drill.example.com.', 'A', 'dr')!.Weight).to.equal(0)
    expect(e.result.cleanup.leftovers).to.deep.equal([])
    expect(aws.ec2.live().instances).to.have.length(0)
    expect(aws.ec2.live().images.map((i) => i.ImageId)).to.deep.equal(['ami-0123456789abcdef0'])
    const rep = envelope((await runCommand(['dr', 'report', e.result.runId, '--run-dir', runs, '--json'], {root: ROOT})).stdout)
    expect(rep.result.rto).to.include({dnsStep: 'dns', gateStep: 'smoke'})
    expect(rep.result.resources.leftovers).to.equal(0)
  })

  it('failback runs the example in the reverse direction: copy and launch in us-east-1, weights mirrored', async () => {
    aws.ec2.addImage('us-west-2', {ImageId: 'ami-0aaaabbbbccccdddd', Name: 'shop-dr'})
    aws.ec2.addAddress('us-east-1', 'eipalloc-0fedcba9876543210', '198.51.100.1')
    const text = SHOP.replace(
      'params: { sourceImageId: ami-0123456789abcdef0, sourceRegion: us-east-1, name: shop-dr }',
      'params: { sourceImageId: ami-0123456789abcdef0, sourceRegion: us-east-1, name: shop-dr }\n        failback: { params: { sourceImageId: ami-0aaaabbbbccccdddd, name: shop-home } }',
    ).replace(
      'params: { allocationId: eipalloc-0123456789abcdef0, instanceId: "${steps.app.instanceIds[0]}" }',
      'params: { allocationId: eipalloc-0123456789abcdef0, instanceId: "${steps.app.instanceIds[0]}" }\n        failback: { params: { allocationId: eipalloc-0fedcba9876543210 } }',
    )
    fs.writeFileSync(file, text)
    const out = await runCommand(['dr', 'failback', '-f', file, '--approve', 'go', '--run-dir', runs, '--json'], {root: ROOT})
    const e = envelope(out.stdout)
    expect(out.error, JSON.stringify(e.error ?? e.result?.error)).to.equal(undefined)
    expect(e.result.mode).to.equal('failback')
    const copy = aws.ec2.calls.filter((c) => c.command === 'CopyImage')
    expect(copy.map((c) => [c.region, c.input.SourceRegion, c.input.SourceImageId])).to.deep.equal([['us-east-1', 'us-west-2', 'ami-0aaaabbbbccccdddd']])
    expect(aws.ec2.calls.filter((c) => c.command === 'RunInstances').map((c) => c.region)).to.deep.equal(['us-east-1'])
    expect(aws.ec2.addresses.get('eipalloc-0fedcba9876543210')!.InstanceId).to.match(/^i-/)
    expect(aws.r53.batches[0].changes.map((c: any) => [c.ResourceRecordSet.SetIdentifier, c.ResourceRecordSet.Weight])).to.deep.equal([
      ['primary', 100],
      ['dr', 0],
    ])
  })
})
