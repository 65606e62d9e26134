import {expect} from 'chai'
import {execFile} from 'node:child_process'
import fs from 'node:fs'
import http from 'node:http'
import type {AddressInfo} from 'node:net'
import path from 'node:path'

import {ROOT, tempDir} from '../helpers/env.js'

/**
 * Confirmations at a real terminal: the built CLI runs in a pseudo-terminal (test/helpers/pty-driver.py) against
 * a small S3 endpoint in this process (AWS_ENDPOINT_URL_S3), so prompts, answers and the requests they lead
 * to are what a user would get. Needs `npm run build`.
 */
class TinyS3 {
  lifecycle = ''
  lockXml = ''
  writes: string[] = []
  server = http.createServer((req, res) => {
    let body = ''
    req.on('data', (c) => (body += c))
    req.on('end', () => {
      const url = req.url ?? ''
      const reply = (status: number, xml = '') => {
        res.writeHead(status, {'content-type': 'application/xml', 'x-amz-request-id': 'R'})
        res.end(xml)
      }
      const err = (status: number, code: string) => reply(status, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${code}</Message></Error>`)
      if (req.method !== 'GET') this.writes.push(`${req.method} ${url.split('&')[0]}`)
      if (url.includes('?lifecycle')) {
        if (req.method === 'PUT') {
          this.lifecycle = body.replace(/ xmlns="[^"]*"/, '')
          return reply(200)
        }
        return this.lifecycle ? reply(200, this.lifecycle) : err(404, 'NoSuchLifecycleConfiguration')
      }
      if (url.includes('?versioning')) return reply(200, '<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>')
      if (url.includes('?object-lock')) {
        if (req.method === 'PUT') {
          this.lockXml = body.replace(/ xmlns="[^"]*"/, '')
          return reply(200)
        }
        return this.lockXml ? reply(200, this.lockXml) : err(404, 'ObjectLockConfigurationNotFoundError')
      }
      return err(501, 'NotImplemented')
    })
  })
}

describe('s3 confirmations at a terminal (built CLI in a pty)', function () {
  this.timeout(120_000)
  const s3 = new TinyS3()
  let dir: string
  let endpoint: string
  before(async function () {
    if (!fs.existsSync(path.join(ROOT, 'dist', 'commands', 's3', 'lifecycle', 'apply.js'))) throw new Error('run `npm run build` first')
    dir = tempDir()
    await new Promise<void>((resolve) => s3.server.listen(0, '127.0.0.1', resolve))
    endpoint = `http://127.0.0.1:${(s3.server.address() as AddressInfo).port}`
  })
  after(() => {
    s3.server.close()
    fs.rmSync(dir, {recursive: true, force: true})
  })
  beforeEach(() => {
    s3.lifecycle = ''
    s3.lockXml = ''
    s3.writes = []
  })

  async function inPty(args: string[], steps: Array<{expect: string; send: string}>): Promise<{code: number; transcript: string}> {
    const spec = path.join(dir, 'spec.json')
    fs.writeFileSync(
      spec,
      JSON.stringify({
        argv: [process.execPath, path.join(ROOT, 'bin', 'run.js'), ...args],
        env: {
          XDG_CONFIG_HOME: path.join(dir, 'config'),
          AWS_ENDPOINT_URL_S3: endpoint,
          AWS_REGION: 'eu-west-1',
          AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
          AWS_SECRET_ACCESS_KEY: 'example-secret',
          AWS_PROFILE: '',
          AWS_EC2_METADATA_DISABLED: 'true',
          NODE_NO_WARNINGS: '1',
        },
        timeout: 60,
        steps,
      }),
    )
    // async: this process serves the S3 endpoint while the CLI runs
    return new Promise((resolve) => {
      execFile('python3', [path.join(ROOT, 'test', 'helpers', 'pty-driver.py'), spec], {encoding: 'utf8'}, (error, stdout) => {
        resolve({code: error ? Number((error as {code?: number}).code ?? 1) : 0, transcript: stdout})
      })
    })
  }

  it('lifecycle apply asks after showing the plan: "n" writes nothing (exit 1), "y" writes and verifies', async () => {
    const args = ['s3', 'lifecycle', 'apply', '--bucket', 'my-backups', '--preset', 'backup-repo', '--prefix', 'repo']
    const no = await inPty(args, [{expect: 'Apply these lifecycle changes to bucket my-backups?', send: 'n\r'}])
    expect(no.code, no.transcript).to.equal(1)
    expect(no.transcript).to.contain('+ add')
    expect(no.transcript).to.contain('not confirmed; nothing was changed')
    expect(s3.writes).to.deep.equal([])

    const yes = await inPty(args, [{expect: 'Apply these lifecycle changes to bucket my-backups?', send: 'y\r'}])
    expect(yes.code, yes.transcript).to.equal(0)
    expect(yes.transcript).to.contain('applied to my-backups and verified')
    expect(s3.writes).to.have.length(1)
    expect(s3.writes[0]).to.match(/^PUT \/my-backups\/?\?lifecycle/)
    expect(s3.lifecycle).to.contain('<And><Prefix>repo/data/</Prefix><Tag><Key>lifeboat-pack</Key><Value>data</Value></Tag></And>')
  })

  it('object-lock COMPLIANCE at a terminal asks for the bucket name even with --yes; a wrong name writes nothing', async () => {
    const args = ['s3', 'object-lock', 'set', '--bucket', 'my-backups', '--mode', 'COMPLIANCE', '--days', '7', '--yes']
    const wrong = await inPty(args, [{expect: 'to confirm:', send: 'my-backup\r'}])
    expect(wrong.code, wrong.transcript).to.equal(2)
    expect(wrong.transcript).to.contain('IRREVERSIBLE: COMPLIANCE mode')
    expect(s3.writes).to.deep.equal([])
    const right = await inPty(args, [{expect: 'to confirm:', send: 'my-backups\r'}])
    expect(right.code, right.transcript).to.equal(0)
    expect(s3.lockXml).to.contain('<DefaultRetention><Mode>COMPLIANCE</Mode><Days>7</Days></DefaultRetention>')
  })
})
