import {expect} from 'chai'

import {progressPrinter} from '../../src/raid/cli-support.js'
import {parseSysfsDump} from '../../src/raid/md/sysfs.js'
import {listRow, renderStatus} from '../../src/raid/status-view.js'
import {md, mdFrom} from './fixtures.js'

describe('status view: list rows, nested arrays, --wait progress lines', () => {
  it('one list row per array: name, engine, level, health, active/expected, size, device, progress', () => {
    expect(listRow(mdFrom('34', '35', parseSysfsDump(md('37'))))).to.deep.equal(['fixture', 'md', 'raid5', 'REBUILDING', '3/4', '189 MiB', '/dev/md0', '-', 'recovery 37.5%'])
    expect(listRow(mdFrom('13', '14'))).to.deep.equal(['fixture', 'md', 'raid5', 'HEALTHY', '4/4', '189 MiB', '/dev/md0', '-', ''])
  })

  it('a nested array renders its children under "built from:"', () => {
    const top = {...mdFrom('66', '68'), children: [mdFrom('71', '74', undefined, 0), mdFrom('71', '73', undefined, 1)]}
    const out = renderStatus(top)
    expect(out).to.match(/^built from:$/m)
    expect(out).to.match(/^ {4} array: md3 \(md raid0, \/dev\/md3\)$/m)
    expect(out).to.match(/^ {4} array: md2 \(md raid10, \/dev\/md2\)$/m)
  })

  it('colours state and roles only through the given function', () => {
    const out = renderStatus(mdFrom('22', '23'), (c, t) => `<${c}>${t}</${c}>`)
    expect(out).to.contain('<yellow>DEGRADED</yellow>')
    expect(out).to.match(/<red>faulty +<\/red>/)
  })

  it('--wait progress: plain lines when the percentage moves, one rewritten line on a TTY', () => {
    const st = mdFrom('34', '35')
    const p = (percent: number) => ({action: 'recovery' as const, percent, speedBytesPerSec: 4 * 2 ** 20, etaSeconds: 100 - percent})
    const plain: string[] = []
    const pp = progressPrinter((s) => plain.push(s), false)
    for (const x of [1.2, 1.4, 2.1, 2.2]) pp(p(x), st)
    pp(undefined, st)
    pp.end()
    expect(plain).to.deep.equal(['fixture: recovery in progress, 1.2% done, 4.00 MiB/s, ETA 1m39s\n', 'fixture: recovery in progress, 2.1% done, 4.00 MiB/s, ETA 1m38s\n'])
    const tty: string[] = []
    const tp = progressPrinter((s) => tty.push(s), true)
    tp(p(1.2), st)
    tp(p(1.2), st)
    tp(p(1.3), st)
    tp.end()
    expect(tty).to.have.length(3)
    expect(tty[0].startsWith('\r\u001B[2K')).to.equal(true)
    expect(tty[2]).to.equal('\n')
  })
})
