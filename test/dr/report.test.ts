import {expect} from 'chai'
import {execFile} from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import {promisify} from 'node:util'
import {PNG} from 'pngjs'

import type {Journal} from '../../src/dr/journal.js'
import {buildReport, COLOURS, reportHtml} from '../../src/dr/report.js'
import {tempDir} from '../helpers/env.js'

const run = promisify(execFile)

/** A journal as a real run leaves it: 3 waves over 20 minutes, one failed step, one skipped. */
function journal(): Journal {
  const t = (min: number) => new Date(Date.UTC(2026, 0, 10, 12, min)).toISOString()
  const step = (id: string, type: string, wave: number, state: Journal['steps'][string]['state'], a?: number, b?: number, outputs?: Record<string, unknown>) => ({
    id,
    type,
    wave,
    state,
    attempts: a === undefined ? 0 : 1,
    startedAt: a === undefined ? undefined : t(a),
    finishedAt: b === undefined ? undefined : t(b),
    outputs,
    tokens: {},
    stepState: {},
    resources: [],
    reason: state === 'skipped' ? 'when: drill (this run is a failover)' : undefined,
    error: state === 'failed' ? {code: 'InvalidAMIID.NotFound', message: 'image gone'} : undefined,
  })
  return {
    version: 1,
    runId: '20260110T120000Z-shop-abc123',
    mode: 'failover',
    playbook: {name: 'shop-pilot-light', strategy: 'pilot-light', source: 'shop.yaml', sha256: 'x'},
    regions: {primary: 'us-east-1', dr: 'us-west-2'},
    effectiveRegions: {primary: 'us-east-1', dr: 'us-west-2'},
    targets: {rtoMs: 30 * 60_000, rpoMs: 3_600_000},
    aws: {},
    status: 'failed',
    startedAt: t(0),
    finishedAt: t(20),
    resumes: [],
    approvals: ['go'],
    waves: [
      {name: 'prepare', startedAt: t(0), finishedAt: t(8)},
      {name: 'launch', startedAt: t(8), finishedAt: t(14)},
      {name: 'traffic', startedAt: t(14), finishedAt: t(20)},
    ],
    steps: {
      'copy-ami': step('copy-ami', 'ami.copy', 0, 'succeeded', 0, 8),
      restore: step('restore', 'backup.restore', 0, 'succeeded', 0, 6, {dataAgeSeconds: 2400}),
      'drill-only': step('drill-only', 'script', 0, 'skipped'),
      app: step('app', 'ec2.launch', 1, 'succeeded', 8, 14),
      dns: step('dns', 'route53.weights', 2, 'succeeded', 14, 16),
      smoke: step('smoke', 'http.check', 2, 'succeeded', 16, 17),
      extra: step('extra', 'ec2.launch', 2, 'failed', 14, 20),
    },
  }
}

describe('dr report', () => {
  it('JSON: RTO to the first health gate after the DNS shift, RPO from dataAgeSeconds, against the targets', () => {
    const r = buildReport(journal())
    expect(r.rto).to.deep.include({achievedSeconds: 17 * 60, targetSeconds: 1800, met: true, gateStep: 'smoke', dnsStep: 'dns'})
    expect(r.rpo).to.deep.include({achievedSeconds: 2400, targetSeconds: 3600, met: true, sourceStep: 'restore'})
    expect(r.waves.map((w) => w.steps.map((s) => s.id))).to.deep.equal([['copy-ami', 'restore', 'drill-only'], ['app'], ['dns', 'smoke', 'extra']])
    expect(r.waves[0].steps[0].durationSeconds).to.equal(480)
    const tight = buildReport({...journal(), targets: {rtoMs: 10 * 60_000, rpoMs: 1_800_000}})
    expect(tight.rto.met).to.equal(false)
    expect(tight.rpo.met).to.equal(false)
  })

  it('HTML is self-contained: inline SVG bars per step, no external resources', () => {
    const html = reportHtml(buildReport(journal()))
    expect(html).to.contain('<svg')
    expect(html.match(/class="bar bar-/g)).to.have.length(7)
    expect(html).to.not.match(/<(script|link|img)\b/)
    expect(html.replaceAll('xmlns="http://www.w3.org/2000/svg"', '')).to.not.match(/https?:\/\/|\b(src|href)=/)
    expect(html).to.contain('RTO 17m00s')
  })
})

describe('dr report in headless Chromium @integration', function () {
  this.timeout(120_000)
  const chromium = '/usr/bin/chromium'
  before(function () {
    if (!fs.existsSync(chromium)) this.skip()
  })

  it('draws the timeline: bars in the outcome colours inside the timeline area', async () => {
    const dir = tempDir('lifeboat-report-')
    try {
      const file = path.join(dir, 'report.html')
      fs.writeFileSync(file, reportHtml(buildReport(journal())))
      const png = path.join(dir, 'shot.png')
      await run(
        chromium,
        [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
          '--hide-scrollbars',
          `--user-data-dir=${path.join(dir, 'profile')}`,
          `--screenshot=${png}`,
          '--window-size=1200,800',
          `file://${file}`,
        ],
        {timeout: 100_000},
      )
      if (process.env.KEEP_SHOT) fs.copyFileSync(png, process.env.KEEP_SHOT)
      const img = PNG.sync.read(fs.readFileSync(png))
      expect(img.width).to.equal(1200)
      // The page: 24px margin, title and meta line, then the SVG from y≈80 (250px label column, bars to its right);
      // the legend below it (y≈400) has swatches in the same colours, so it stays outside the region.
      const count = (hex: string, x0: number, x1: number, y0: number, y1: number) => {
        const [r, g, b] = [1, 3, 5].map((i) => Number.parseInt(hex.slice(i, i + 2), 16))
        let n = 0
        for (let y = y0; y < y1; y++) {
          for (let x = x0; x < x1; x++) {
            const i = (y * img.width + x) * 4
            if (Math.abs(img.data[i] - r) <= 6 && Math.abs(img.data[i + 1] - g) <= 6 && Math.abs(img.data[i + 2] - b) <= 6) n++
          }
        }
        return n
      }
      const plot = {x0: 24 + 250, x1: 1200, y0: 80, y1: 380}
      const green = count(COLOURS.succeeded, plot.x0, plot.x1, plot.y0, plot.y1)
      const red = count(COLOURS.failed, plot.x0, plot.x1, plot.y0, plot.y1)
      const grey = count(COLOURS.skipped, plot.x0, plot.x1, plot.y0, plot.y1)
      // copy-ami alone spans 8 of 20 minutes of an ~820px plot at 16px height: thousands of pixels.
      expect(green, 'green (succeeded) bar pixels').to.be.greaterThan(5000)
      expect(red, 'red (failed) bar pixels').to.be.greaterThan(2000)
      expect(grey, 'grey (skipped) marker pixels').to.be.greaterThan(20)
      // Nothing of the timeline is drawn in the label column.
      expect(count(COLOURS.succeeded, 0, 24 + 240, plot.y0, plot.y1)).to.equal(0)
    } finally {
      fs.rmSync(dir, {recursive: true, force: true})
    }
  })
})
