/**
 * A repository in an S3 bucket (AWS or any S3-compatible server), restic's layout under a prefix:
 * config, keys/<id>, data/<id[0:2]>/<id>, index/<id>, snapshots/<id>, locks/<id>.
 *
 * - Every request is retried here (the SDK's own retries are off, so a streamed body is re-opened for each
 *   attempt): 5xx, 429/SlowDown/throttling, timeouts and connection resets, with exponential backoff and full
 *   jitter. Writes are idempotent: names are content hashes, so an upload repeated after an unclear failure
 *   stores the same bytes.
 * - Integrity: every upload carries Content-MD5 (the server rejects a body that arrived damaged); reads are
 *   checked for their length here and for their content by the repository (MACs, SHA-256 names).
 * - Packs are tagged `lifeboat-pack=data|tree`, so a lifecycle rule can move only data packs to cold storage
 *   (`lifeboat s3 lifecycle --preset backup-repo`); config, keys, index, snapshots, locks and tree packs stay
 *   readable, so snapshots/ls/check never need a cold object.
 * - Large files go up in multipart uploads streamed from disk; packs staged by the backup workers are
 *   uploaded from their temporary file, never held in memory twice.
 */
import {createHash} from 'node:crypto'
import fs from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import tls from 'node:tls'

import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  GetObjectLockConfigurationCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type ServerSideEncryption,
  type StorageClass,
  UploadPartCommand,
} from '@aws-sdk/client-s3'
import {fromIni, fromNodeProviderChain} from '@aws-sdk/credential-providers'
import {NodeHttpHandler} from '@smithy/node-http-handler'

import {LifeboatError, UsageError} from '../../errors.js'
import {NotFoundError, RepositoryExistsError} from '../errors.js'
import {requireReadable} from '../../s3/cold.js'
import type {Backend, BlobType, ColdReadOptions, FileHandle, FileInfo, FileType} from '../types.js'

const DIRS: Record<Exclude<FileType, 'config'>, string> = {key: 'keys', pack: 'data', index: 'index', snapshot: 'snapshots', lock: 'locks'}
const NAME_RE = /^[0-9a-f]{64}$/
export const PACK_TAG_KEY = 'lifeboat-pack'
export const COLD_CLASSES = new Set(['GLACIER', 'DEEP_ARCHIVE'])

export interface S3Options {
  /** --region, config aws.region; else the SDK chain (AWS_REGION, the profile), else us-east-1. */
  region?: string
  profile?: string
  /** Path-style requests (https://host/bucket/key); default on for s3:https://HOST locations that are not AWS. */
  pathStyle?: boolean
  /** Parallel connections (default 5, like restic). */
  connections?: number
  /** Storage class for data packs (tree packs and metadata always STANDARD). */
  storageClass?: string
  sse?: 'aws:kms' | 'AES256'
  kmsKeyId?: string
  /** Extra CA certificate (PEM file) to trust, for servers with a private CA. NODE_EXTRA_CA_CERTS works too. */
  cacert?: string
  /** Retry tuning (tests shorten it; env LIFEBOAT_S3_RETRY_BASE_MS / LIFEBOAT_S3_MAX_ATTEMPTS). */
  maxAttempts?: number
  retryBaseMs?: number
  /** Files larger than this go up in parts of `partSize` (default 64 MiB / 16 MiB). */
  multipartThreshold?: number
  partSize?: number
  /** Abort one request after this long without progress (default 120 s). */
  requestTimeoutMs?: number
}

export interface S3Location {
  bucket: string
  prefix: string
  /** Explicit endpoint from an `s3:https://HOST/...` location; undefined for `s3://BUCKET` (AWS, or the SDK's AWS_ENDPOINT_URL_S3). */
  endpoint?: string
}

/** Parses `s3:https://HOST/BUCKET/PREFIX`, `s3:HOST/BUCKET/PREFIX` (https) and `s3://BUCKET/PREFIX`. */
export function parseS3Location(location: string): S3Location {
  const bad = (why: string) =>
    new UsageError(`invalid S3 repository location ${location}: ${why}`, {
      code: 'BAD_LOCATION',
      hint: 'use s3:https://HOST/BUCKET/PREFIX (any S3-compatible server) or s3://BUCKET/PREFIX (AWS)',
    })
  let endpoint: string | undefined
  let rest: string
  if (location.startsWith('s3://')) {
    rest = location.slice('s3://'.length)
  } else if (location.startsWith('s3:')) {
    let u = location.slice('s3:'.length)
    if (!/^https?:\/\//.test(u)) u = `https://${u}`
    let url: URL
    try {
      url = new URL(u)
    } catch {
      throw bad('not a URL')
    }
    endpoint = `${url.protocol}//${url.host}`
    rest = decodeURIComponent(url.pathname.replace(/^\/+/, ''))
    if (/^s3[.-]([a-z0-9-]+\.)?amazonaws\.com$/.test(url.hostname) && url.hostname === 's3.amazonaws.com') endpoint = undefined
  } else {
    throw bad('it must start with s3: or s3://')
  }
  const parts = rest.split('/').filter((p) => p !== '')
  const bucket = parts.shift()
  if (!bucket) throw bad('no bucket name')
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) throw bad(`"${bucket}" is not a valid bucket name`)
  return {bucket, prefix: parts.join('/'), endpoint}
}

/** Whether an error is worth another attempt: server-side, throttling, timeouts, dropped connections. */
export function isRetryable(e: unknown): boolean {
  if (!e || typeof e !== 'object') return false
  const err = e as {name?: string; code?: string; $metadata?: {httpStatusCode?: number}; $retryable?: unknown; message?: string}
  const status = err.$metadata?.httpStatusCode
  if (status !== undefined && (status >= 500 || status === 429 || status === 408)) return true
  if (err.$retryable) return true
  const names = ['SlowDown', 'Throttling', 'ThrottlingException', 'RequestTimeout', 'RequestTimeTooSkewed', 'InternalError', 'ServiceUnavailable', 'TimeoutError', 'ShortRead', 'RequestTimeoutException']
  if (err.name && names.includes(err.name)) return true
  const codes = ['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNREFUSED', 'EAI_AGAIN', 'ECONNABORTED', 'EHOSTUNREACH', 'ENETUNREACH', 'ERR_STREAM_PREMATURE_CLOSE', 'UND_ERR_SOCKET']
  if (err.code && codes.includes(err.code)) return true
  return /socket hang up|aborted|premature close|ECONNRESET|timed? ?out/i.test(err.message ?? '')
}

function statusOf(e: unknown): number | undefined {
  return (e as {$metadata?: {httpStatusCode?: number}})?.$metadata?.httpStatusCode
}

function isNotFound(e: unknown): boolean {
  const name = (e as {name?: string})?.name
  return name === 'NoSuchKey' || name === 'NotFound' || statusOf(e) === 404
}

function md5(data: Uint8Array): string {
  return createHash('md5').update(data).digest('base64')
}

async function md5OfFileRange(file: string, start: number, length: number): Promise<string> {
  const h = createHash('md5')
  if (length === 0) return h.digest('base64')
  for await (const chunk of fs.createReadStream(file, {start, end: start + length - 1, highWaterMark: 1024 * 1024})) h.update(chunk as Buffer)
  return h.digest('base64')
}

async function bodyToBuffer(body: unknown, expected: number | undefined): Promise<Buffer> {
  const chunks: Buffer[] = []
  let n = 0
  for await (const c of body as AsyncIterable<Uint8Array>) {
    const b = Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength)
    chunks.push(b)
    n += b.length
  }
  if (expected !== undefined && n !== expected) {
    throw Object.assign(new Error(`short read: got ${n} of ${expected} bytes`), {name: 'ShortRead'})
  }
  // The result owns its whole ArrayBuffer (never a slice of Node's shared pool), so callers may transfer it
  // to a worker thread.
  const only = chunks.length === 1 ? chunks[0] : undefined
  if (only && only.byteOffset === 0 && only.byteLength === only.buffer.byteLength) return only
  const out = Buffer.allocUnsafeSlow(n)
  let off = 0
  for (const c of chunks) off += c.copy(out, off)
  return out
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

export interface SaveOptions {
  /** For packs: which blobs it holds (tags the object, picks the storage class). */
  packType?: BlobType
}

export class S3Backend implements Backend {
  readonly location: string
  readonly bucket: string
  readonly prefix: string
  readonly client: S3Client
  private readonly o: Required<Pick<S3Options, 'maxAttempts' | 'retryBaseMs' | 'multipartThreshold' | 'partSize' | 'connections'>> & S3Options
  private lockConfig: Promise<{mode?: string; days?: number; years?: number} | undefined> | undefined

  constructor(location: string, opts: S3Options = {}, env: NodeJS.ProcessEnv = process.env) {
    const loc = parseS3Location(location)
    this.location = location
    this.bucket = loc.bucket
    this.prefix = loc.prefix
    this.o = {
      ...opts,
      connections: opts.connections ?? 5,
      maxAttempts: opts.maxAttempts ?? (Number(env.LIFEBOAT_S3_MAX_ATTEMPTS) || 8),
      retryBaseMs: opts.retryBaseMs ?? (Number(env.LIFEBOAT_S3_RETRY_BASE_MS) || 250),
      multipartThreshold: opts.multipartThreshold ?? 64 * 1024 * 1024,
      partSize: opts.partSize ?? 16 * 1024 * 1024,
    }
    if (this.o.partSize < 5 * 1024 * 1024 && !opts.partSize) this.o.partSize = 5 * 1024 * 1024
    let ca: Array<string | Buffer> | undefined
    if (opts.cacert) {
      try {
        ca = [...tls.rootCertificates, fs.readFileSync(opts.cacert)]
      } catch (error) {
        throw new UsageError(`cannot read the CA certificate ${opts.cacert}: ${(error as Error).message}`, {where: opts.cacert})
      }
    }
    const agentOpts = {keepAlive: true, maxSockets: this.o.connections}
    const pathStyle = opts.pathStyle ?? (loc.endpoint !== undefined && !/amazonaws\.com/.test(loc.endpoint))
    this.client = new S3Client({
      region: opts.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? (loc.endpoint ? 'us-east-1' : undefined),
      credentials: opts.profile ? fromIni({profile: opts.profile}) : fromNodeProviderChain(),
      ...(loc.endpoint ? {endpoint: loc.endpoint} : {}),
      forcePathStyle: pathStyle,
      followRegionRedirects: true,
      maxAttempts: 1,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: new NodeHttpHandler({
        httpAgent: new http.Agent(agentOpts),
        httpsAgent: new https.Agent({...agentOpts, ...(ca ? {ca} : {})}),
        connectionTimeout: 15_000,
        requestTimeout: opts.requestTimeoutMs ?? 120_000,
      }),
    })
  }

  key(h: FileHandle): string {
    let rel: string
    if (h.type === 'config') rel = 'config'
    else {
      if (!NAME_RE.test(h.name)) throw new Error(`invalid ${h.type} file name ${JSON.stringify(h.name)}`)
      rel = h.type === 'pack' ? `data/${h.name.slice(0, 2)}/${h.name}` : `${DIRS[h.type]}/${h.name}`
    }
    return this.prefix ? `${this.prefix}/${rel}` : rel
  }

  private describe(h: FileHandle): string {
    return h.type === 'config' ? 'config' : `${h.type} ${h.name}`
  }

  /** Runs one request with retries; turns the final failure into a clear error naming the object. */
  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn()
      } catch (error) {
        if (isNotFound(error) || !isRetryable(error) || attempt >= this.o.maxAttempts) throw this.wrap(what, error, attempt)
        const cap = Math.min(30_000, this.o.retryBaseMs * 2 ** (attempt - 1))
        await sleep(cap / 2 + Math.random() * (cap / 2))
      }
    }
  }

  private wrap(what: string, error: unknown, attempts: number): unknown {
    if (isNotFound(error) || error instanceof LifeboatError) return error
    const e = error as {name?: string; message?: string; code?: string}
    const status = statusOf(error)
    const detail = [e.name && e.name !== 'Error' ? e.name : e.code, status ? `HTTP ${status}` : undefined].filter(Boolean).join(', ')
    const hints: Record<string, string> = {
      AccessDenied: 'check the credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID…) and the bucket policy (`lifeboat iam policy --features backup-s3`)',
      InvalidAccessKeyId: 'check AWS_ACCESS_KEY_ID / the profile',
      SignatureDoesNotMatch: 'check AWS_SECRET_ACCESS_KEY / the profile',
      NoSuchBucket: `create the bucket, or check the location ${this.location}`,
      InvalidObjectState: 'the object is in cold storage (Glacier / Deep Archive): restore it first (restore and check do this with --cold-tier/--wait)',
    }
    return new LifeboatError(`S3 ${what} failed${attempts > 1 ? ` after ${attempts} attempts` : ''}: ${e.message ?? String(error)}${detail ? ` (${detail})` : ''}`, {
      code: 'S3_ERROR',
      where: `s3://${this.bucket}/${this.prefix}`,
      hint: hints[e.name ?? ''] ?? 'check the network and the S3 endpoint; the repository is unchanged by a failed upload (run the command again)',
      cause: error,
    })
  }

  async create(): Promise<void> {
    try {
      await this.call(`HeadBucket ${this.bucket}`, () => this.client.send(new HeadBucketCommand({Bucket: this.bucket})))
    } catch (error) {
      if (!isNotFound(error)) throw error
      await this.call(`CreateBucket ${this.bucket}`, () => this.client.send(new CreateBucketCommand({Bucket: this.bucket})))
    }
    if (await this.exists({type: 'config', name: 'config'})) throw new RepositoryExistsError(this.location)
  }

  async exists(h: FileHandle): Promise<boolean> {
    try {
      await this.stat(h)
      return true
    } catch (error) {
      if (error instanceof NotFoundError) return false
      throw error
    }
  }

  private putParams(h: FileHandle, opts: SaveOptions) {
    const isData = h.type === 'pack' && opts.packType !== 'tree'
    return {
      Bucket: this.bucket,
      Key: this.key(h),
      ContentType: 'application/octet-stream',
      ...(h.type === 'pack' ? {Tagging: `${PACK_TAG_KEY}=${opts.packType ?? 'data'}`} : {}),
      ...(isData && this.o.storageClass ? {StorageClass: this.o.storageClass as StorageClass} : {}),
      ...(this.o.sse ? {ServerSideEncryption: this.o.sse as ServerSideEncryption} : {}),
      ...(this.o.sse === 'aws:kms' && this.o.kmsKeyId ? {SSEKMSKeyId: this.o.kmsKeyId} : {}),
    }
  }

  async save(h: FileHandle, data: Uint8Array, opts: SaveOptions = {}): Promise<void> {
    const body = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength)
    const ContentMD5 = md5(body)
    await this.call(`upload of ${this.describe(h)}`, () =>
      this.client.send(new PutObjectCommand({...this.putParams(h, opts), Body: body, ContentLength: body.length, ContentMD5})),
    )
  }

  /** Uploads a file from disk (a pack staged by a backup worker), streamed; multipart when large. */
  async saveFile(h: FileHandle, file: string, size: number, opts: SaveOptions & {md5?: string} = {}): Promise<void> {
    if (size > this.o.multipartThreshold) return this.saveMultipart(h, file, size, opts)
    const ContentMD5 = opts.md5 ?? (await md5OfFileRange(file, 0, size))
    await this.call(`upload of ${this.describe(h)}`, () =>
      this.client.send(
        new PutObjectCommand({...this.putParams(h, opts), Body: fs.createReadStream(file, {highWaterMark: 1024 * 1024}), ContentLength: size, ContentMD5}),
      ),
    )
  }

  private async saveMultipart(h: FileHandle, file: string, size: number, opts: SaveOptions): Promise<void> {
    const what = `multipart upload of ${this.describe(h)}`
    const {Tagging, ...params} = this.putParams(h, opts)
    const created = await this.call(what, () => this.client.send(new CreateMultipartUploadCommand({...params, ...(Tagging ? {Tagging} : {})})))
    const UploadId = created.UploadId!
    try {
      const parts: Array<{ETag: string; PartNumber: number}> = []
      const count = Math.ceil(size / this.o.partSize)
      let next = 0
      const worker = async () => {
        while (next < count) {
          const i = next++
          const start = i * this.o.partSize
          const len = Math.min(this.o.partSize, size - start)
          const ContentMD5 = await md5OfFileRange(file, start, len)
          const r = await this.call(`${what}, part ${i + 1}/${count}`, () =>
            this.client.send(
              new UploadPartCommand({
                Bucket: this.bucket,
                Key: params.Key,
                UploadId,
                PartNumber: i + 1,
                Body: fs.createReadStream(file, {start, end: start + len - 1, highWaterMark: 1024 * 1024}),
                ContentLength: len,
                ContentMD5,
              }),
            ),
          )
          parts[i] = {ETag: r.ETag!, PartNumber: i + 1}
        }
      }
      await Promise.all(Array.from({length: Math.min(count, Math.max(1, Math.floor(this.o.connections / 2)))}, worker))
      await this.call(what, () =>
        this.client.send(new CompleteMultipartUploadCommand({Bucket: this.bucket, Key: params.Key, UploadId, MultipartUpload: {Parts: parts}})),
      )
    } catch (error) {
      await this.client.send(new AbortMultipartUploadCommand({Bucket: this.bucket, Key: params.Key, UploadId})).catch(() => {})
      throw error
    }
  }

  async load(h: FileHandle, offset?: number, length?: number): Promise<Buffer> {
    const ranged = offset !== undefined || length !== undefined
    let range: string | undefined
    let expected: number | undefined
    if (ranged) {
      const start = offset ?? 0
      const len = length ?? (await this.stat(h)).size - start
      if (len < 0) throw new RangeError(`read past the end of ${this.describe(h)}`)
      if (len === 0) return Buffer.alloc(0)
      // Always an explicit first-last range: some servers get suffix ranges wrong.
      range = `bytes=${start}-${start + len - 1}`
      expected = len
    }
    try {
      return await this.call(`download of ${this.describe(h)}`, async () => {
        const r = await this.client.send(new GetObjectCommand({Bucket: this.bucket, Key: this.key(h), Range: range}))
        return bodyToBuffer(r.Body, expected ?? r.ContentLength)
      })
    } catch (error) {
      if (isNotFound(error)) throw new NotFoundError(this.describe(h), this.location)
      throw error
    }
  }

  async stat(h: FileHandle): Promise<FileInfo> {
    try {
      const r = await this.call(`stat of ${this.describe(h)}`, () => this.client.send(new HeadObjectCommand({Bucket: this.bucket, Key: this.key(h)})))
      return {name: h.name, size: r.ContentLength ?? 0}
    } catch (error) {
      if (isNotFound(error)) throw new NotFoundError(this.describe(h), this.location)
      throw error
    }
  }

  /** Lists a kind of file, with each object's storage class (packs may be in cold storage). */
  async list(type: FileType): Promise<Array<FileInfo & {storageClass?: string}>> {
    if (type === 'config') {
      try {
        return [await this.stat({type, name: 'config'})]
      } catch (error) {
        if (error instanceof NotFoundError) return []
        throw error
      }
    }
    const base = `${this.prefix ? `${this.prefix}/` : ''}${DIRS[type]}/`
    const out: Array<FileInfo & {storageClass?: string}> = []
    let token: string | undefined
    do {
      const page = await this.call(`listing of ${DIRS[type]}/`, () =>
        this.client.send(new ListObjectsV2Command({Bucket: this.bucket, Prefix: base, ContinuationToken: token, MaxKeys: 1000})),
      )
      for (const o of page.Contents ?? []) {
        const name = o.Key!.slice(o.Key!.lastIndexOf('/') + 1)
        if (!NAME_RE.test(name)) continue
        if (type === 'pack' && o.Key !== `${base}${name.slice(0, 2)}/${name}`) continue
        if (type !== 'pack' && o.Key !== `${base}${name}`) continue
        out.push({name, size: o.Size ?? 0, ...(o.StorageClass ? {storageClass: o.StorageClass} : {})})
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined
    } while (token)
    return out
  }

  async remove(h: FileHandle): Promise<void> {
    if (!(await this.exists(h))) throw new NotFoundError(this.describe(h), this.location)
    await this.call(`removal of ${this.describe(h)}`, () => this.client.send(new DeleteObjectCommand({Bucket: this.bucket, Key: this.key(h)})))
  }

  /**
   * Packs in an archive storage class (from the listing, one request per 1000 objects) are checked and, when
   * needed, restored through RestoreObject; the rest are readable as they are.
   */
  async prepareRead(packIds: string[], opts: ColdReadOptions): Promise<string[]> {
    const want = new Set(packIds)
    const cold = (await this.list('pack')).filter((f) => want.has(f.name) && f.storageClass && (COLD_CLASSES.has(f.storageClass) || f.storageClass === 'INTELLIGENT_TIERING'))
    if (cold.length === 0) return []
    const r = await requireReadable(
      this.client,
      this.bucket,
      cold.map((f) => this.key({type: 'pack', name: f.name})),
      {
        tier: opts.tier,
        wait: opts.wait,
        argv: opts.argv,
        onProgress: opts.onProgress,
        // Tests shorten the poll interval; by default it depends on the tier (minutes to hours).
        ...(Number(process.env.LIFEBOAT_S3_COLD_POLL_MS) > 0 ? {pollMs: Number(process.env.LIFEBOAT_S3_COLD_POLL_MS)} : {}),
      },
    )
    return r.notes
  }

  /** The bucket's default object-lock retention, if it has one. */
  objectLockDefault(): Promise<{mode?: string; days?: number; years?: number} | undefined> {
    this.lockConfig ??= this.call('reading the object-lock configuration', () =>
      this.client.send(new GetObjectLockConfigurationCommand({Bucket: this.bucket})),
    ).then(
      (r) => {
        const c = r.ObjectLockConfiguration
        if (c?.ObjectLockEnabled !== 'Enabled') return undefined
        const d = c.Rule?.DefaultRetention
        return {mode: d?.Mode, days: d?.Days, years: d?.Years}
      },
      (error) => {
        const name = (error as {cause?: {name?: string}; name?: string})?.cause?.name ?? (error as {name?: string}).name
        if (name === 'ObjectLockConfigurationNotFoundError' || statusOf((error as {cause?: unknown}).cause ?? error) === 404) return undefined
        // Servers without object lock answer 501/400: no lock.
        const st = statusOf((error as {cause?: unknown}).cause ?? error)
        if (st === 501 || st === 400 || st === 405) return undefined
        throw error
      },
    )
    return this.lockConfig
  }

  /** Objects (of those given) still under object-lock retention, with the date each is retained until. */
  async retained(handles: FileHandle[], now = new Date()): Promise<Array<{handle: FileHandle; until: Date; mode?: string}>> {
    if (!(await this.objectLockDefault())) return []
    const out: Array<{handle: FileHandle; until: Date; mode?: string}> = []
    let next = 0
    const worker = async () => {
      while (next < handles.length) {
        const h = handles[next++]
        try {
          const r = await this.call(`stat of ${this.describe(h)}`, () => this.client.send(new HeadObjectCommand({Bucket: this.bucket, Key: this.key(h)})))
          if (r.ObjectLockRetainUntilDate && r.ObjectLockRetainUntilDate > now) out.push({handle: h, until: r.ObjectLockRetainUntilDate, mode: r.ObjectLockMode})
          if (r.ObjectLockLegalHoldStatus === 'ON') out.push({handle: h, until: new Date(8.64e15), mode: 'LEGAL_HOLD'})
        } catch (error) {
          if (!isNotFound(error)) throw error
        }
      }
    }
    await Promise.all(Array.from({length: Math.min(handles.length, this.o.connections * 2)}, worker))
    return out
  }

  async close(): Promise<void> {
    this.client.destroy()
  }
}
