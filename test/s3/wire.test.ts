import {S3Client} from '@aws-sdk/client-s3'
import {expect} from 'chai'
import http from 'node:http'
import type {AddressInfo} from 'node:net'

import {ensureReadable} from '../../src/s3/cold.js'
import {applyLifecyclePlan, backupRepoPreset, planLifecycle, readLifecycle} from '../../src/s3/lifecycle.js'
import {readReplication} from '../../src/s3/replication.js'

/**
 * The same calls over real HTTP against a scripted S3 endpoint: what the SDK serializes from our inputs (XML
 * bodies, query strings, checksums) and how it parses S3's XML errors and headers into what our code reads.
 */
interface Seen {
  method: string
  url: string
  headers: http.IncomingHttpHeaders
  body: string
}
type Reply = {status: number; headers?: Record<string, string>; body?: string}

const xmlError = (code: string, message: string) =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><BucketName>my-backups</BucketName><RequestId>4442587FB7D0A2F9</RequestId><HostId>h</HostId></Error>`

describe('s3 bucket calls over HTTP (scripted endpoint)', () => {
  let server: http.Server
  let client: S3Client
  const seen: Seen[] = []
  let route: (s: Seen) => Reply
  before(async () => {
    server = http.createServer((req, res) => {
      let body = ''
      req.on('data', (c) => (body += c))
      req.on('end', () => {
        const s = {method: req.method!, url: req.url!, headers: req.headers, body}
        seen.push(s)
        const r = route(s)
        res.writeHead(r.status, {'content-type': 'application/xml', 'x-amz-request-id': 'R', ...r.headers})
        res.end(r.body ?? '')
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const port = (server.address() as AddressInfo).port
    client = new S3Client({
      region: 'eu-west-1',
      endpoint: `http://127.0.0.1:${port}`,
      forcePathStyle: true,
      credentials: {accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY'},
      maxAttempts: 1,
    })
  })
  after(() => {
    client.destroy()
    server.close()
  })
  beforeEach(() => (seen.length = 0))

  it('lifecycle: NoSuchLifecycleConfiguration (404 XML) reads as none; the preset PUT carries the And filter XML and a checksum', async () => {
    let stored = ''
    route = (s) => {
      if (s.method === 'GET' && !stored) return {status: 404, body: xmlError('NoSuchLifecycleConfiguration', 'The lifecycle configuration does not exist')}
      if (s.method === 'PUT') {
        stored = s.body
        return {status: 200, headers: {'x-amz-transition-default-minimum-object-size': 'all_storage_classes_128K'}}
      }
      // S3 answers GET with the stored rules (as LifecycleConfiguration).
      return {status: 200, body: stored.replace(/LifecycleConfiguration xmlns="[^"]*"/, 'LifecycleConfiguration')}
    }
    const cur = await readLifecycle(client, 'my-backups')
    expect(cur.configured).to.equal(false)
    const plan = planLifecycle(cur, backupRepoPreset({prefix: 'hosts/pi', coldAfterDays: 30, coldClass: 'GLACIER'}))
    const r = await applyLifecyclePlan(client, plan, {sleep: async () => {}})
    expect(r).to.deep.equal({written: 'put', verified: true, verifyReads: 1})
    const put = seen.find((s) => s.method === 'PUT')!
    expect(put.url).to.match(/^\/my-backups\/?\?lifecycle(=|&|$)/)
    expect(put.body).to.contain(
      '<Rule><Status>Enabled</Status><ID>lifeboat-cold-data hosts/pi</ID><Filter><And><Prefix>hosts/pi/data/</Prefix><Tag><Key>lifeboat-pack</Key><Value>data</Value></Tag></And></Filter><Transition><Days>30</Days><StorageClass>GLACIER</StorageClass></Transition></Rule>',
    )
    expect(put.body).to.contain('<AbortIncompleteMultipartUpload><DaysAfterInitiation>7</DaysAfterInitiation></AbortIncompleteMultipartUpload>')
    // S3 requires an integrity header on this call
    expect(Object.keys(put.headers).some((h) => h === 'content-md5' || h.startsWith('x-amz-checksum-'))).to.equal(true)
  })

  it('AccessDenied (403 XML) becomes an error naming the permission', async () => {
    route = () => ({status: 403, body: xmlError('AccessDenied', 'Access Denied')})
    try {
      await readLifecycle(client, 'my-backups')
      expect.fail('should throw')
    } catch (error: any) {
      expect(error.code).to.equal('S3_ACCESS_DENIED')
      expect(error.message).to.contain('AccessDenied (HTTP 403)')
      expect(error.hint).to.contain('s3:GetLifecycleConfiguration')
    }
  })

  it('a bucket in another region (301 PermanentRedirect) names the region to pass', async () => {
    route = () => ({
      status: 301,
      headers: {'x-amz-bucket-region': 'eu-central-1'},
      body: xmlError('PermanentRedirect', 'The bucket you are attempting to access must be addressed using the specified endpoint. Please send all future requests to this endpoint.'),
    })
    const error = await readReplication(client, 'my-backups').catch((error_) => error_)
    expect(error.code).to.equal('S3_WRONG_REGION')
    expect(error.hint).to.equal('pass --region eu-central-1')
  })

  it('replication: ReplicationConfigurationNotFoundError (404 XML) reads as none', async () => {
    route = () => ({status: 404, body: xmlError('ReplicationConfigurationNotFoundError', 'The replication configuration was not found')})
    expect(await readReplication(client, 'my-backups')).to.deep.equal({bucket: 'my-backups', configured: false, rules: []})
  })

  it('cold: storage class and x-amz-restore headers are read; RestoreObject POSTs the tier; 409 RestoreAlreadyInProgress is fine', async () => {
    route = (s) => {
      const key = decodeURIComponent(s.url.split('?')[0].replace('/my-backups/', ''))
      if (s.method === 'HEAD') {
        const h: Record<string, string> = {'content-length': '0', 'last-modified': 'Sun, 22 Nov 2026 04:00:00 GMT', etag: '"e"'}
        if (key !== 'r/data/aa/hot') h['x-amz-storage-class'] = key.includes('deep') ? 'DEEP_ARCHIVE' : 'GLACIER'
        if (key === 'r/data/aa/busy') h['x-amz-restore'] = 'ongoing-request="true"'
        if (key === 'r/data/aa/thawed') h['x-amz-restore'] = 'ongoing-request="false", expiry-date="Fri, 27 Nov 2026 00:00:00 GMT"'
        return {status: 200, headers: h}
      }
      if (key === 'r/data/aa/deep-raced') return {status: 409, body: xmlError('RestoreAlreadyInProgress', 'Object restore is already in progress')}
      return {status: 202}
    }
    const keys = ['r/data/aa/hot', 'r/data/aa/cold', 'r/data/aa/busy', 'r/data/aa/thawed', 'r/data/aa/deep-raced']
    const r = await ensureReadable(client, 'my-backups', keys, {tier: 'Bulk', wait: false, days: 3, concurrency: 1})
    expect(r.ready).to.deep.equal(['r/data/aa/hot', 'r/data/aa/thawed'])
    expect(r.pending).to.deep.equal(['r/data/aa/cold', 'r/data/aa/busy', 'r/data/aa/deep-raced'])
    expect(r.requested).to.deep.equal(['r/data/aa/cold'])
    const posts = seen.filter((s) => s.method === 'POST')
    expect(posts.map((p) => p.url.replace(/&x-id=RestoreObject/, ''))).to.deep.equal(['/my-backups/r/data/aa/cold?restore=', '/my-backups/r/data/aa/deep-raced?restore='])
    expect(posts[0].body).to.contain('<Days>3</Days><GlacierJobParameters><Tier>Bulk</Tier></GlacierJobParameters>')
  })
})
