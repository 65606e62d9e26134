/**
 * Notification sinks: SNS (e-mail subscribers get the human-readable body), webhook (JSON POST, HMAC-SHA256
 * signature header when a secret is set, timeout, retries on 5xx and network errors) and command (argv, event
 * JSON on stdin, timeout). `notifyAll` never throws: a failing sink is returned as a failed delivery, so a
 * notifier can never fail the job it reports.
 */
import type {SNSClient} from '@aws-sdk/client-sns'
import {createHmac} from 'node:crypto'
import fs from 'node:fs/promises'

import type {AwsOptions} from '../aws/clients.js'
import type {SinkConfig} from '../config/schema.js'
import {errorMessage} from '../errors.js'
import {runTool} from '../exec/runner.js'
import {eventSubject, eventText, type JobEvent, type JobState} from './event.js'

export const SIGNATURE_HEADER = 'X-Lifeboat-Signature'

export interface Delivery {
  sink: string
  type: SinkConfig['type']
  /** false when the sink's `on:` filter left this event out. */
  sent: boolean
  ok: boolean
  attempts: number
  error?: string
  /** SNS MessageId, webhook HTTP status. */
  detail?: string
}

export interface NotifyOptions {
  env?: NodeJS.ProcessEnv
  /** AWS settings for SNS sinks without their own region/profile (config aws.*). */
  aws?: AwsOptions
  /** Tests inject a client; otherwise one per sink through makeAwsClient. */
  snsClient?: (sink: Extract<SinkConfig, {type: 'sns'}>) => SNSClient
  fetch?: typeof fetch
  sleep?: (ms: number) => Promise<void>
}

/** Which outcomes a sink receives (`on:`, older `events:`; default all). */
export function sinkWants(sink: SinkConfig, state: JobState): boolean {
  const on = sink.on ?? sink.events
  return on === undefined || on.includes(state)
}

/** Sends the event to every sink that wants it, in parallel. Never throws. */
export async function notifyAll(event: JobEvent, sinks: readonly SinkConfig[], opts: NotifyOptions = {}): Promise<Delivery[]> {
  return Promise.all(
    sinks.map(async (sink): Promise<Delivery> => {
      if (!sinkWants(sink, event.state) && !event.test) return {sink: sink.name, type: sink.type, sent: false, ok: true, attempts: 0}
      try {
        return await sendTo(sink, event, opts)
      } catch (error) {
        return {sink: sink.name, type: sink.type, sent: true, ok: false, attempts: 1, error: errorMessage(error)}
      }
    }),
  )
}

export async function sendTo(sink: SinkConfig, event: JobEvent, opts: NotifyOptions = {}): Promise<Delivery> {
  switch (sink.type) {
    case 'sns': {
      return sendSns(sink, event, opts)
    }
    case 'webhook': {
      return sendWebhook(sink, event, opts)
    }
    case 'command': {
      return sendCommand(sink, event)
    }
  }
}

async function sendSns(sink: Extract<SinkConfig, {type: 'sns'}>, event: JobEvent, opts: NotifyOptions): Promise<Delivery> {
  // The topic's region is in its ARN; an explicit `region:` wins, then the ARN, then config/SDK.
  const arnRegion = sink.topicArn.split(':')[3] || undefined
  // The SDK is loaded only when a notification goes to SNS: every job command imports this module.
  const {PublishCommand, SNSClient} = await import('@aws-sdk/client-sns')
  const {makeAwsClient} = await import('../aws/clients.js')
  const client =
    opts.snsClient?.(sink) ??
    makeAwsClient(SNSClient, {profile: sink.profile ?? opts.aws?.profile, region: sink.region ?? arnRegion ?? opts.aws?.region})
  const out = await client.send(new PublishCommand({TopicArn: sink.topicArn, Subject: eventSubject(event), Message: eventText(event)}))
  return {sink: sink.name, type: 'sns', sent: true, ok: true, attempts: 1, detail: out.MessageId}
}

/** The webhook's HMAC key: secretEnv (preferred), secretFile, secret; undefined when none is configured. */
export async function webhookSecret(sink: Extract<SinkConfig, {type: 'webhook'}>, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  if (sink.secretEnv) {
    const v = env[sink.secretEnv]
    if (!v) throw new Error(`the environment variable ${sink.secretEnv} (secretEnv of sink "${sink.name}") is not set; nothing was sent unsigned`)
    return v
  }
  if (sink.secretFile) return (await fs.readFile(sink.secretFile, 'utf8')).split('\n')[0]
  return sink.secret
}

/** `sha256=<hex HMAC-SHA256 of the exact body>` */
export function signBody(body: string | Buffer, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`
}

async function sendWebhook(sink: Extract<SinkConfig, {type: 'webhook'}>, event: JobEvent, opts: NotifyOptions): Promise<Delivery> {
  const doFetch = opts.fetch ?? fetch
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)))
  const body = JSON.stringify(event)
  const headers: Record<string, string> = {
    'Content-Type': 'application/json',
    'User-Agent': 'lifeboat',
    'X-Lifeboat-Event': event.state,
  }
  const secret = await webhookSecret(sink, opts.env)
  if (secret) headers[SIGNATURE_HEADER] = signBody(body, secret)
  const timeoutMs = (sink.timeoutSeconds ?? 10) * 1000
  const retries = sink.retries ?? 2
  let lastError = ''
  let attempts = 0
  for (let attempt = 0; attempt <= retries; attempt++) {
    attempts++
    if (attempt > 0) await sleep(500 * 2 ** (attempt - 1))
    try {
      const res = await doFetch(sink.url, {method: 'POST', headers, body, signal: AbortSignal.timeout(timeoutMs), redirect: 'error'})
      await res.arrayBuffer().catch(() => undefined)
      if (res.ok) return {sink: sink.name, type: 'webhook', sent: true, ok: true, attempts, detail: `HTTP ${res.status}`}
      lastError = `HTTP ${res.status} ${res.statusText}`.trim()
      if (res.status < 500 && res.status !== 429) break // a client error will not change by retrying
    } catch (error) {
      const e = error as Error & {cause?: {code?: string}}
      lastError = e.name === 'TimeoutError' ? `no answer within ${timeoutMs / 1000} s` : `${e.message}${e.cause?.code ? ` (${e.cause.code})` : ''}`
    }
  }
  return {sink: sink.name, type: 'webhook', sent: true, ok: false, attempts, error: `POST ${redactUrl(sink.url)}: ${lastError}`}
}

async function sendCommand(sink: Extract<SinkConfig, {type: 'command'}>, event: JobEvent): Promise<Delivery> {
  const [cmd, ...args] = sink.command
  const r = await runTool(cmd, args, {input: JSON.stringify(event) + '\n', timeoutMs: (sink.timeoutSeconds ?? 60) * 1000})
  return {sink: sink.name, type: 'command', sent: true, ok: true, attempts: 1, detail: `exit ${r.code}`}
}

/** A URL without credentials, query or fragment (webhook URLs often carry tokens). */
export function redactUrl(u: string): string {
  try {
    const url = new URL(u)
    return `${url.protocol}//${url.host}${url.pathname.length > 24 ? url.pathname.slice(0, 24) + '…' : url.pathname}`
  } catch {
    return '(invalid URL)'
  }
}
