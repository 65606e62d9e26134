// Minimal typings for the parts of sodium-native the backup engine uses (the package ships none).
declare module 'sodium-native' {
  /** Poly1305 one-time authenticator: key = r(16, clamped internally) ‖ s(16). */
  export function crypto_onetimeauth(output: Uint8Array, input: Uint8Array, key: Uint8Array): void
  export function crypto_onetimeauth_verify(mac: Uint8Array, input: Uint8Array, key: Uint8Array): boolean
  export const crypto_onetimeauth_BYTES: number
  export const crypto_onetimeauth_KEYBYTES: number
  export function sodium_memzero(buf: Uint8Array): void
}
