/**
 * Polynomials over GF(2), stored as bigint bit sets (bit i = coefficient of x^i).
 * Used for the chunker's Rabin fingerprint: a repository carries one random irreducible polynomial
 * of degree 53 in its config (`chunker_polynomial`, lowercase hex without 0x).
 */
import {randomBytes} from 'node:crypto'

/** Degree of the chunker polynomials restic creates. */
export const CHUNKER_POLYNOMIAL_DEGREE = 53

/** Degree of p (index of the highest set bit); -1 for the zero polynomial. */
export function degree(p: bigint): number {
  if (p < 0n) throw new RangeError('polynomial must not be negative')
  if (p === 0n) return -1
  return p.toString(2).length - 1
}

/** p mod m over GF(2). */
export function polyMod(p: bigint, m: bigint): bigint {
  if (m === 0n) throw new RangeError('division by the zero polynomial')
  const dm = degree(m)
  let r = p
  for (let dr = degree(r); dr >= dm; dr = degree(r)) {
    r ^= m << BigInt(dr - dm)
  }
  return r
}

/** a·b over GF(2) (carry-less product). */
export function polyMul(a: bigint, b: bigint): bigint {
  let r = 0n
  let x = a
  let y = b
  while (y > 0n) {
    if (y & 1n) r ^= x
    x <<= 1n
    y >>= 1n
  }
  return r
}

/** a·b mod m over GF(2). */
export function polyMulMod(a: bigint, b: bigint, m: bigint): bigint {
  return polyMod(polyMul(a, b), m)
}

/** Greatest common divisor over GF(2). */
export function polyGcd(a: bigint, b: bigint): bigint {
  let x = a
  let y = b
  while (y !== 0n) {
    const r = polyMod(x, y)
    x = y
    y = r
  }
  return x
}

/** (x^(2^k) − x) mod g: x squared k times, plus x (subtraction is addition in GF(2)). */
function frobeniusMinusX(k: number, g: bigint): bigint {
  let r = 2n // the polynomial "x"
  for (let i = 0; i < k; i++) r = polyMulMod(r, r, g)
  return polyMod(r ^ 2n, g)
}

/**
 * Ben-Or's irreducibility test: p of degree d is irreducible iff gcd(p, x^(2^i) − x mod p) = 1
 * for every i in 1..⌊d/2⌋.
 */
export function isIrreducible(p: bigint): boolean {
  const d = degree(p)
  if (d < 1) return false
  for (let i = 1; i <= Math.floor(d / 2); i++) {
    if (polyGcd(p, frobeniusMinusX(i, p)) !== 1n) return false
  }
  return true
}

/**
 * A random irreducible polynomial of degree 53: random 64 bits, cut to degree 53 with the x^53 and
 * constant terms set, retried until Ben-Or's test passes (about 1 in 27 candidates).
 */
export function randomPolynomial(random: (n: number) => Uint8Array = randomBytes): bigint {
  for (let attempt = 0; attempt < 1_000_000; attempt++) {
    const b = random(8)
    let p = Buffer.from(b.buffer, b.byteOffset, 8).readBigUInt64LE(0)
    p &= (1n << BigInt(CHUNKER_POLYNOMIAL_DEGREE + 1)) - 1n
    p |= (1n << BigInt(CHUNKER_POLYNOMIAL_DEGREE)) | 1n
    if (isIrreducible(p)) return p
  }
  throw new Error('no irreducible polynomial found in 1,000,000 attempts (broken random source?)')
}

/** Lowercase hex without 0x and without leading zeros, as in restic's config. */
export function polynomialToHex(p: bigint): string {
  if (p < 0n || p >= 1n << 64n) throw new RangeError('polynomial does not fit in 64 bits')
  return p.toString(16)
}

/** Parses a config's `chunker_polynomial` (hex, optional 0x); rejects anything not a 64-bit value. */
export function parsePolynomial(hex: string): bigint {
  const s = hex.startsWith('0x') || hex.startsWith('0X') ? hex.slice(2) : hex
  if (!/^[0-9a-fA-F]{1,16}$/.test(s)) {
    throw new Error(`invalid chunker polynomial "${hex}": expected up to 16 hex digits`)
  }
  return BigInt('0x' + s)
}
