import {type ChildProcess, spawn, spawnSync} from 'node:child_process'
import fs from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import path from 'node:path'
import {createInterface} from 'node:readline'

import {ROOT} from './env.js'

/** Credentials s3rver accepts. */
export const S3RVER_ENV = {AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1'}

export interface S3Server {
  port: number
  url: string
  dir: string
  stop(): Promise<void>
}

/** A self-signed certificate for 127.0.0.1 (restic talks to s3rver only over HTTPS). */
export function makeCert(dir: string): {cert: string; key: string} {
  const cert = path.join(dir, 'cert.pem')
  const key = path.join(dir, 'key.pem')
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], {encoding: 'utf8'})
  if (r.status !== 0) throw new Error(`openssl failed: ${r.stderr}`)
  return {cert, key}
}

/** Starts s3rver over the folder `dir` (plain HTTP, or HTTPS with a certificate). Buckets are folders of `dir`. */
export async function startS3rver(dir: string, tls?: {cert: string; key: string}): Promise<S3Server> {
  fs.mkdirSync(dir, {recursive: true})
  const child: ChildProcess = spawn(process.execPath, [path.join(ROOT, 'test/helpers/s3rver-main.cjs'), dir, ...(tls ? [tls.cert, tls.key] : [])], {
    env: {...process.env, NODE_OPTIONS: '--openssl-legacy-provider'},
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const line = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({input: child.stdout!})
    rl.once('line', resolve)
    child.once('exit', (code) => reject(new Error(`s3rver exited with ${code}`)))
  })
  const {port} = JSON.parse(line) as {port: number}
  return {
    port,
    dir,
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve()
        child.once('exit', () => resolve())
        child.kill('SIGTERM')
      }),
  }
}

export interface FaultPlan {
  /** Share of requests answered 500 InternalError. */
  error500?: number
  /** Share answered 503 SlowDown. */
  slowDown?: number
  /** Share whose connection is reset (before or in the middle of the response). */
  reset?: number
  /** Share delayed by `delayMs`. */
  slow?: number
  delayMs?: number
  /** Every request fails with 503 (a total outage). */
  outage?: boolean
  /** Headers to add to responses of matching requests (e.g. object-lock emulation). */
  extraHeaders?: (req: http.IncomingMessage) => Record<string, string> | undefined
  /** Rewrites the upstream response body of matching requests (e.g. storage classes in a listing). */
  rewrite?: (req: http.IncomingMessage) => ((body: string) => string) | undefined
  /** A full response for matching requests (e.g. GetObjectLockConfiguration). */
  respond?: (req: http.IncomingMessage) => {status: number; body: string; headers?: Record<string, string>} | undefined
}

export interface FaultProxy {
  port: number
  url: string
  plan: FaultPlan
  /** What was injected, and the x-amz-tagging header of each PUT by key. */
  injected: {error500: number; slowDown: number; reset: number; slow: number; outage: number}
  tagging: Map<string, string>
  requests: number
  stop(): Promise<void>
}

/**
 * An HTTP proxy in front of s3rver that injects faults at the given rates with a seeded generator, so a run
 * is repeatable. Requests go to the upstream unchanged (the SDK signs for the proxy's host; s3rver does not
 * check the host in signatures).
 */
export async function startFaultProxy(upstreamPort: number, plan: FaultPlan, seed = 42): Promise<FaultProxy> {
  let s = seed >>> 0
  const rnd = () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const sockets = new Set<net.Socket>()
  const state: FaultProxy = {
    port: 0,
    url: '',
    plan,
    injected: {error500: 0, slowDown: 0, reset: 0, slow: 0, outage: 0},
    tagging: new Map(),
    requests: 0,
    stop: async () => {
      for (const so of sockets) so.destroy()
      await new Promise<void>((r) => server.close(() => r()))
    },
  }
  const xmlError = (code: string, msg: string) => `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${msg}</Message></Error>`
  const server = http.createServer((req, res) => {
    state.requests++
    const p = state.plan
    const key = decodeURIComponent((req.url ?? '').split('?')[0])
    if (req.method === 'PUT' && req.headers['x-amz-tagging']) state.tagging.set(key, String(req.headers['x-amz-tagging']))
    const reply = (status: number, body: string, headers: Record<string, string> = {}) => {
      req.resume()
      res.writeHead(status, {'content-type': 'application/xml', ...headers})
      res.end(body)
    }
    if (p.outage) {
      state.injected.outage++
      return reply(503, xmlError('ServiceUnavailable', 'injected outage'))
    }
    const custom = p.respond?.(req)
    if (custom) return reply(custom.status, custom.body, custom.headers)
    const r = rnd()
    let acc = 0
    if (r < (acc += p.error500 ?? 0)) {
      state.injected.error500++
      return reply(500, xmlError('InternalError', 'injected'))
    }
    if (r < (acc += p.slowDown ?? 0)) {
      state.injected.slowDown++
      return reply(503, xmlError('SlowDown', 'Please reduce your request rate.'))
    }
    const reset = r < (acc += p.reset ?? 0)
    const slow = !reset && r < (acc += p.slow ?? 0)
    if (reset && rnd() < 0.5) {
      state.injected.reset++
      req.socket.destroy()
      return
    }
    const forward = () => {
      const up = http.request({host: '127.0.0.1', port: upstreamPort, method: req.method, path: req.url, headers: req.headers}, (ur) => {
        const extra = p.extraHeaders?.(req) ?? {}
        const rw = p.rewrite?.(req)
        if (rw) {
          const chunks: Buffer[] = []
          ur.on('data', (c: Buffer) => chunks.push(c))
          ur.on('end', () => {
            const body = Buffer.from(rw(Buffer.concat(chunks).toString('utf8')))
            res.writeHead(ur.statusCode ?? 502, {...ur.headers, ...extra, 'content-length': String(body.length)})
            res.end(body)
          })
          return
        }
        res.writeHead(ur.statusCode ?? 502, {...ur.headers, ...extra})
        if (reset) {
          // Cut the response in the middle of its body.
          state.injected.reset++
          let sent = 0
          ur.on('data', (c: Buffer) => {
            if (sent === 0) res.write(c.subarray(0, Math.floor(c.length / 2)))
            sent += c.length
            res.socket?.destroy()
            ur.destroy()
          })
          ur.on('end', () => res.socket?.destroy())
          return
        }
        ur.pipe(res)
      })
      up.on('error', () => res.socket?.destroy())
      req.pipe(up)
    }
    if (slow) {
      state.injected.slow++
      setTimeout(forward, p.delayMs ?? 300)
    } else forward()
  })
  server.on('connection', (so) => {
    sockets.add(so)
    so.on('close', () => sockets.delete(so))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  state.port = (server.address() as net.AddressInfo).port
  state.url = `http://127.0.0.1:${state.port}`
  return state
}
