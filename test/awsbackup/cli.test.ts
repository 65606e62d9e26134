import {expect} from 'chai'
import {execFile} from 'node:child_process'
import fs from 'node:fs'
import http from 'node:http'
import type {AddressInfo} from 'node:net'
import path from 'node:path'

import {envelope, lifeboat} from '../helpers/cli.js'
import {ROOT, isolateEnv} from '../helpers/env.js'

/**
 * The built CLI against a local stand-in for the AWS Backup REST API (reached through the SDK's own
 * AWS_ENDPOINT_URL_BACKUP setting): real request signing, serialization and date parsing, and real terminals
 * for the typed confirmation. Needs `npm run build`.
 */
describe('aws-backup CLI (built, subprocess, local AWS Backup endpoint)', function () {
  this.timeout(120_000)
  let env: ReturnType<typeof isolateEnv>
  let server: http.Server
  let url = ''
  const requests: Array<{method: string; path: string; body: string}> = []
  let newestPointAgeSeconds = 1800

  before(async () => {
    env = isolateEnv()
    server = http.createServer((req, res) => {
      let body = ''
      req.on('data', (c) => (body += c))
      req.on('end', () => {
        const p = decodeURIComponent((req.url ?? '').split('?')[0])
        requests.push({method: req.method ?? '', path: p, body})
        const json = (status: number, obj: unknown, errorType?: string) => {
          res.writeHead(status, {'content-type': 'application/json', 'x-amzn-requestid': 'local-1', ...(errorType ? {'x-amzn-errortype': errorType} : {})})
          res.end(JSON.stringify(obj))
        }
        let m: RegExpExecArray | null
        if (req.method === 'GET' && (m = /^\/backup-vaults\/([^/]+)\/?$/.exec(p))) {
          if (m[1] !== 'shop-vault') return json(404, {Message: `Backup vault ${m[1]} not found`, Code: 'ResourceNotFoundException'}, 'ResourceNotFoundException')
          return json(200, {BackupVaultName: 'shop-vault', BackupVaultArn: 'arn:aws:backup:us-east-1:123456789012:backup-vault:shop-vault', NumberOfRecoveryPoints: 3, Locked: false, CreationDate: 1_700_000_000})
        }
        if (req.method === 'PUT' && /^\/backup-vaults\/shop-vault\/vault-lock\/?$/.test(p)) return json(200, {})
        if (req.method === 'GET' && /^\/resources\/.+\/recovery-points\/?$/.test(p)) {
          const now = Date.now() / 1000
          return json(200, {
            RecoveryPoints: [
              {RecoveryPointArn: 'arn:aws:backup:us-east-1:123456789012:recovery-point:NEWEST', BackupVaultName: 'shop-vault', Status: 'COMPLETED', CreationDate: now - newestPointAgeSeconds},
              {RecoveryPointArn: 'arn:aws:backup:us-east-1:123456789012:recovery-point:OLDER', BackupVaultName: 'shop-vault', Status: 'COMPLETED', CreationDate: now - 90_000},
            ],
          })
        }
        json(400, {message: `unexpected ${req.method} ${p}`}, 'InvalidRequestException')
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    if (!fs.existsSync(path.join(ROOT, 'dist', 'commands', 'aws-backup', 'vault', 'lock.js'))) throw new Error('run `npm run build` first')
  })
  after(async () => {
    await new Promise((resolve) => server.close(resolve))
    env.restore()
  })
  beforeEach(() => {
    requests.length = 0
  })

  const awsEnv = () => ({
    AWS_ENDPOINT_URL_BACKUP: url,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIDLOCALTEST',
    AWS_SECRET_ACCESS_KEY: 'local-test-secret',
    AWS_PROFILE: '',
    AWS_CONFIG_FILE: path.join(env.dir, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: path.join(env.dir, 'no-aws-credentials'),
    AWS_EC2_METADATA_DISABLED: 'true',
    NODE_NO_WARNINGS: '1',
  })

  function pty(argv: string[], steps: Array<{expect: string; send: string}>): Promise<{code: number; transcript: string}> {
    const spec = path.join(env.dir, `pty-${Date.now()}.json`)
    fs.writeFileSync(spec, JSON.stringify({argv: [process.execPath, path.join(ROOT, 'bin', 'run.js'), ...argv], env: awsEnv(), steps, timeout: 60}))
    return new Promise((resolve) => {
      execFile('python3', [path.join(ROOT, 'test', 'helpers', 'pty-driver.py'), spec], {encoding: 'utf8'}, (error, stdout) => {
        resolve({code: error ? ((error as {code?: number}).code ?? 1) : 0, transcript: stdout})
      })
    })
  }

  it('vault lock on a terminal: shows the lock, then locks only after the vault name is typed', async () => {
    const wrong = await pty(['aws-backup', 'vault', 'lock', 'shop-vault', '--min-retention-days', '7'], [{expect: 'confirm:', send: 'shop\r'}])
    expect(wrong.transcript).to.contain('recovery points cannot be deleted before they are 7 days old')
    expect(wrong.transcript).to.match(/Type "shop-vault" to\s+confirm:/)
    expect(wrong.transcript, wrong.transcript).to.contain("confirmation did not match")
    expect(wrong.code).to.equal(2)
    expect(requests.filter((r) => r.method === 'PUT')).to.have.length(0)

    const right = await pty(['aws-backup', 'vault', 'lock', 'shop-vault', '--min-retention-days', '7'], [{expect: 'confirm:', send: 'shop-vault\r'}])
    expect(right.code, right.transcript).to.equal(0)
    expect(right.transcript).to.contain('locked vault shop-vault (governance mode)')
    const put = requests.filter((r) => r.method === 'PUT')
    expect(put).to.have.length(1)
    expect(JSON.parse(put[0].body)).to.deep.equal({MinRetentionDays: 7})
  })

  it('points latest from a script: exit code is the RPO verdict; dates come from the wire format', async () => {
    const resource = 'arn:aws:rds:us-east-1:123456789012:db:shop'
    newestPointAgeSeconds = 1800
    const ok = await lifeboat(['aws-backup', 'points', 'latest', '--resource', resource, '--max-age', '1h', '--json'], awsEnv())
    expect(ok.code, ok.stderr).to.equal(0)
    const res = envelope(ok.stdout).result
    expect(res.arn).to.equal('arn:aws:backup:us-east-1:123456789012:recovery-point:NEWEST')
    expect(res.ageSeconds).to.be.within(1795, 1830)
    expect(requests[0].path).to.equal(`/resources/${resource}/recovery-points`)

    newestPointAgeSeconds = 7200
    const stale = await lifeboat(['aws-backup', 'points', 'latest', '--resource', resource, '--max-age', '1h'], awsEnv())
    expect(stale.code).to.equal(1)
    expect(stale.stdout).to.contain('TOO OLD')

    const missing = await lifeboat(['aws-backup', 'vault', 'describe', 'nope', '--json'], awsEnv())
    expect(missing.code).to.equal(1)
    expect(envelope(missing.stdout).error).to.include({code: 'AWS_NOT_FOUND'})
  })
})
