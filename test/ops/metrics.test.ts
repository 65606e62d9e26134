import {expect} from 'chai'
import fs from 'node:fs'
import path from 'node:path'

import {mergeExposition, parseLabels, sample, writeMetrics} from '../../src/ops/metrics.js'
import {tempDir} from '../helpers/env.js'

interface Parsed {
  help: Map<string, string>
  type: Map<string, string>
  samples: Array<{name: string; labels: Record<string, string>; value: number}>
}

/** A strict reader of the text exposition format: fails on anything node_exporter's textfile collector would reject. */
function parseStrict(text: string): Parsed {
  const out: Parsed = {help: new Map(), type: new Map(), samples: []}
  const seen = new Set<string>()
  expect(text.endsWith('\n'), 'ends with a newline').to.equal(true)
  for (const line of text.slice(0, -1).split('\n')) {
    let m = /^# HELP ([a-zA-Z_:][\w:]*) (.+)$/.exec(line)
    if (m) {
      expect(out.help.has(m[1]), `one HELP for ${m[1]}`).to.equal(false)
      out.help.set(m[1], m[2])
      continue
    }
    m = /^# TYPE ([a-zA-Z_:][\w:]*) (gauge|counter|untyped|histogram|summary)$/.exec(line)
    if (m) {
      expect(out.type.has(m[1]), `one TYPE for ${m[1]}`).to.equal(false)
      expect(out.samples.some((s) => s.name === m![1]), `TYPE of ${m[1]} before its samples`).to.equal(false)
      out.type.set(m[1], m[2])
      continue
    }
    m = /^([a-zA-Z_:][\w:]*)(?:\{((?:[a-zA-Z_]\w*="(?:[^"\\]|\\.)*",?)*)\})? (-?\d+(?:\.\d+)?(?:e[+-]?\d+)?|NaN|[+-]Inf)$/.exec(line)
    expect(m, `a valid sample line: ${line}`).not.to.equal(null)
    const key = `${m![1]}{${m![2] ?? ''}}`
    expect(seen.has(key), `series ${key} once`).to.equal(false)
    seen.add(key)
    out.samples.push({name: m![1], labels: parseLabels(`{${m![2] ?? ''}}`), value: Number(m![3])})
  }
  for (const s of out.samples) expect(out.type.has(s.name), `TYPE for ${s.name}`).to.equal(true)
  return out
}

describe('ops/metrics: Prometheus textfile format', () => {
  let dir: string
  beforeEach(() => (dir = tempDir('lb-metrics-')))
  afterEach(() => fs.rmSync(dir, {recursive: true, force: true}))

  it('writes HELP/TYPE and samples with labels, atomically (no temp or lock file left)', async () => {
    const file = path.join(dir, 'lifeboat.prom')
    await writeMetrics(file, [
      sample('lifeboat_job_duration_seconds', {job: 'backup', name: 'nightly', repository: '/mnt/usb/repo'}, 12.5),
      sample('lifeboat_job_success', {job: 'backup', name: 'nightly', repository: '/mnt/usb/repo'}, 1),
      sample('lifeboat_array_degraded', {array: 'md0'}, 1),
    ])
    const p = parseStrict(fs.readFileSync(file, 'utf8'))
    expect(p.type.get('lifeboat_job_duration_seconds')).to.equal('gauge')
    expect(p.help.get('lifeboat_array_degraded')).to.match(/degraded/)
    expect(p.samples).to.deep.include({name: 'lifeboat_job_duration_seconds', labels: {job: 'backup', name: 'nightly', repository: '/mnt/usb/repo'}, value: 12.5})
    expect(p.samples).to.deep.include({name: 'lifeboat_array_degraded', labels: {array: 'md0'}, value: 1})
    expect(fs.readdirSync(dir)).to.deep.equal(['lifeboat.prom'])
  })

  it('merges with other jobs\' series and foreign families instead of clobbering them', async () => {
    const file = path.join(dir, 'm.prom')
    fs.writeFileSync(file, '# HELP other_tool_up Another tool.\n# TYPE other_tool_up gauge\nother_tool_up 1\n')
    await writeMetrics(file, [sample('lifeboat_job_success', {job: 'backup', name: 'backup'}, 1)])
    await writeMetrics(file, [sample('lifeboat_job_success', {job: 'check', name: 'check'}, 0)])
    await writeMetrics(file, [sample('lifeboat_job_success', {job: 'backup', name: 'backup'}, 0)])
    const p = parseStrict(fs.readFileSync(file, 'utf8'))
    const success = p.samples.filter((s) => s.name === 'lifeboat_job_success')
    expect(success).to.have.deep.members([
      {name: 'lifeboat_job_success', labels: {job: 'backup', name: 'backup'}, value: 0},
      {name: 'lifeboat_job_success', labels: {job: 'check', name: 'check'}, value: 0},
    ])
    expect(p.samples).to.deep.include({name: 'other_tool_up', labels: {}, value: 1})
  })

  it('escapes label values (quotes, backslashes, newlines) so they read back unchanged', () => {
    const weird = 'C:\\backups\\"quoted"\nnext'
    const text = mergeExposition('', [sample('lifeboat_snapshot_age_seconds', {repository: weird}, 42)])
    const p = parseStrict(text)
    expect(p.samples[0].labels.repository).to.equal(weird)
    // merging the same series again replaces it (the escaped key matches)
    const again = parseStrict(mergeExposition(text, [sample('lifeboat_snapshot_age_seconds', {repository: weird}, 7)]))
    expect(again.samples).to.have.length(1)
    expect(again.samples[0].value).to.equal(7)
  })
})
