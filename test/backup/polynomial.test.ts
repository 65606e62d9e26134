import {expect} from 'chai'
import {
  degree,
  isIrreducible,
  parsePolynomial,
  polyGcd,
  polyMod,
  polyMul,
  polyMulMod,
  polynomialToHex,
  randomPolynomial,
} from '../../src/backup/polynomial.js'
import {makeResticRepo, resticAvailable} from './fixtures/restic-cli.js'

describe('GF(2) polynomials', () => {
  it('multiplies, reduces and takes gcds without carries', () => {
    expect(polyMul(0b11n, 0b11n)).to.equal(0b101n) // (x+1)^2 = x^2+1
    expect(polyMod(0b101n, 0b11n)).to.equal(0n)
    expect(polyMulMod(0b110n, 0b111n, 0b1011n)).to.equal(polyMod(polyMul(0b110n, 0b111n), 0b1011n))
    expect(polyGcd(polyMul(0b111n, 0b11n), polyMul(0b111n, 0b1011n))).to.equal(0b111n)
    expect(degree(0x3da3358b4dc173n)).to.equal(53)
  })

  it('recognises irreducible polynomials (Ben-Or)', () => {
    expect(isIrreducible(0x3da3358b4dc173n)).to.equal(true) // restic/chunker's test polynomial
    expect(isIrreducible(0b111n)).to.equal(true) // x^2+x+1
    expect(isIrreducible(0b1011n)).to.equal(true) // x^3+x+1
    expect(isIrreducible(0b101n)).to.equal(false) // (x+1)^2
    expect(isIrreducible(polyMul(0b111n, 0b1011n))).to.equal(false)
    expect(isIrreducible(0x3da3358b4dc173n ^ 1n)).to.equal(false) // divisible by x
  })

  it('makes random irreducible polynomials of degree 53', () => {
    const seen = new Set<bigint>()
    for (let i = 0; i < 3; i++) {
      const p = randomPolynomial()
      expect(degree(p)).to.equal(53)
      expect(isIrreducible(p)).to.equal(true)
      seen.add(p)
    }
    expect(seen.size).to.equal(3)
  })

  it('writes and parses restic config hex', () => {
    expect(polynomialToHex(0x3da3358b4dc173n)).to.equal('3da3358b4dc173')
    expect(parsePolynomial('3da3358b4dc173')).to.equal(0x3da3358b4dc173n)
    expect(parsePolynomial('0x3DA3358B4DC173')).to.equal(0x3da3358b4dc173n)
    expect(() => parsePolynomial('xyz')).to.throw(/invalid chunker polynomial/)
    expect(() => parsePolynomial('1'.repeat(17))).to.throw(/invalid chunker polynomial/)
  })
})

describe('GF(2) polynomials vs restic 0.14 @integration', function () {
  this.timeout(60_000)
  before(async function () {
    if (!(await resticAvailable())) this.skip()
  })

  it('reads the polynomial of a restic repository: degree 53, irreducible, same hex back', async () => {
    const r = await makeResticRepo()
    try {
      const hex = (JSON.parse(await r.restic(['cat', 'config'])) as {chunker_polynomial: string}).chunker_polynomial
      const p = parsePolynomial(hex)
      expect(degree(p)).to.equal(53)
      expect(isIrreducible(p)).to.equal(true)
      expect(polynomialToHex(p)).to.equal(hex)
    } finally {
      const {rm} = await import('node:fs/promises')
      await rm(r.dir, {recursive: true, force: true})
    }
  })
})
