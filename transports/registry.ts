/**
 * The transports rankflow knows: one registration per transport folder (see
 * Registration.ts). Adding a transport adds one line here.
 */
import { registration as nats } from "./nats/registration.ts"
import type { Registration } from "./Registration.ts"
import { registration as shm } from "./shm/registration.ts"

export const registrations: ReadonlyArray<Registration> = [shm, nats]

/** The registration of `kind`, or undefined. */
export const registrationOf = (kind: string): Registration | undefined => registrations.find((r) => r.kind === kind)

/** The kinds, for messages: `shm, nats`. */
export const kinds = (): string => registrations.map((r) => r.kind).join(", ")
