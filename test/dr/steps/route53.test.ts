import {type AddressInfo} from 'node:net'
import http from 'node:http'

import {ChangeResourceRecordSetsCommand, GetChangeCommand, PriorRequestNotComplete, type ResourceRecordSet} from '@aws-sdk/client-route-53'
import {expect} from 'chai'

import {httpCheckStep} from '../../../src/dr/steps/http-check.js'
import {route53Health} from '../../../src/dr/steps/route53-health.js'
import {route53Weights, serializeZone, stageWeights} from '../../../src/dr/steps/route53-weights.js'
import {type FakeAws, awsError, installFakeAws} from '../fake-aws.js'
import {testContext} from '../step-context.js'

const ZONE = 'Z0123456789ABC'
const RECORDS: ResourceRecordSet[] = [
  {Name: 'example.com.', Type: 'NS', TTL: 172800, ResourceRecords: [{Value: 'ns-1.awsdns-00.org.'}]},
  {Name: 'app.example.com.', Type: 'A', SetIdentifier: 'primary', Weight: 100, TTL: 60, ResourceRecords: [{Value: '198.51.100.10'}], HealthCheckId: 'hc-primary'},
  {Name: 'app.example.com.', Type: 'A', SetIdentifier: 'dr', Weight: 0, TTL: 60, ResourceRecords: [{Value: '203.0.113.20'}], HealthCheckId: 'hc-dr'},
  {Name: 'app.example.com.', Type: 'AAAA', SetIdentifier: 'primary', Weight: 100, TTL: 60, ResourceRecords: [{Value: '2001:db8::10'}]},
  {Name: 'drill.example.com.', Type: 'A', SetIdentifier: 'primary', Weight: 100, TTL: 60, ResourceRecords: [{Value: '198.51.100.10'}]},
  {Name: 'drill.example.com.', Type: 'A', SetIdentifier: 'dr', Weight: 0, TTL: 60, ResourceRecords: [{Value: '203.0.113.20'}]},
]

const SHIFT = {hostedZoneId: ZONE, name: 'app.example.com.', type: 'A', weights: {primary: 0, dr: 100}}

/** A local HTTP server whose answers a test scripts (status per request). */
async function server(answer: (n: number) => {status: number; body?: string}): Promise<{url: string; hits: () => number; close: () => Promise<void>}> {
  let n = 0
  const s = http.createServer((_req, res) => {
    const a = answer(++n)
    res.writeHead(a.status, {'content-type': 'text/plain'})
    res.end(a.body ?? 'ok')
  })
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(s.address() as AddressInfo).port}/health`,
    hits: () => n,
    close: () => new Promise((resolve) => s.close(() => resolve())),
  }
}

describe('dr steps: route53.weights, route53.health, http.check', () => {
  let aws: FakeAws
  beforeEach(() => {
    aws = installFakeAws()
    aws.r53.addZone(ZONE, RECORDS)
  })
  afterEach(() => aws.restore())

  describe('route53.weights', () => {
    it('changes only the Weight of both SetIdentifiers in one atomic UPSERT batch and waits for INSYNC', async () => {
      aws.r53.insyncAfter = 3
      const ctx = testContext({stepId: 'dns'})
      const r = await route53Weights.run(route53Weights.params.parse(SHIFT), ctx)

      const batches = aws.r53Mock.commandCalls(ChangeResourceRecordSetsCommand)
      expect(batches).to.have.length(1)
      const changes = batches[0].args[0].input.ChangeBatch!.Changes!
      expect(changes.map((c) => c.Action)).to.deep.equal(['UPSERT', 'UPSERT'])
      // Whole records as read (TTL, values, health checks), only Weight changed.
      expect(changes.map((c) => c.ResourceRecordSet)).to.deep.equal([
        {...RECORDS[1], Weight: 0},
        {...RECORDS[2], Weight: 100},
      ])
      expect(aws.r53.zones.get(ZONE)!.records).to.deep.equal([RECORDS[0], {...RECORDS[1], Weight: 0}, {...RECORDS[2], Weight: 100}, RECORDS[3], RECORDS[4], RECORDS[5]])
      // Polled GetChange until INSYNC, sleeping (fake time) between looks.
      expect(aws.r53Mock.commandCalls(GetChangeCommand)).to.have.length(3)
      expect(ctx.sleeps).to.deep.equal([5000, 5000])
      expect(r.outputs.changeId).to.match(/^\/change\/C/)
      expect(r.outputs.shiftedAt).to.equal(ctx.now().toISOString())
      expect(r.outputs.previousWeights).to.deep.equal({primary: 100, dr: 0})
      expect(ctx.state.previousWeights).to.deep.equal({primary: 100, dr: 0})
      expect(ctx.resources).to.deep.equal([
        {kind: 'route53:record-weights', id: `${ZONE}/app.example.com./A`, region: 'global', stepId: 'dns', undo: {hostedZoneId: ZONE, name: 'app.example.com.', type: 'A', weights: {primary: 100, dr: 0}}},
      ])
    })

    it('refuses clearly when a SetIdentifier is not found, and changes nothing', async () => {
      const ctx = testContext({stepId: 'dns'})
      const err = await route53Weights.run(route53Weights.params.parse({...SHIFT, weights: {primary: 0, 'us-west-2': 100}}), ctx).catch((error) => error)
      expect(err.code).to.equal('DR_RECORD_NOT_FOUND')
      expect(err.message).to.equal(`app.example.com. A in hosted zone ${ZONE} has no record with SetIdentifier "us-west-2" (it has "dr", "primary")`)
      expect(aws.r53Mock.commandCalls(ChangeResourceRecordSetsCommand)).to.have.length(0)
    })

    it('backs off with jitter on PriorRequestNotComplete and Throttling, then succeeds', async () => {
      aws.r53.failNext('ChangeResourceRecordSets', () => new PriorRequestNotComplete({message: 'The request was rejected because Route 53 was still processing a prior request.', $metadata: {httpStatusCode: 400}}), 2)
      aws.r53.failNext('ChangeResourceRecordSets', () => awsError('Throttling', 'Rate exceeded'), 1)
      aws.r53.insyncAfter = 1
      const ctx = testContext({stepId: 'dns'})
      await route53Weights.run(route53Weights.params.parse(SHIFT), ctx)
      expect(aws.r53Mock.commandCalls(ChangeResourceRecordSetsCommand)).to.have.length(4)
      expect(aws.r53.batches).to.have.length(1)
      // Three backoff sleeps, each within its exponential cap (500, 1000, 2000 ms), before the success.
      expect(ctx.sleeps).to.have.length(3)
      ctx.sleeps.forEach((ms, i) => expect(ms).to.be.within(50, 500 * 2 ** i))
      expect(ctx.logs.some((l) => l.includes('PriorRequestNotComplete: retry 1'))).to.equal(true)
      expect(aws.r53.record(ZONE, 'app.example.com.', 'A', 'dr')!.Weight).to.equal(100)
    })

    it('gives up on a change that never gets INSYNC within maxWait (fake time) with a clear timeout', async () => {
      aws.r53.insyncAfter = Number.MAX_SAFE_INTEGER
      const ctx = testContext({stepId: 'dns'})
      const err = await route53Weights.run(route53Weights.params.parse({...SHIFT, maxWait: '2m', interval: '10s'}), ctx).catch((error) => error)
      expect(err.code).to.equal('DR_STEP_TIMEOUT')
      expect(err.message).to.match(/timed out after 2m waiting for Route 53 change \/change\/C\w+ to be INSYNC \(last: .*PENDING\)/)
      // The change id is in the journal state, so resume waits for it instead of guessing.
      expect(ctx.state.changeId).to.match(/^\/change\//)
      expect(ctx.state.insync).to.equal(false)
    })

    it('staged shift 10 → 50 → 100 with an HTTP health gate between stages', async () => {
      const srv = await server(() => ({status: 200, body: 'OK shop'}))
      try {
        const ctx = testContext({stepId: 'dns'})
        const p = route53Weights.params.parse({...SHIFT, stages: [10, 50, 100], gate: {http: {url: srv.url, expectBody: 'OK'}}})
        const r = await route53Weights.run(p, ctx)
        expect(aws.r53.batches.map((b) => b.changes.map((c) => [c.ResourceRecordSet.SetIdentifier, c.ResourceRecordSet.Weight]))).to.deep.equal([
          [['primary', 90], ['dr', 10]],
          [['primary', 50], ['dr', 50]],
          [['primary', 0], ['dr', 100]],
        ])
        // Gates after stage 1 and 2, none after the last.
        expect(srv.hits()).to.equal(2)
        expect(r.outputs.gatesPassedAt).to.have.length(2)
        expect(ctx.state.stagesDone).to.equal(3)
      } finally {
        await srv.close()
      }
    })

    it('a failing gate stops the shift at that stage; with onGateFailure: revert the old weights come back', async () => {
      const srv = await server(() => ({status: 503, body: 'down'}))
      try {
        const stop = testContext({stepId: 'dns'})
        const gate = {http: {url: srv.url, retries: 2, interval: '1s'}}
        const e1 = await route53Weights.run(route53Weights.params.parse({...SHIFT, stages: [10, 50], gate}), stop).catch((error) => error)
        expect(e1.code).to.equal('DR_GATE_FAILED')
        expect(e1.message).to.match(/health gate failed after stage 1\/3 \(primary=90 dr=10\): .* failed 3 tries; last: status 503, expected 200/)
        expect(aws.r53.record(ZONE, 'app.example.com.', 'A', 'dr')!.Weight).to.equal(10)

        aws.r53.addZone(ZONE, RECORDS)
        const revert = testContext({stepId: 'dns'})
        const e2 = await route53Weights.run(route53Weights.params.parse({...SHIFT, stages: [10, 50], gate, onGateFailure: 'revert'}), revert).catch((error) => error)
        expect(e2.code).to.equal('DR_GATE_FAILED')
        expect(aws.r53.record(ZONE, 'app.example.com.', 'A', 'primary')!.Weight).to.equal(100)
        expect(aws.r53.record(ZONE, 'app.example.com.', 'A', 'dr')!.Weight).to.equal(0)
      } finally {
        await srv.close()
      }
    })

    it('staged shift gated by a Route 53 health check that turns healthy', async () => {
      let looks = 0
      aws.r53.health.set('hc-dr', () => (++looks < 3 ? Array(8).fill('Failure: Connection timed out.') : [...Array(6).fill('Success: HTTP Status Code 200, OK'), 'Failure: x', 'Failure: y']))
      const ctx = testContext({stepId: 'dns'})
      await route53Weights.run(route53Weights.params.parse({...SHIFT, stages: [50], gate: {healthCheck: {healthCheckId: 'hc-dr', interval: '10s'}}}), ctx)
      expect(looks).to.equal(3)
      expect(aws.r53.batches).to.have.length(2)
    })

    it('rollback restores the previous weights in one batch', async () => {
      const ctx = testContext({stepId: 'dns'})
      const p = route53Weights.params.parse(SHIFT)
      const r = await route53Weights.run(p, ctx)
      await route53Weights.rollback!(p, r, ctx)
      expect(aws.r53.batches).to.have.length(2)
      expect(aws.r53.batches[1].changes.map((c) => [c.ResourceRecordSet.SetIdentifier, c.ResourceRecordSet.Weight])).to.deep.equal([
        ['primary', 100],
        ['dr', 0],
      ])
      expect(aws.r53.zones.get(ZONE)!.records).to.deep.equal(RECORDS)
    })

    it('resume after a crash mid-shift restores the weights from before the step, not from a stage', async () => {
      const srv = await server((n) => ({status: n === 1 ? 500 : 200}))
      try {
        const p = route53Weights.params.parse({...SHIFT, stages: [10, 50], gate: {http: {url: srv.url, retries: 0}}})
        const first = testContext({stepId: 'dns'})
        await route53Weights.run(p, first).catch(() => undefined)
        expect(aws.r53.record(ZONE, 'app.example.com.', 'A', 'dr')!.Weight).to.equal(10)
        const again = testContext({stepId: 'dns', state: first.state})
        const r = await route53Weights.run(p, again)
        expect(r.outputs.previousWeights).to.deep.equal({primary: 100, dr: 0})
        expect(aws.r53.record(ZONE, 'app.example.com.', 'A', 'dr')!.Weight).to.equal(100)
        await route53Weights.removeResource!(first.resources[0], again)
        expect(aws.r53.zones.get(ZONE)!.records).to.deep.equal(RECORDS)
      } finally {
        await srv.close()
      }
    })

    it('serializes changes to one zone: a second shift starts only after the first is INSYNC', async () => {
      aws.r53.insyncAfter = 3
      const a = testContext({stepId: 'dns-a'})
      const b = testContext({stepId: 'dns-b'})
      await Promise.all([
        route53Weights.run(route53Weights.params.parse(SHIFT), a),
        route53Weights.run(route53Weights.params.parse({...SHIFT, name: 'drill.example.com.'}), b),
      ])
      const seq = aws.r53.calls.map((c) => c.command)
      const firstChange = seq.indexOf('ChangeResourceRecordSets')
      const secondChange = seq.lastIndexOf('ChangeResourceRecordSets')
      expect(secondChange).to.be.greaterThan(firstChange)
      expect(seq.slice(firstChange + 1, secondChange).filter((c) => c === 'GetChange')).to.have.length(3)
    })

    it('in a drill it never touches the production record; with drillRecord it shifts that one', async () => {
      const plain = testContext({stepId: 'dns', mode: 'drill'})
      const r = await route53Weights.run(route53Weights.params.parse(SHIFT), plain)
      expect(r.outputs.skipped).to.equal('drill without drillRecord')
      expect(aws.r53.batches).to.have.length(0)
      expect((await route53Weights.plan(route53Weights.params.parse(SHIFT), plain)).action).to.equal('none')

      const withDrill = testContext({stepId: 'dns', mode: 'drill'})
      await route53Weights.run(route53Weights.params.parse({...SHIFT, drillRecord: {name: 'drill.example.com'}}), withDrill)
      expect(aws.r53.record(ZONE, 'drill.example.com.', 'A', 'dr')!.Weight).to.equal(100)
      expect(aws.r53.record(ZONE, 'app.example.com.', 'A', 'dr')!.Weight).to.equal(0)
      // Drill cleanup puts the drill record back.
      await route53Weights.removeResource!(withDrill.resources[0], withDrill)
      expect(aws.r53.zones.get(ZONE)!.records).to.deep.equal(RECORDS)
    })

    it('plan reads the current weights and writes nothing; readiness checks records and health checks', async () => {
      aws.r53.health.set('hc-primary', Array(8).fill('Success: HTTP Status Code 200, OK'))
      aws.r53.health.set('hc-dr', Array(8).fill('Success: HTTP Status Code 200, OK'))
      const ctx = testContext()
      const p = route53Weights.params.parse({...SHIFT, stages: [10, 100]})
      const line = await route53Weights.plan(p, ctx)
      expect(line.summary).to.equal(`set weights of app.example.com. A in ${ZONE} to primary=0 dr=100 from primary=100 dr=0 in stages 10 → 100% (one batch each, wait INSYNC)`)
      const checks = await route53Weights.readiness!(p, ctx)
      expect(checks.every((c) => c.ok)).to.equal(true)
      const bad = await route53Weights.readiness!(route53Weights.params.parse({...SHIFT, name: 'drill.example.com.'}), ctx)
      expect(bad.filter((c) => !c.ok).map((c) => c.severity)).to.deep.equal(['warn', 'warn'])
      expect(aws.r53Mock.commandCalls(ChangeResourceRecordSetsCommand)).to.have.length(0)
    })

    it('the per-zone queue runs the next change even when the one before it failed', async () => {
      const order: string[] = []
      const first = serializeZone('/hostedzone/' + ZONE, async () => {
        order.push('first')
        throw new Error('boom')
      })
      const second = serializeZone(ZONE, async () => {
        order.push('second')
        return 2
      })
      const other = serializeZone('ZOTHERZONE', async () => {
        order.push('other zone')
        return 3
      })
      await first.catch(() => undefined)
      expect(await second).to.equal(2)
      expect(await other).to.equal(3)
      expect(order.indexOf('second')).to.be.greaterThan(order.indexOf('first'))
    })

    it('stage weights keep ratios and end exactly on the final weights', () => {
      expect(stageWeights({primary: 100, dr: 0}, {primary: 0, dr: 100}, [10, 50, 100])).to.deep.equal([
        {primary: 90, dr: 10},
        {primary: 50, dr: 50},
        {primary: 0, dr: 100},
      ])
      expect(stageWeights({a: 200, b: 50, dr: 0}, {a: 0, b: 0, dr: 7}, [20])).to.deep.equal([{a: 64, b: 16, dr: 20}, {a: 0, b: 0, dr: 7}])
      // Already shifted: nothing to stage.
      expect(stageWeights({primary: 0, dr: 100}, {primary: 0, dr: 100}, [10, 50])).to.deep.equal([{primary: 0, dr: 100}])
      expect(route53Weights.params.safeParse({...SHIFT, stages: [50, 10]}).success).to.equal(false)
      expect(route53Weights.params.safeParse({...SHIFT, weights: {dr: 256}}).success).to.equal(false)
    })
  })

  describe('route53.health', () => {
    it('waits until a majority of checkers report Success and outputs healthyAt; times out otherwise', async () => {
      let looks = 0
      aws.r53.health.set('hc-dr', () => (++looks < 4 ? ['Failure: HTTP Status Code 503, Service Unavailable', 'Success: HTTP Status Code 200, OK'] : Array(3).fill('Success: HTTP Status Code 200, OK')))
      const ctx = testContext()
      const r = await route53Health.run(route53Health.params.parse({healthCheckId: 'hc-dr'}), ctx)
      expect(r.outputs).to.deep.equal({healthyAt: '2026-11-22T05:00:30.000Z', healthy: 3, total: 3})

      aws.r53.health.set('hc-dead', Array(8).fill('Failure: Connection timed out.'))
      const err = await route53Health.run(route53Health.params.parse({healthCheckId: 'hc-dead', maxWait: '1m'}), testContext()).catch((error) => error)
      expect(err.code).to.equal('DR_STEP_TIMEOUT')
      expect(err.message).to.contain('0/8 checkers healthy, need 5')
    })

    it('honours minHealthy, and readiness reports a missing health check', async () => {
      aws.r53.health.set('hc-dr', ['Success: HTTP Status Code 200, OK', 'Failure: x', 'Failure: y'])
      const r = await route53Health.run(route53Health.params.parse({healthCheckId: 'hc-dr', minHealthy: 1}), testContext())
      expect(r.outputs.healthy).to.equal(1)
      const checks = await route53Health.readiness!(route53Health.params.parse({healthCheckId: 'hc-nope'}), testContext())
      expect(checks).to.deep.equal([{name: 'health check hc-nope', ok: false, detail: 'does not exist'}])
    })
  })

  describe('http.check', () => {
    it('retries until the expected status and body, then outputs status and passedAt', async () => {
      const srv = await server((n) => (n < 3 ? {status: 502} : n < 4 ? {status: 200, body: 'starting'} : {status: 200, body: '{"status":"ok"}'}))
      try {
        const ctx = testContext()
        const r = await httpCheckStep.run(httpCheckStep.params.parse({url: srv.url, expectBodyRegex: '"status":\\s*"ok"', retries: 10, interval: '2s'}), ctx)
        expect(r.outputs).to.deep.equal({status: 200, passedAt: '2026-11-22T05:00:06.000Z', tries: 4})
        expect(ctx.sleeps).to.deep.equal([2000, 2000, 2000])
      } finally {
        await srv.close()
      }
    })

    it('gives each try its own timeout', async () => {
      const s = http.createServer(() => {
        // never answers
      })
      await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
      try {
        const url = `http://127.0.0.1:${(s.address() as AddressInfo).port}/health`
        const ctx = testContext()
        const err = await httpCheckStep.run(httpCheckStep.params.parse({url, retries: 1, timeout: '150ms'}), ctx).catch((error) => error)
        expect(err.message).to.equal(`${url} failed 2 tries; last: no answer within 150ms`)
        expect(ctx.sleeps).to.deep.equal([5000])
      } finally {
        s.closeAllConnections()
        await new Promise((resolve) => s.close(resolve))
      }
    })

    it('fails after its retries with the last reason, and reports a refused connection', async () => {
      const srv = await server(() => ({status: 200, body: 'maintenance'}))
      try {
        const err = await httpCheckStep.run(httpCheckStep.params.parse({url: srv.url, expectBody: 'shop', retries: 1}), testContext()).catch((error) => error)
        expect(err.message).to.equal(`${srv.url} failed 2 tries; last: status 200 but the body does not contain "shop"`)
      } finally {
        await srv.close()
      }
      const gone = await server(() => ({status: 200}))
      await gone.close()
      const refused = await httpCheckStep.run(httpCheckStep.params.parse({url: gone.url, retries: 0}), testContext()).catch((error) => error)
      expect(refused.message).to.match(/failed 1 try; last: connect ECONNREFUSED 127\.0\.0\.1:\d+$/)
      expect(httpCheckStep.params.safeParse({url: 'http://x', expectBodyRegex: '('}).success).to.equal(false)
    })
  })
})
