/**
 * restic's authenticated encryption: AES-256-CTR + Poly1305-AES.
 *
 * Sealed layout: nonce(16) ‖ ciphertext ‖ mac(16). The nonce is the CTR IV (a full 16-byte counter block);
 * the MAC is Poly1305 over the ciphertext with key (clamp(mac.r), AES-128-ECB(mac.k, nonce)).
 * This is the hot path for every byte backed up: one pass of AES, one pass of Poly1305, one copy.
 */
import {createCipheriv, createDecipheriv, randomBytes, randomFillSync} from 'node:crypto'
import sodium from 'sodium-native'

import {CryptoError, MacMismatchError} from './errors.js'

export const NONCE_SIZE = 16
export const MAC_SIZE = 16
/** Bytes a sealed message has beyond its plaintext. */
export const CRYPTO_OVERHEAD = NONCE_SIZE + MAC_SIZE

export interface MasterKey {
  encrypt: Buffer // 32 bytes, AES-256 key
  macK: Buffer // 16 bytes, AES-128 key for the Poly1305 nonce encryption
  macR: Buffer // 16 bytes, Poly1305 r (kept clamped)
}

/** The JSON form of a master key inside a key file. */
export interface MasterKeyJSON {
  mac: {k: string; r: string}
  encrypt: string
}

/** Clamps a Poly1305 r in place (bytes 3,7,11,15 &= 0x0f; bytes 4,8,12 &= 0xfc) and returns it. */
export function clampR(r: Buffer): Buffer {
  r[3] &= 0x0f
  r[7] &= 0x0f
  r[11] &= 0x0f
  r[15] &= 0x0f
  r[4] &= 0xfc
  r[8] &= 0xfc
  r[12] &= 0xfc
  return r
}

export function newMasterKey(): MasterKey {
  const b = randomBytes(64)
  return {encrypt: b.subarray(0, 32), macK: b.subarray(32, 48), macR: clampR(b.subarray(48, 64))}
}

function checkKey(key: MasterKey): void {
  if (key.encrypt.length !== 32 || key.macK.length !== 16 || key.macR.length !== 16) {
    throw new CryptoError('invalid master key: need a 32-byte encryption key and 16-byte mac k and r')
  }
}

export function masterKeyToJSON(key: MasterKey): MasterKeyJSON {
  return {
    mac: {k: key.macK.toString('base64'), r: clampR(Buffer.from(key.macR)).toString('base64')},
    encrypt: key.encrypt.toString('base64'),
  }
}

export function masterKeyFromJSON(j: unknown): MasterKey {
  const o = j as Partial<MasterKeyJSON> | null
  if (!o || typeof o !== 'object' || typeof o.encrypt !== 'string' || !o.mac || typeof o.mac.k !== 'string' || typeof o.mac.r !== 'string') {
    throw new CryptoError('invalid master key JSON')
  }
  const key = {
    encrypt: Buffer.from(o.encrypt, 'base64'),
    macK: Buffer.from(o.mac.k, 'base64'),
    macR: clampR(Buffer.from(o.mac.r, 'base64')),
  }
  checkKey(key)
  return key
}

/** Builds the 32-byte Poly1305 one-time key r ‖ s with s = AES-128-ECB(k, nonce). */
function polyKey(macK: Buffer, macR: Buffer, nonce: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(32)
  macR.copy(out, 0)
  clampR(out.subarray(0, 16)) // sodium clamps too; doing it here keeps the contract explicit
  const ecb = createCipheriv('aes-128-ecb', macK, null)
  ecb.setAutoPadding(false)
  const s = ecb.update(nonce)
  s.copy(out, 16)
  return out
}

/** Poly1305-AES MAC of msg (exposed for test vectors). */
export function poly1305Aes(msg: Uint8Array, nonce: Uint8Array, macK: Buffer, macR: Buffer): Buffer {
  const mac = Buffer.allocUnsafe(MAC_SIZE)
  sodium.crypto_onetimeauth(mac, msg, polyKey(macK, macR, nonce))
  return mac
}

// Nonces come from a pool of random bytes refilled 4 KiB at a time: one getrandom call per 256 blobs.
const noncePool = Buffer.allocUnsafe(4096)
let noncePos = noncePool.length

function newNonce(into: Buffer): void {
  for (;;) {
    if (noncePos + NONCE_SIZE > noncePool.length) {
      randomFillSync(noncePool)
      noncePos = 0
    }
    noncePool.copy(into, 0, noncePos, noncePos + NONCE_SIZE)
    // Each nonce is used once: overwrite it in the pool.
    noncePool.fill(0, noncePos, noncePos + NONCE_SIZE)
    noncePos += NONCE_SIZE
    for (let i = 0; i < NONCE_SIZE; i++) if (into[i] !== 0) return
  }
}

/** Length of the sealed form of a plaintext of `n` bytes. */
export function sealedLength(n: number): number {
  return n + CRYPTO_OVERHEAD
}

/**
 * Seals plaintext into `out` at `offset` (needs sealedLength(plaintext.length) bytes there).
 * Returns the number of bytes written.
 */
export function sealInto(key: MasterKey, plaintext: Uint8Array, out: Buffer, offset = 0): number {
  const n = plaintext.length
  const total = n + CRYPTO_OVERHEAD
  if (out.length - offset < total) throw new CryptoError('sealInto: output buffer too small')
  const nonce = out.subarray(offset, offset + NONCE_SIZE)
  newNonce(nonce)
  const cipher = createCipheriv('aes-256-ctr', key.encrypt, nonce)
  const ct = out.subarray(offset + NONCE_SIZE, offset + NONCE_SIZE + n)
  if (n > 0) cipher.update(plaintext).copy(ct)
  // CTR mode has no padding: final() returns nothing.
  sodium.crypto_onetimeauth(out.subarray(offset + NONCE_SIZE + n, offset + total), ct, polyKey(key.macK, key.macR, nonce))
  return total
}

/** Encrypts and authenticates plaintext: nonce ‖ ciphertext ‖ MAC. */
export function seal(key: MasterKey, plaintext: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(plaintext.length + CRYPTO_OVERHEAD)
  sealInto(key, plaintext, out, 0)
  return out
}

/** Verifies the MAC of a sealed message without decrypting it. */
export function verify(key: MasterKey, data: Uint8Array): boolean {
  if (data.length < CRYPTO_OVERHEAD) return false
  const nonce = data.subarray(0, NONCE_SIZE)
  const ct = data.subarray(NONCE_SIZE, data.length - MAC_SIZE)
  const mac = data.subarray(data.length - MAC_SIZE)
  return sodium.crypto_onetimeauth_verify(mac, ct, polyKey(key.macK, key.macR, nonce))
}

/** Verifies the MAC first, then decrypts. Throws MacMismatchError when the data or the key is wrong. */
export function open(key: MasterKey, data: Uint8Array): Buffer {
  if (data.length < CRYPTO_OVERHEAD) {
    throw new CryptoError(`ciphertext too short: ${data.length} bytes, need at least ${CRYPTO_OVERHEAD}`)
  }
  if (!verify(key, data)) throw new MacMismatchError()
  const nonce = data.subarray(0, NONCE_SIZE)
  const ct = data.subarray(NONCE_SIZE, data.length - MAC_SIZE)
  if (ct.length === 0) return Buffer.alloc(0)
  const decipher = createDecipheriv('aes-256-ctr', key.encrypt, nonce)
  return decipher.update(ct)
}
