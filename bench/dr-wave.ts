/**
 * Concurrency of a DR wave: N steps whose AWS calls answer after different delays run in one wave; the
 * wave should take about as long as its slowest step (target ≤ 1.2×), not the sum.
 *
 *   npx tsx bench/dr-wave.ts [--steps 8] [--slowest-ms 1000] [--trials 5]
 *
 * Each step is the real ami.copy step against an aws-sdk-client-mock EC2 whose CopyImage and
 * DescribeImages answer after a delay (step i: slowest × (i+1)/N per call), plus one real http.check against
 * a local server that answers after the same kind of delay. Prints wave time, slowest step, sum and ratio.
 */
import {CopyImageCommand, DescribeImagesCommand, EC2Client} from '@aws-sdk/client-ec2'
import {mockClient} from 'aws-sdk-client-mock'
import fs from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'

import {parsePlaybook} from '../src/dr/playbook.js'
import {startRun} from '../src/dr/runner.js'
import {steps} from '../src/dr/steps/index.js'
import {option} from './lib.js'

const args = process.argv.slice(2)
const N = Number(option(args, '--steps', '8'))
const SLOWEST = Number(option(args, '--slowest-ms', '1000'))
const TRIALS = Number(option(args, '--trials', '5'))
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

process.env.AWS_ACCESS_KEY_ID ??= 'AKIAIOSFODNN7EXAMPLE'
process.env.AWS_SECRET_ACCESS_KEY ??= 'bench'

// Each image id carries its delay; a CopyImage call and the first DescribeImages both wait that long.
const ec2 = mockClient(EC2Client)
ec2.on(CopyImageCommand).callsFake(async (input: {SourceImageId: string}) => {
  const ms = Number(input.SourceImageId.split('-').at(-1)) % 100_000
  await sleep(ms / 2)
  return {ImageId: `ami-${(ms + 0x1000).toString(16).padStart(17, '0')}`}
})
ec2.on(DescribeImagesCommand).callsFake(async (input: {ImageIds?: string[]}) => {
  const id = input.ImageIds?.[0] ?? 'ami-0'
  const ms = Number.parseInt(id.slice(4), 16) - 0x1000
  await sleep(Math.max(0, ms / 2))
  return {Images: [{ImageId: id, State: 'available', Name: 'bench', Tags: []}]}
})

const server = http.createServer(async (req, res) => {
  await sleep(Number(new URL(req.url ?? '/', 'http://x').searchParams.get('ms')))
  res.end('ok')
})
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
const port = (server.address() as {port: number}).port

const delays = Array.from({length: N}, (_, i) => Math.round((SLOWEST * (i + 1)) / N))
const body = [
  'name: bench',
  'strategy: pilot-light',
  'regions: { primary: us-east-1, dr: us-west-2 }',
  'targets: { rto: 30m, rpo: 1h }',
  'waves:',
  '  - name: wave',
  '    steps:',
  ...delays.map((ms, i) => `      - { id: copy${i}, type: ami.copy, params: { sourceImageId: ami-${String(ms).padStart(17, '0')}, sourceRegion: us-east-1, name: bench${i} } }`),
  `      - { id: http, type: http.check, params: { url: "http://127.0.0.1:${port}/?ms=${SLOWEST}", retries: 0 } }`,
].join('\n')
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'dr-wave-'))
const loaded = parsePlaybook(body, 'bench.yaml', steps)

const ratios: number[] = []
for (let t = 0; t < TRIALS; t++) {
  const started = performance.now()
  const r = await startRun({loaded, mode: 'failover', runRoot: root, deps: {registry: steps}})
  const wall = performance.now() - started
  if (r.status !== 'succeeded') throw new Error(`run failed: ${JSON.stringify(r.error)}`)
  const durations = r.steps.map((s) => Date.parse(s.finishedAt!) - Date.parse(s.startedAt!))
  const slowest = Math.max(...durations)
  const sum = durations.reduce((a, b) => a + b, 0)
  ratios.push(wall / slowest)
  console.log(`trial ${t + 1}: ${N + 1} steps, wave ${wall.toFixed(0)} ms (incl. journal writes), slowest step ${slowest} ms, sum ${sum} ms, ratio ${(wall / slowest).toFixed(3)} (vs the slowest mock delay ${SLOWEST} ms: ${(wall / SLOWEST).toFixed(3)})`)
}
ratios.sort((a, b) => a - b)
console.log(`median ratio wave/slowest = ${ratios[Math.floor(ratios.length / 2)].toFixed(3)} (max ${ratios.at(-1)!.toFixed(3)}; target ≤ 1.2)`)
server.close()
ec2.restore()
fs.rmSync(root, {recursive: true, force: true})
