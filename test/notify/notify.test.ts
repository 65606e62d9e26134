import {PublishCommand, SNSClient} from '@aws-sdk/client-sns'
import {runCommand} from '@oclif/test'
import {mockClient} from 'aws-sdk-client-mock'
import {expect} from 'chai'
import {createHmac} from 'node:crypto'
import fs from 'node:fs'
import http from 'node:http'
import type {AddressInfo} from 'node:net'
import path from 'node:path'

import {parseConfigText} from '../../src/config/parse.js'
import type {SinkConfig} from '../../src/config/schema.js'
import {ConfigError} from '../../src/errors.js'
import {eventSubject, eventText, type JobEvent} from '../../src/notify/event.js'
import {notifyAll, SIGNATURE_HEADER} from '../../src/notify/sinks.js'
import {ROOT, isolateEnv, tempDir} from '../helpers/env.js'

const ISSUE_EXAMPLE = `notifications:
  - name: ops-hook
    type: webhook
    url: https://hooks.example.com/lifeboat
    secretEnv: LIFEBOAT_HOOK_SECRET      # HMAC-SHA256 of the body, header X-Lifeboat-Signature: sha256=<hex>
    on: [failure, success]
  - name: owner-mail
    type: sns
    topicArn: arn:aws:sns:us-east-1:123456789012:lifeboat-alerts
    region: us-east-1
    on: [failure]
`

function event(over: Partial<JobEvent> = {}): JobEvent {
  return {
    version: 1,
    job: 'backup',
    name: 'nightly',
    host: 'pi-home',
    state: 'failure',
    startedAt: '2026-03-10T02:00:00.000Z',
    finishedAt: '2026-03-10T02:03:05.000Z',
    durationSeconds: 185,
    summary: 'backup failed: no space left on device',
    numbers: {files: 1234, addedBytes: 5_242_880},
    repository: '/mnt/usb/repo',
    error: {code: 'ENOSPC', message: 'no space left on device', hint: 'free space on /mnt/usb'},
    action: 'free space on /mnt/usb; then re-run it now with `lifeboat schedule run nightly`.',
    exitCode: 1,
    ...over,
  }
}

interface Received {
  headers: http.IncomingHttpHeaders
  body: string
}

/** A webhook receiver on 127.0.0.1 that answers with the given statuses in turn (then 200). */
async function receiver(statuses: number[] = []): Promise<{url: string; got: Received[]; close: () => Promise<void>}> {
  const got: Received[] = []
  const server = http.createServer((req, res) => {
    let body = ''
    req.on('data', (b) => (body += b))
    req.on('end', () => {
      got.push({headers: req.headers, body})
      res.statusCode = statuses.shift() ?? 200
      res.end('ok')
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const {port} = server.address() as AddressInfo
  return {url: `http://127.0.0.1:${port}/hook`, got, close: () => new Promise((r) => server.close(() => r()))}
}

describe('notify: config shape', () => {
  it('accepts the issue\'s notifications example exactly as written', () => {
    const c = parseConfigText(ISSUE_EXAMPLE, 'config.yaml')
    expect(c.notifications?.sinks).to.have.length(2)
    const [hook, mail] = c.notifications!.sinks!
    expect(hook).to.deep.include({name: 'ops-hook', type: 'webhook', secretEnv: 'LIFEBOAT_HOOK_SECRET', on: ['failure', 'success']})
    expect(mail).to.deep.include({type: 'sns', region: 'us-east-1', on: ['failure']})
  })

  it('still reads the older {sinks: [...]} form, and names a bad field with its line', () => {
    const c = parseConfigText('notifications:\n  sinks:\n    - {name: a, type: command, command: [logger]}\n', 'c.yaml')
    expect(c.notifications?.sinks?.[0]).to.deep.include({type: 'command'})
    let err: ConfigError | undefined
    try {
      parseConfigText('notifications:\n  - name: x\n    type: webhook\n    url: not a url\n', 'c.yaml')
    } catch (error) {
      err = error as ConfigError
    }
    expect(err).to.be.instanceOf(ConfigError)
    expect(err!.message).to.include('c.yaml:4:10: notifications[0].url: Invalid URL')
  })
})

describe('notify: webhook', () => {
  it('POSTs the event JSON signed with HMAC-SHA256 of the exact body (secretEnv)', async () => {
    const r = await receiver()
    try {
      const sink: SinkConfig = {name: 'ops-hook', type: 'webhook', url: r.url, secretEnv: 'LIFEBOAT_HOOK_SECRET', on: ['failure']}
      const [d] = await notifyAll(event(), [sink], {env: {LIFEBOAT_HOOK_SECRET: 'k3y'}})
      expect(d).to.include({ok: true, sent: true, attempts: 1})
      expect(r.got).to.have.length(1)
      const {headers, body} = r.got[0]
      const expected = 'sha256=' + createHmac('sha256', 'k3y').update(body).digest('hex')
      expect(headers[SIGNATURE_HEADER.toLowerCase()]).to.equal(expected)
      expect(headers['content-type']).to.equal('application/json')
      const payload = JSON.parse(body)
      expect(payload).to.include({job: 'backup', name: 'nightly', host: 'pi-home', state: 'failure', repository: '/mnt/usb/repo'})
      expect(payload.numbers).to.deep.equal({files: 1234, addedBytes: 5_242_880})
      // a different key gives a different signature: the check above can fail
      expect('sha256=' + createHmac('sha256', 'other').update(body).digest('hex')).not.to.equal(expected)
    } finally {
      await r.close()
    }
  })

  it('sends no signature header without a secret; retries 5xx, not 4xx; never throws', async () => {
    const r = await receiver([503, 502])
    try {
      const sleeps: number[] = []
      const sleep = async (ms: number) => {
        sleeps.push(ms)
      }
      const [ok] = await notifyAll(event({state: 'success'}), [{name: 'h', type: 'webhook', url: r.url}], {sleep})
      expect(ok).to.include({ok: true, attempts: 3})
      expect(sleeps).to.deep.equal([500, 1000])
      expect(r.got[0].headers).not.to.have.property(SIGNATURE_HEADER.toLowerCase())
    } finally {
      await r.close()
    }
    const r2 = await receiver([403, 403, 403])
    try {
      const [bad] = await notifyAll(event(), [{name: 'h', type: 'webhook', url: r2.url, retries: 2}], {sleep: async () => {}})
      expect(bad).to.include({ok: false, attempts: 1})
      expect(bad.error).to.match(/HTTP 403/)
      expect(r2.got).to.have.length(1)
    } finally {
      await r2.close()
    }
    // Nobody listening: a failed delivery, not an exception.
    const [down] = await notifyAll(event(), [{name: 'h', type: 'webhook', url: 'http://127.0.0.1:9/x', retries: 0}])
    expect(down.ok).to.equal(false)
    expect(down.error).to.match(/POST http:\/\/127\.0\.0\.1:9\/x/)
  })

  it('refuses to send unsigned when secretEnv names an unset variable', async () => {
    const r = await receiver()
    try {
      const [d] = await notifyAll(event(), [{name: 'h', type: 'webhook', url: r.url, secretEnv: 'NOPE_NOT_SET'}], {env: {}})
      expect(d.ok).to.equal(false)
      expect(d.error).to.match(/NOPE_NOT_SET/)
      expect(r.got).to.have.length(0)
    } finally {
      await r.close()
    }
  })

  it('`on:` filters outcomes (a success does not page the failure-only sink)', async () => {
    const r = await receiver()
    try {
      const sinks: SinkConfig[] = [
        {name: 'fail-only', type: 'webhook', url: r.url, on: ['failure']},
        {name: 'all', type: 'webhook', url: r.url},
      ]
      const ds = await notifyAll(event({state: 'success'}), sinks)
      expect(ds.map((d) => [d.sink, d.sent])).to.deep.equal([
        ['fail-only', false],
        ['all', true],
      ])
      expect(r.got).to.have.length(1)
    } finally {
      await r.close()
    }
  })
})

describe('notify: SNS (aws-sdk-client-mock)', () => {
  const sns = mockClient(SNSClient)
  afterEach(() => sns.reset())

  it('publishes a human-readable body and a short subject to the topic', async () => {
    sns.on(PublishCommand).resolves({MessageId: '5f3a0b2c-1d4e-5f60-7a8b-9c0d1e2f3a4b'})
    const sink: SinkConfig = {name: 'owner-mail', type: 'sns', topicArn: 'arn:aws:sns:us-east-1:123456789012:lifeboat-alerts', region: 'us-east-1', on: ['failure']}
    const [d] = await notifyAll(event(), [sink], {aws: {region: 'eu-west-1'}})
    expect(d).to.include({ok: true, detail: '5f3a0b2c-1d4e-5f60-7a8b-9c0d1e2f3a4b'})
    const calls = sns.commandCalls(PublishCommand)
    expect(calls).to.have.length(1)
    // the sink's region wins over the config's aws.region
    expect(await (calls[0].thisValue as SNSClient).config.region()).to.equal('us-east-1')
    const input = calls[0].args[0].input
    expect(input.TopicArn).to.equal('arn:aws:sns:us-east-1:123456789012:lifeboat-alerts')
    expect(input.Subject).to.equal('Lifeboat: backup (nightly) FAILED on pi-home')
    const body = input.Message!
    expect(body).to.match(/^Job: +backup \(schedule nightly\)$/m)
    expect(body).to.match(/^Host: +pi-home$/m)
    expect(body).to.match(/^State: +FAILURE$/m)
    expect(body).to.match(/^Started: +2026-03-10 02:00:00Z$/m)
    expect(body).to.match(/took 3m05s/)
    expect(body).to.match(/^ {2}files: 1234$/m)
    expect(body).to.match(/^ {2}addedBytes: 5\.00 MiB \(5242880 bytes\)$/m)
    expect(body).to.match(/What to do:\n {2}free space on \/mnt\/usb/)
    expect(body).not.to.match(/^\{/) // not JSON
  })

  it('a rejected publish is a failed delivery (real error name), and subjects stay ≤ 100 printable characters', async () => {
    const denied = Object.assign(new Error('User: arn:aws:iam::123456789012:user/pi is not authorized to perform: SNS:Publish'), {name: 'AuthorizationErrorException', $metadata: {httpStatusCode: 403}})
    sns.on(PublishCommand).rejects(denied)
    const [d] = await notifyAll(event(), [{name: 'm', type: 'sns', topicArn: 'arn:aws:sns:eu-west-1:123456789012:t'}])
    expect(d.ok).to.equal(false)
    expect(d.error).to.match(/not authorized/)
    const long = eventSubject(event({name: 'x'.repeat(150), host: 'hôst\nname'}))
    expect(long.length).to.be.at.most(100)
    expect(long).to.match(/^[\x20-\x7E]+$/)
    expect(eventText(event({state: 'success', error: undefined, action: 'Nothing to do.'}))).to.match(/succeeded on pi-home/)
  })
})

describe('notify: command sink', () => {
  it('runs the program with the event JSON on stdin; a failing or slow program is a failed delivery', async () => {
    const dir = tempDir('lb-notify-')
    try {
      const out = path.join(dir, 'event.json')
      const [ok] = await notifyAll(event(), [{name: 'log', type: 'command', command: ['sh', '-c', `cat > ${out}`]}])
      expect(ok.ok).to.equal(true)
      expect(JSON.parse(fs.readFileSync(out, 'utf8'))).to.include({job: 'backup', state: 'failure'})
      const [bad] = await notifyAll(event(), [{name: 'bad', type: 'command', command: ['sh', '-c', 'echo nope >&2; exit 7']}])
      expect(bad.ok).to.equal(false)
      expect(bad.error).to.match(/exit code 7: nope/)
      const [slow] = await notifyAll(event(), [{name: 'slow', type: 'command', command: ['sleep', '30'], timeoutSeconds: 0.3}])
      expect(slow.ok).to.equal(false)
      expect(slow.error).to.match(/did not finish/)
    } finally {
      fs.rmSync(dir, {recursive: true, force: true})
    }
  })
})

describe('lifeboat notify test (command)', () => {
  let env: ReturnType<typeof isolateEnv>
  before(() => (env = isolateEnv()))
  after(() => env.restore())

  it('sends a signed test event to the named sink whatever its on: filter; exit 1 when a sink fails, 2 for an unknown sink', async () => {
    const r = await receiver()
    try {
      const cfg = path.join(env.dir, 'config.yaml')
      fs.writeFileSync(
        cfg,
        `notifications:\n  - name: ops-hook\n    type: webhook\n    url: ${r.url}\n    secretEnv: LB_NOTIFY_TEST_SECRET\n    on: [failure]\n  - name: broken\n    type: webhook\n    url: http://127.0.0.1:9/nothing\n    retries: 0\n`,
      )
      process.env.LB_NOTIFY_TEST_SECRET = 'tst'
      const ok = await runCommand(['notify', 'test', '--config', cfg, '--sink', 'ops-hook', '--state', 'success', '--json'], {root: ROOT})
      expect(ok.error).to.equal(undefined)
      const out = JSON.parse(ok.stdout)
      expect(out.result.deliveries).to.deep.equal([{sink: 'ops-hook', type: 'webhook', sent: true, ok: true, attempts: 1, detail: 'HTTP 200'}])
      expect(r.got).to.have.length(1)
      expect(JSON.parse(r.got[0].body)).to.include({test: true, state: 'success'})
      expect(r.got[0].headers['x-lifeboat-signature']).to.equal('sha256=' + createHmac('sha256', 'tst').update(r.got[0].body).digest('hex'))
      const all = await runCommand(['notify', 'test', '--config', cfg, '--json'], {root: ROOT})
      expect(all.error?.oclif?.exit).to.equal(1)
      expect(JSON.parse(all.stdout).result.deliveries.map((d: any) => [d.sink, d.ok])).to.deep.equal([
        ['ops-hook', true],
        ['broken', false],
      ])
      const unknown = await runCommand(['notify', 'test', '--config', cfg, '--sink', 'nope'], {root: ROOT})
      expect(unknown.error?.oclif?.exit).to.equal(2)
    } finally {
      delete process.env.LB_NOTIFY_TEST_SECRET
      await r.close()
    }
  })
})
