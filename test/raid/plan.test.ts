import {runCommand} from '@oclif/test'
import {expect} from 'chai'
import fs from 'node:fs'
import path from 'node:path'

import {btrfsAllocate, parseDiskList, parseSize, planArray, ureProbability} from '../../src/raid/plan.js'
import {ROOT} from '../helpers/env.js'
import {FIXTURES} from './fake-root.js'

const T = 1e12
const GiB = 2 ** 30
const disks = (s: string) => parseDiskList(s)
const plan = (engine: 'md' | 'btrfs', level: string, s: string, o: {ure?: number; rebuildMBps?: number; afr?: number} = {}) =>
  planArray({engine, level: level as never, disks: disks(s), ...o})

describe('raid plan: sizes', () => {
  it('reads decimal sizes as disks are sold, binary with iB, and NxSIZE repeats', () => {
    expect(parseSize('4T')).to.equal(4e12)
    expect(parseSize('4TB')).to.equal(4e12)
    expect(parseSize('3.5T')).to.equal(3.5e12)
    expect(parseSize('500G')).to.equal(500e9)
    expect(parseSize('4TiB')).to.equal(4 * 2 ** 40)
    expect(parseSize('1024')).to.equal(1024)
    expect(disks('3x4T,2T').map((d) => d.sizeBytes)).to.deep.equal([4e12, 4e12, 4e12, 2e12])
    for (const bad of ['4X', 'T4', '', '-1T', '0']) {
      const err = (() => {
        try {
          parseSize(bad)
        } catch (error) {
          return error as {exitCode: number; message: string}
        }
      })()
      expect(err, bad).to.not.equal(undefined)
      expect(err!.exitCode).to.equal(2)
    }
  })
})

describe('raid plan: md capacity (min-size rule)', () => {
  it('RAID5 on 3×4T + 2T: every member counts as the smallest, one of them is parity', () => {
    // md cuts every member to the smallest (2T); RAID5 keeps n−1 of them for data: (4−1) × 2T = 6T.
    // Unused: each 4T disk wastes 4T − 2T = 2T → 3 × 2T = 6T.
    const p = plan('md', '5', '4T,4T,4T,2T')
    expect(p.usableBytes).to.equal(6 * T)
    expect(p.wastedBytes).to.equal(6 * T)
    expect(p.disks.map((d) => d.unusedBytes)).to.deep.equal([2 * T, 2 * T, 2 * T, 0])
    expect(p.failures.guaranteed).to.equal(1)
    expect(p.warnings.map((w) => w.code)).to.include.members(['MIXED_SIZES_WASTE', 'SINGLE_PARITY_LARGE_DISKS'])
  })

  it('RAID6, RAID1, RAID4 and RAID10 follow (n−2)·min, min, (n−1)·min, n·min/2', () => {
    expect(plan('md', '6', '4T,4T,4T,2T').usableBytes).to.equal(2 * 2 * T) // (4−2) × 2T
    expect(plan('md', '6', '4T,4T,4T,2T').failures.guaranteed).to.equal(2)
    const r1 = plan('md', '1', '4T,4T,2T') // a 3-way mirror is as large as its smallest disk
    expect(r1.usableBytes).to.equal(2 * T)
    expect(r1.failures.guaranteed).to.equal(2)
    expect(plan('md', '4', '3x3T').usableBytes).to.equal(6 * T) // (3−1) × 3T
    expect(plan('md', '10', '4x4T').usableBytes).to.equal(8 * T) // 4 × 4T / 2
    expect(plan('md', '10', '3x4T').usableBytes).to.equal(6 * T) // near=2 on 3 disks: 3 × 4T / 2
  })

  it('RAID0 uses every byte of mixed sizes (md stripes zones), and survives nothing', () => {
    const p = plan('md', '0', '4T,2T')
    expect(p.usableBytes).to.equal(6 * T)
    expect(p.wastedBytes).to.equal(0)
    expect(p.failures.guaranteed).to.equal(0)
    expect(p.rebuild).to.equal(undefined)
    expect(p.warnings.map((w) => w.code)).to.deep.equal(['NO_REDUNDANCY'])
  })

  it('nested 1+0 mirrors pairs in the order given; 0+1 mirrors two stripes', () => {
    // 1+0 pairs (4T,4T) and (2T,2T): 4T + 2T = 6T. Given as 4T,2T,4T,2T the pairs are (4T,2T),(4T,2T): 2T + 2T.
    expect(plan('md', '1+0', '4T,4T,2T,2T').usableBytes).to.equal(6 * T)
    expect(plan('md', '1+0', '4T,2T,4T,2T').usableBytes).to.equal(4 * T)
    // 0+1: stripes (4T+4T) and (2T+2T) = 8T and 4T; the mirror is as large as the smaller: 4T.
    expect(plan('md', '0+1', '4T,4T,2T,2T').usableBytes).to.equal(4 * T)
    expect(plan('md', '0+1', '4T,2T,4T,2T').usableBytes).to.equal(6 * T) // stripes 6T and 6T
  })

  it('second-failure odds: RAID10/1+0 (n−2)/(n−1) against 0+1 (n/2−1)/(n−1)', () => {
    // 4 disks: after one failure 3 remain; RAID10 dies only if the partner fails (1 of 3) → survives 2/3.
    // 0+1: the first failure takes its whole stripe down; a second survives only in that same stripe (1 of 3).
    expect(plan('md', '10', '4x4T').failures.secondFailureSurvival).to.be.closeTo(2 / 3, 1e-12)
    expect(plan('md', '1+0', '4x4T').failures.secondFailureSurvival).to.be.closeTo(2 / 3, 1e-12)
    expect(plan('md', '0+1', '4x4T').failures.secondFailureSurvival).to.be.closeTo(1 / 3, 1e-12)
    // 6 disks: RAID10 4/5, 0+1 (3−1)/5 = 2/5.
    expect(plan('md', '10', '6x4T').failures.secondFailureSurvival).to.be.closeTo(4 / 5, 1e-12)
    expect(plan('md', '0+1', '6x4T').failures.secondFailureSurvival).to.be.closeTo(2 / 5, 1e-12)
    expect(plan('md', '10', '6x4T').failures.maximum).to.equal(3)
    expect(plan('md', '10', '4x4T').failures.groups).to.deep.equal([['d1', 'd2'], ['d3', 'd4']])
    expect(plan('md', '0+1', '4x4T').warnings.map((w) => w.code)).to.include('PREFER_1_0')
  })

  it('rejects levels an engine does not have and too few disks, naming the flag', () => {
    const err = (f: () => unknown) => {
      try {
        f()
      } catch (error) {
        return error as {exitCode: number; message: string; where?: string}
      }
      throw new Error('no error')
    }
    expect(err(() => plan('btrfs', '4', '3x4T')).where).to.equal('--level')
    expect(err(() => plan('md', '1c3', '3x4T')).message).to.contain('not available with the md engine')
    expect(err(() => plan('md', '6', '3x4T')).message).to.contain('at least 4 disks')
    expect(err(() => plan('md', '1+0', '5x4T')).message).to.contain('even number')
    expect(err(() => plan('btrfs', '1c4', '3x4T')).exitCode).to.equal(2)
  })
})

describe('raid plan: btrfs allocator', () => {
  it('raid1 on 1G,2G,3G (binary): the two emptiest-first pairs use all 6 GiB → 3 GiB', () => {
    // Closed form for raid1: min(total/2, total − largest) = min(3, 3) GiB.
    expect(btrfsAllocate('1', [1, 2, 3].map((g) => g * GiB)).usableBytes).to.equal(3 * GiB)
    // 1T,1T,4T: the 4T disk can only pair with the other two → 2T usable, 2T of the 4T unused.
    const p = plan('btrfs', '1', '1T,1T,4T')
    expect(p.usableBytes).to.be.closeTo(2 * T, GiB)
    expect(p.disks[2].unusedBytes).to.be.closeTo(2 * T, 2 * GiB)
  })

  it('matches what btrfs itself estimated for raid1 on 1G/2G/3G loop devices (lab fixture H)', () => {
    // After mkfs, `btrfs filesystem usage -b` showed per-device unallocated bytes and "Free (estimated)":
    // free = unused part of the data chunks + what raid1 chunks can still be allocated from the unallocated space.
    const log = fs.readFileSync(path.join(FIXTURES, 'btrfs', 'lab2.log'), 'utf8')
    const h = log.slice(log.indexOf('H: RAID1 mixed sizes'))
    const section = h.slice(h.indexOf('Unallocated:'), h.indexOf('[rc=', h.indexOf('Unallocated:')))
    const unallocated = [...section.matchAll(/\/dev\/loop\d+\s+(\d+)/g)].map((m) => Number(m[1]))
    expect(unallocated).to.have.length(3)
    const dataSize = Number(/Data,RAID1: Size:(\d+), Used:(\d+)/.exec(h)![1])
    const dataUsed = Number(/Data,RAID1: Size:(\d+), Used:(\d+)/.exec(h)![2])
    const estimated = Number(/Free \(estimated\):\s+(\d+)/.exec(h)![1])
    expect(btrfsAllocate('1', unallocated).usableBytes + dataSize - dataUsed).to.equal(estimated) // 2944401408
  })

  it('raid5 and raid6 keep using the larger disks when the small one is full', () => {
    // raid5 4T,4T,2T: 3-device stripes until the 2T disk is full: 2T × (3−1) = 4T; then 2-device stripes on the
    // two 4T disks' last 2T: 2T × (2−1) = 2T. Total 6T (md RAID5 on the same disks: (3−1) × 2T = 4T).
    expect(plan('btrfs', '5', '4T,4T,2T').usableBytes).to.be.closeTo(6 * T, 2 * GiB)
    expect(plan('md', '5', '4T,4T,2T').usableBytes).to.equal(4 * T)
    // raid6 4T,4T,4T,2T: 4-device stripes over 2T: 2T × (4−2) = 4T; then 3 devices × 2T: 2T × (3−2) = 2T. Total 6T.
    expect(plan('btrfs', '6', '4T,4T,4T,2T').usableBytes).to.be.closeTo(6 * T, 2 * GiB)
    expect(plan('btrfs', '5', '4T,4T,2T').warnings.map((w) => w.code)).to.include('BTRFS_RAID56')
  })

  it('raid1c3, raid1c4, raid10 and raid0 on equal and mixed disks', () => {
    expect(plan('btrfs', '1c3', '4T,4T,4T,2T').usableBytes).to.be.closeTo((14 * T) / 3, 3 * GiB) // total/3 (largest ≤ total/3)
    expect(plan('btrfs', '1c3', '4T,4T,4T,2T').failures.guaranteed).to.equal(2)
    expect(plan('btrfs', '1c4', '4x2T').usableBytes).to.be.closeTo(2 * T, GiB)
    expect(plan('btrfs', '1c4', '4x2T').failures.guaranteed).to.equal(3)
    // raid10 on 5 × 4T: each chunk takes the 4 emptiest disks (rounded to pairs), rotating → 20T/2 = 10T.
    expect(plan('btrfs', '10', '5x4T').usableBytes).to.be.closeTo(10 * T, 4 * GiB)
    // btrfs RAID10 has no fixed pairs: a second failure is treated as fatal.
    expect(plan('btrfs', '10', '4x4T').failures.secondFailureSurvival).to.equal(0)
    expect(plan('btrfs', '0', '4T,2T').usableBytes).to.be.closeTo(6 * T, GiB)
  })

  it('large arrays are simulated with larger stripes (under ~100 000 chunks), still to within a stripe per disk', () => {
    // 60 × 20T = 1.2 PB raw; 1.2e15 / 100 000 = 1.2e10 → 16 GiB stripes. raid1 = total/2 = 600T.
    const p = plan('btrfs', '1', '60x20T')
    expect(p.notes.join()).to.contain('16 GiB stripes')
    expect(p.usableBytes).to.be.closeTo(600 * T, 60 * 16 * GiB)
    expect(plan('btrfs', '1c3', '60x20T').usableBytes).to.be.closeTo(400 * T, 60 * 16 * GiB)
  })
})

describe('raid plan: rebuild, read errors, MTTDL', () => {
  it('URE probability during an md RAID5 rebuild reads every surviving disk', () => {
    // 4 × 4T RAID5: rebuild reads 3 × 4T = 12e12 bytes = 9.6e13 bits. With 1 URE per 1e14 bits:
    // P = 1 − (1 − 1e−14)^9.6e13 ≈ 1 − e^−0.96 = 0.6171.
    const p = plan('md', '5', '4x4T')
    expect(p.rebuild!.readBytes).to.equal(12 * T)
    expect(p.rebuild!.ureProbability).to.be.closeTo(1 - Math.exp(-0.96), 1e-6)
    expect(p.rebuild!.ureIsFatal).to.equal(true)
    // Enterprise disks (1e15): 1 − e^−0.096 = 0.0915.
    expect(plan('md', '5', '4x4T', {ure: 1e15}).rebuild!.ureProbability).to.be.closeTo(1 - Math.exp(-0.096), 1e-6)
    // A mirror rebuild reads one disk: 4T = 3.2e13 bits → 1 − e^−0.32.
    expect(plan('md', '1', '2x4T').rebuild!.ureProbability).to.be.closeTo(1 - Math.exp(-0.32), 1e-6)
    // RAID6 repairs a single URE with the second parity while one disk is missing.
    expect(plan('md', '6', '4x4T').rebuild!.ureIsFatal).to.equal(false)
    expect(ureProbability(0, 1e14)).to.equal(0)
  })

  it('rebuild time is the member size over --rebuild-mbps', () => {
    // 4T / (100 MB/s) = 4e12 / 1e8 = 40 000 s; at 150 MB/s 26 667 s.
    expect(plan('md', '5', '4x4T').rebuild!.rebuildSeconds).to.equal(40_000)
    expect(plan('md', '5', '4x4T', {rebuildMBps: 150}).rebuild!.rebuildSeconds).to.be.closeTo(26_666.67, 0.01)
    // Mixed sizes: an md member is only the smallest size (2T) → 20 000 s.
    expect(plan('md', '5', '4T,4T,4T,2T').rebuild!.rebuildSeconds).to.equal(20_000)
  })

  it('MTTDL from AFR and rebuild time (RAID5, RAID10, RAID6, RAID0)', () => {
    const hoursPerYear = 8766
    const mttf = hoursPerYear / 0.02 // 438 300 h for AFR 2 %
    const mttr = 40_000 / 3600 // 4T at 100 MB/s = 11.11 h
    const lambda = 1 / mttf
    // RAID5, n = 4: MTTF² / (n(n−1)·MTTR).
    const r5 = plan('md', '5', '4x4T')
    expect(r5.reliability.mttdlYears).to.be.closeTo(mttf ** 2 / (4 * 3 * mttr) / hoursPerYear, 1)
    // With a fatal URE (u) during the rebuild: 1 / (nλ · (u + (1−u)(n−1)λ·MTTR)).
    const u = 1 - Math.exp(-0.96)
    const withUre = 1 / (4 * lambda * (u + (1 - u) * 3 * lambda * mttr)) / hoursPerYear
    expect(r5.reliability.mttdlWithUreYears).to.be.closeTo(withUre, 0.01) // ≈ 20.3 years
    expect(r5.reliability.lossProbability5y).to.be.closeTo(1 - Math.exp(-5 / withUre), 1e-9)
    // RAID10, n = 4: only the partner (1 of n−1) is fatal → MTTF² / (n(n−1)·MTTR·1/(n−1)) = MTTF² / (n·MTTR).
    expect(plan('md', '10', '4x4T').reliability.mttdlYears).to.be.closeTo(mttf ** 2 / (4 * mttr) / hoursPerYear, 1)
    // 0+1 n = 4: fatal fraction (n/2)/(n−1) = 2/3 → MTTF² / (4·3·MTTR·2/3).
    expect(plan('md', '0+1', '4x4T').reliability.mttdlYears).to.be.closeTo(mttf ** 2 / (4 * 3 * mttr * (2 / 3)) / hoursPerYear, 1)
    // RAID6, n = 4: MTTF³ / (n(n−1)(n−2)·MTTR²); no URE term.
    const r6 = plan('md', '6', '4x4T')
    expect(r6.reliability.mttdlYears).to.be.closeTo(mttf ** 3 / (4 * 3 * 2 * mttr ** 2) / hoursPerYear, r6.reliability.mttdlYears * 1e-9)
    expect(r6.reliability.mttdlWithUreYears).to.equal(r6.reliability.mttdlYears)
    // RAID0, n = 2: the first failure loses everything: MTTF / n = 25 years.
    expect(plan('md', '0', '2x4T').reliability.mttdlYears).to.be.closeTo(25, 1e-9)
  })

  it('rejects nonsense rates', () => {
    expect(() => plan('md', '5', '3x4T', {afr: 2})).to.throw(/--afr/)
    expect(() => plan('md', '5', '3x4T', {rebuildMBps: 0})).to.throw(/--rebuild-mbps/)
    expect(() => plan('md', '5', '3x4T', {ure: 0.5})).to.throw(/--ure/)
  })

  it('warns about USB-only arrays and undersized spares', () => {
    const p = planArray({
      engine: 'md',
      level: '1',
      disks: [
        {name: '/dev/sda', sizeBytes: 4e12, usb: true},
        {name: '/dev/sdb', sizeBytes: 4e12, usb: true},
      ],
      spares: [{name: '/dev/sdc', sizeBytes: 2e12}],
    })
    expect(p.warnings.map((w) => w.code)).to.deep.equal(['USB_ONLY', 'SPARE_TOO_SMALL'])
    const b = planArray({engine: 'btrfs', level: '1', disks: disks('2x4T'), spares: disks('4T')})
    expect(b.warnings.map((w) => w.code)).to.deep.equal(['SPARES_UNSUPPORTED'])
  })
})

describe('raid plan: command', () => {
  it('--json gives the plan in the envelope; the human table says the units are decimal', async () => {
    const j = await runCommand(['raid', 'plan', '--level', '5', '--disks', '4T,4T,4T,2T', '--json'], {root: ROOT})
    expect(j.error).to.equal(undefined)
    const env = JSON.parse(j.stdout)
    expect(env.ok).to.equal(true)
    expect(env.result.usableBytes).to.equal(6e12)
    expect(env.result.engine).to.equal('md')
    expect(env.result.assumptions).to.deep.include({ure: 1e14, rebuildMBps: 100, afr: 0.02})
    expect(env.warnings.join('\n')).to.contain('single parity')
    const h = await runCommand(['raid', 'plan', '--level', '1', '--engine', 'btrfs', '--disks', '1T,2T,3T', '--ure', '1e15'], {root: ROOT})
    expect(h.stdout).to.match(/usable capacity\s+3 TB/)
    expect(h.stdout).to.contain('decimal (1 TB = 10^12 bytes, as disks are sold)')
    const bad = await runCommand(['raid', 'plan', '--level', '5', '--json'], {root: ROOT})
    expect(JSON.parse(bad.stdout).error.message).to.contain('--disks')
    expect(bad.error?.oclif?.exit).to.equal(2)
  })
})
